"""At most N HTTP requests in flight per mailbox, across every thread and mailbox object.

Exchange Online answers a fifth concurrent request for one app and mailbox with 429
``MailboxConcurrency``; once that happens every thread waits out Retry-After, so queueing
here is cheaper than being throttled. All requests run on the one shared loop (`._loop`),
so one limiter per mailbox on that loop sees every request the process makes for it.

Limiters are keyed by ``(Graph origin, mailbox address)``: two ``GraphMailbox`` objects for
the same mailbox share one budget. Each waiter brings its own cap, so a mailbox object
configured with a lower cap never runs while more requests than that are outstanding.
Waiters are served first come, first served, so no thread starves.

A request issued by a task that already holds a slot of the same limiter (a follow-up made
while a streamed response is still open) rides on that slot instead of waiting for a second
one, which under ``cap=1`` would wait forever. (A task spawned inside a slot inherits it
too, so the adapter awaits its requests one after another and never gathers them.)

asyncio objects belong to one loop, so limiters are kept per loop, and a forked child (whose
loop is new, see `._loop`) starts with none.

Across processes and machines the cap holds through a shared `inboxlink.budget.Budget`
(``budget=``): a request that got its local slot also takes one of the budget's slots for
the mailbox. Budgets block, so that wait runs in the loop's thread pool, never on the loop.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import os
import weakref
from collections.abc import AsyncIterator, Callable

__all__ = ["MailboxLimiter", "limiter_for"]

#: limiters whose slot the current task holds (a tuple: contextvars want immutable values)
_HELD: contextvars.ContextVar[tuple[MailboxLimiter, ...]] = contextvars.ContextVar(
    "inboxlink_graph_held_slots", default=())


class MailboxLimiter:
    """A first-come-first-served counting gate whose every waiter states its own cap.

    Only touched from its loop's thread, so no lock: nothing awaits between a check and the
    count it guards.
    """

    def __init__(self) -> None:
        self.in_flight = 0
        self._waiters: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()

    @contextlib.asynccontextmanager
    async def slot(self, cap: int, shared: Callable[[], contextlib.AbstractContextManager[None]]
                   | None = None) -> AsyncIterator[None]:
        """Hold one of ``cap`` slots for the body of the ``async with`` (and, when given,
        a ``shared()`` budget slot as well)."""
        held = _HELD.get()
        if self in held:
            yield
            return
        await self._acquire(cap)
        token = _HELD.set((*held, self))
        try:
            if shared is None:
                yield
            else:
                async with _blocking(shared()):
                    yield
        finally:
            _HELD.reset(token)
            self._release()

    async def _acquire(self, cap: int) -> None:
        if not self._waiters and self.in_flight < cap:
            self.in_flight += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (cap, waiter)
        self._waiters.append(entry)
        try:
            await waiter  # _wake counts the slot as ours before resolving it
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # granted, then cancelled before we could use it
            else:
                self._waiters.remove(entry)
                self._wake()  # we may have been the head blocking the others
            raise

    def _release(self) -> None:
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        # Strict arrival order: a head that cannot start yet (a lower cap) holds the rest.
        while self._waiters:
            cap, waiter = self._waiters[0]
            if waiter.done():
                self._waiters.popleft()
                continue
            if self.in_flight >= cap:
                return
            self._waiters.popleft()
            self.in_flight += 1
            waiter.set_result(None)


@contextlib.asynccontextmanager
async def _blocking(permit: contextlib.AbstractContextManager[None]) -> AsyncIterator[None]:
    """Enter and leave a blocking context manager in the thread pool, off the loop."""
    loop = asyncio.get_running_loop()
    entering = loop.run_in_executor(None, permit.__enter__)
    try:
        await asyncio.shield(entering)
    except asyncio.CancelledError:
        # The thread still gets the permit: give it back as soon as it has.
        def give_back(done: asyncio.Future[None]) -> None:
            if not done.cancelled() and done.exception() is None:
                loop.run_in_executor(None, permit.__exit__, None, None, None)

        entering.add_done_callback(give_back)
        raise
    try:
        yield
    finally:
        await loop.run_in_executor(None, permit.__exit__, None, None, None)


_LIMITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str],
                                                                      MailboxLimiter]]
_LIMITERS = weakref.WeakKeyDictionary()


def limiter_for(origin: str, address: str) -> MailboxLimiter:
    """The running loop's limiter for one mailbox (call on the shared loop)."""
    per_loop = _LIMITERS.setdefault(asyncio.get_running_loop(), {})
    key = (origin.lower(), address.casefold())
    limiter = per_loop.get(key)
    if limiter is None:
        limiter = per_loop[key] = MailboxLimiter()
    return limiter


def _after_fork_in_child() -> None:
    # Requests the parent had in flight never finish here: their counts must not carry over.
    _LIMITERS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
