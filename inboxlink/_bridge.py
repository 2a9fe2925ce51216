"""The one synchronous implementation, driven from a coroutine on the caller's event loop.

An adapter whose client library is asynchronous (msgraph-sdk) keeps its logic — folder
cache, retry budget, deadline, send honesty, error translation — in ordinary synchronous
code, which awaits the library's coroutines at one point (`wait`). `run` executes that
code in a greenlet on the loop's own thread; at `wait` the greenlet hands its coroutine to
the task that started it, which awaits it on the loop and switches back with the result
or the exception (the technique of SQLAlchemy's asyncio extension). So the async face runs
the library natively on the caller's loop, with no thread hop and no second copy of the
logic.

Code that may run bridged must never block its thread, or every task of the loop would
stall: its waits go through `sleep` and `Lock` here, which yield to the loop when
bridged and block as usual otherwise. A cancelled task raises ``CancelledError`` out of
`wait`, through the synchronous code (its ``finally`` blocks run), and out of `run`.

Context variables: the synchronous code runs in a copy of the task's context (it sees what
the task set before `run`; what it sets stays its own), but a coroutine handed to `wait`
runs in the task's context, so it does not see what the synchronous code set since; the
call's retry budget and deadline reach it through `inboxlink.retry.carried`.

greenlet is imported only by `run`: code that never runs bridged never needs it.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["Lock", "active", "run", "sleep", "wait", "wait_event"]

T = TypeVar("T")

#: how often a bridged caller looks again at a lock someone else holds
_LOCK_POLL = 0.005
#: how often a bridged caller looks again at an event set from another thread
_EVENT_POLL = 0.1

#: the greenlet class `run` starts (made on first use, so importing this needs no greenlet)
_bridged: type | None = None


def _greenlet_class() -> type:
    global _bridged
    if _bridged is None:
        import greenlet

        class Bridged(greenlet.greenlet):  # type: ignore[misc]  # greenlet ships no stubs for subclassing
            """A greenlet running synchronous inboxlink code for a task of the loop."""

        _bridged = Bridged
    return _bridged


def active() -> bool:
    """Whether the caller runs bridged (inside `run`), where blocking would stall the loop."""
    module = sys.modules.get("greenlet")
    return module is not None and _bridged is not None and isinstance(module.getcurrent(),
                                                                        _bridged)


def wait(awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` on the loop of the task that `run` the caller (bridged only)."""
    if not active():
        if asyncio.iscoroutine(awaitable):
            awaitable.close()
        raise RuntimeError("inboxlink._bridge.wait() called outside _bridge.run()")
    import greenlet

    result: T = greenlet.getcurrent().parent.switch(awaitable)
    return result


async def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run the synchronous ``fn(*args, **kwargs)`` on this loop's thread; each coroutine it
    `wait`\\ s for is awaited here, by this task, in this task's place."""
    import greenlet

    child = _greenlet_class()(functools.partial(fn, *args, **kwargs), greenlet.getcurrent())
    # The code sees the task's context variables (deadline, retry budget) as a thread would.
    child.gr_context = contextvars.copy_context()
    handed = child.switch()
    while not child.dead:
        try:
            value = await handed
        except BaseException:  # CancelledError included: the code's finally blocks must run
            handed = child.throw(*sys.exc_info())
        else:
            handed = child.switch(value)
    result: T = handed
    return result


def sleep(seconds: float) -> None:
    """``time.sleep``, or ``asyncio.sleep`` awaited on the loop when bridged; a negative
    ``seconds`` is no sleep on both (``time.sleep`` alone would raise ``ValueError``)."""
    seconds = max(0.0, seconds)
    if active():
        wait(asyncio.sleep(seconds))
    else:
        time.sleep(seconds)


def wait_event(event: threading.Event, seconds: float) -> bool:
    """``event.wait(seconds)``; bridged, the loop runs on while waiting (the event is
    looked at every 0.1 s: it may be set from any thread)."""
    if not active():
        return event.wait(seconds)
    end = time.monotonic() + seconds
    while not event.is_set():
        left = end - time.monotonic()
        if left <= 0:
            return False
        wait(asyncio.sleep(min(left, _EVENT_POLL)))
    return True


class Lock:
    """A mutex for state shared by threads and bridged tasks, held across I/O.

    A thread blocks on it as on ``threading.Lock``; a bridged task never blocks the loop's
    thread (the holder may be another task of that very loop, waiting for its I/O): it
    tries again after short ``asyncio.sleep``\\ s until the lock is free.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __enter__(self) -> Lock:
        if not active():
            self._lock.acquire()
            return self
        while not self._lock.acquire(blocking=False):
            wait(asyncio.sleep(_LOCK_POLL))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._lock.release()

    def locked(self) -> bool:
        """Whether someone holds the lock."""
        return self._lock.locked()
