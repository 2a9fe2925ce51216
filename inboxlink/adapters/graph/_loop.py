"""Where Graph's coroutines run: the caller's loop (async face) or one shared loop thread.

msgraph-sdk is asynchronous and keeps loop-bound state (its httpx client), so a fresh
``asyncio.run()`` per call breaks on the second loop. `run` awaits a coroutine on the
caller's own loop when the call came through the async face (bridged, see
`inboxlink._bridge`); a synchronous caller's coroutines run on one long-lived loop in a
daemon thread instead, and the caller blocks on a ``concurrent.futures.Future``. A
synchronous call made *from* that loop would wait on itself forever, so it is refused.
After ``fork()`` the child gets a new loop on first use (the parent's thread does not exist
in the child).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import anyio

from inboxlink import _bridge, errors

__all__ = ["LOOP", "LoopThread", "current", "run", "run_on"]

T = TypeVar("T")


class LoopThread:
    """A lazily started event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.generation = 0  #: bumped at every (re)start, so clients know when to rebuild

    def get(self) -> asyncio.AbstractEventLoop:
        """The loop, started on first use (and again in a forked child)."""
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="inboxlink-graph",
                                          daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
                self.generation += 1
            return self._loop

    def in_loop(self) -> bool:
        """Whether the caller runs on this loop's thread."""
        return self._thread is not None and threading.current_thread() is self._thread

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for its result in the calling thread."""
        if self.in_loop():
            coro.close()
            raise errors.ConfigurationError(
                "A synchronous inboxlink Graph call was made from inside inboxlink's own event "
                "loop, where it would wait on itself forever.",
                provider="graph", code="called-from-loop",
                remedy="Call the mailbox from ordinary (non-async) code, or from a coroutine "
                       "through asyncio.to_thread(...), never from a callback running on the "
                       "inboxlink-graph thread.",
            )
        return _result(asyncio.run_coroutine_threadsafe(coro, self.get()), timeout)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        self._loop = None
        self._thread = None


def _result(future: concurrent.futures.Future[T], timeout: float | None) -> T:
    """Wait in this thread for a coroutine running on another thread's loop."""
    try:
        return future.result(timeout)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise _timed_out(timeout) from None
    except BaseException:
        # KeyboardInterrupt and friends: do not leave the coroutine running unattended.
        future.cancel()
        raise


def _timed_out(timeout: float | None) -> errors.OperationTimeout:
    return errors.OperationTimeout(
        f"Microsoft Graph did not finish within {timeout or 0:g} seconds.", provider="graph",
        remedy="Retry; for very large mailboxes raise timeout= in the settings.",
    )


async def _within(awaitable: Any, timeout: float | None) -> Any:
    # A cancel scope, not wait_for: wait_for runs the coroutine in a task of its own, which
    # a repeated cancellation (anyio delivers one per loop turn) can leave unwinding after
    # the caller has moved on, still holding its slot.
    with anyio.move_on_after(timeout):
        return await awaitable
    raise _timed_out(timeout)


def current() -> asyncio.AbstractEventLoop:
    """The loop this call's coroutines run on: the caller's when bridged, else the shared one."""
    return asyncio.get_running_loop() if _bridge.active() else LOOP.get()


def run(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coro`` to its end within ``timeout`` seconds, on `current()`'s loop."""
    if _bridge.active():
        result: T = _bridge.wait(_within(coro, timeout))
        return result
    return LOOP.run(coro, timeout)


def run_on(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T],
           timeout: float | None = None) -> T | None:
    """Run ``coro`` on ``loop`` (a session's, maybe another thread's) and wait for it without
    blocking a bridged caller's loop. ``None`` when that loop no longer runs (or runs in
    this very thread, outside a bridge: then the coroutine is only scheduled)."""
    if _bridge.active() and loop is asyncio.get_running_loop():
        return run(coro, timeout)
    if loop.is_closed() or not loop.is_running():
        coro.close()
        return None
    try:
        here = asyncio.get_running_loop()
    except RuntimeError:
        here = None
    if here is loop:  # a synchronous call on the loop's own thread: waiting would hang it
        loop.create_task(coro)
        return None
    future = asyncio.run_coroutine_threadsafe(coro, loop)
    if _bridge.active():
        result: T = _bridge.wait(_within(asyncio.wrap_future(future), timeout))
        return result
    return _result(future, timeout)


LOOP = LoopThread()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=LOOP._after_fork_in_child)
