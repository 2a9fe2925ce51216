"""One long-lived asyncio loop in a daemon thread, shared by every Graph mailbox.

msgraph-sdk is asynchronous and keeps loop-bound state (its httpx client), so a fresh
``asyncio.run()`` per call breaks on the second loop. Every coroutine runs here instead;
a synchronous caller blocks on a ``concurrent.futures.Future``. A call made *from* this
loop would wait on itself forever, so it is refused. After ``fork()`` the child gets a new
loop on first use (the parent's thread does not exist in the child).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from inboxlink import errors

__all__ = ["LOOP", "LoopThread"]

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
        future = asyncio.run_coroutine_threadsafe(coro, self.get())
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise errors.OperationTimeout(
                f"Microsoft Graph did not finish within {timeout:g} seconds.", provider="graph",
                remedy="Retry; for very large mailboxes raise timeout= in the settings.",
            ) from None
        except BaseException:
            # KeyboardInterrupt and friends: do not leave the coroutine running unattended.
            future.cancel()
            raise

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        self._loop = None
        self._thread = None


LOOP = LoopThread()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=LOOP._after_fork_in_child)
