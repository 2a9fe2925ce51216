"""At most N HTTP requests in flight per mailbox, across every thread, loop and mailbox object.

Exchange Online answers a fifth concurrent request for one app and mailbox with 429
``MailboxConcurrency``; once that happens every caller waits out Retry-After, so queueing
here is cheaper than being throttled. Requests run on the shared loop (`._loop`, the
synchronous face) and on the callers' own loops (the async face, `inboxlink._bridge`), so
one limiter per mailbox serves them all: its count is guarded by a thread lock, and a waiter
on any loop is woken on that loop (``call_soon_threadsafe``).

Limiters are keyed by ``(Graph origin, mailbox address)``: two ``GraphMailbox`` objects for
the same mailbox share one budget. Each waiter brings its own cap, so a mailbox object
configured with a lower cap never runs while more requests than that are outstanding.
Waiters are served first come, first served, whatever their loop, so none starves.

A slot granted to a waiter whose loop is closed before its task woke up to take it (a loop
stopped with the task pending, then closed) is taken back at the limiter's next acquire,
release or cancellation; a waiter whose loop is already closed when its turn comes is
passed over.

A request issued by a task that already holds a slot of the same limiter (a follow-up made
while a streamed response is still open) rides on that slot instead of waiting for a second
one, which under ``cap=1`` would wait forever. (A task spawned inside a slot inherits it
too, so the adapter awaits its requests one after another and never gathers them.)

A forked child starts with no limiters: requests the parent had in flight are not its own.

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
import threading
import weakref
from collections.abc import AsyncIterator, Callable

import attrs

__all__ = ["MailboxLimiter", "limiter_for"]

#: limiters whose slot the current task holds (a tuple: contextvars want immutable values)
_HELD: contextvars.ContextVar[tuple[MailboxLimiter, ...]] = contextvars.ContextVar(
    "inboxlink_graph_held_slots", default=())


@attrs.define(eq=False)
class _Waiter:
    cap: int
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]
    granted: bool = False  #: the slot is counted as this waiter's (set under the lock)


class MailboxLimiter:
    """A first-come-first-served counting gate whose every waiter states its own cap.

    Shared by tasks of any loop and thread: the count and the queue change only under
    ``_lock``, and no lock is held across an ``await``.
    """

    def __init__(self) -> None:
        self.in_flight = 0
        self._lock = threading.Lock()
        self._waiters: collections.deque[_Waiter] = collections.deque()
        #: granted, but their task has not woken up to take the slot yet
        self._granted: list[_Waiter] = []

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
        loop = asyncio.get_running_loop()
        with self._lock:
            self._reclaim()
            if not self._waiters and self.in_flight < cap:
                self.in_flight += 1
                return
            waiter = _Waiter(cap, loop, loop.create_future())
            self._waiters.append(waiter)
        try:
            await waiter.future  # _wake counts the slot as ours before resolving it
        except asyncio.CancelledError:
            with self._lock:
                if waiter.granted:
                    self._granted.remove(waiter)
                    self.in_flight -= 1  # granted, then cancelled before we could use it
                else:
                    self._waiters.remove(waiter)
                self._wake()  # we may have been the head blocking the others
            raise
        with self._lock:
            self._granted.remove(waiter)  # taken up: ours until _release

    def _release(self) -> None:
        with self._lock:
            self.in_flight -= 1
            self._wake()

    def _reclaim(self) -> None:
        # Under the lock. A slot granted to a task whose loop was closed before the task
        # woke up would be counted forever: nothing can run there any more to give it back.
        for waiter in [w for w in self._granted if w.loop.is_closed()]:
            self._granted.remove(waiter)
            self.in_flight -= 1

    def _wake(self) -> None:
        # Under the lock. Strict arrival order: a head that cannot start yet (a lower cap)
        # holds the rest.
        self._reclaim()
        while self._waiters:
            head = self._waiters[0]
            if self.in_flight >= head.cap:
                return
            self._waiters.popleft()
            try:
                head.loop.call_soon_threadsafe(_resolve, head.future)
            except RuntimeError:
                continue  # its loop is closed: nobody is waiting there any more
            self.in_flight += 1
            head.granted = True
            self._granted.append(head)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


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


#: one limiter per mailbox while any session uses it
_LIMITERS: weakref.WeakValueDictionary[tuple[str, str], MailboxLimiter]
_LIMITERS = weakref.WeakValueDictionary()
_LIMITERS_LOCK = threading.Lock()


def limiter_for(origin: str, address: str) -> MailboxLimiter:
    """The process's limiter for one mailbox (shared by every loop and thread)."""
    key = (origin.lower(), address.casefold())
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(key)
        if limiter is None:
            limiter = _LIMITERS[key] = MailboxLimiter()
        return limiter


def _after_fork_in_child() -> None:
    # Requests the parent had in flight never finish here: their counts must not carry over
    # (and another thread may have held a lock at the fork).
    global _LIMITERS_LOCK
    _LIMITERS_LOCK = threading.Lock()
    _LIMITERS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
