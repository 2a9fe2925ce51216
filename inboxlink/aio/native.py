"""The async face of an adapter whose client library is itself asynchronous (Graph).

Each call runs the adapter's one synchronous implementation bridged (`inboxlink._bridge`):
in a greenlet on the caller's own event loop, which awaits the client library's coroutines
in the calling task — no worker thread, no second copy of the logic. The per-mailbox cap on
requests in flight is the adapter's own limiter, shared with its synchronous face.

Cancellation: a cancelled read stops where it is (its request is cancelled, its slot freed,
its ``finally`` blocks run). A write — a send, an append, an action, a download to a file —
is never stopped halfway: it finishes (or fails with the same honest outcome as a dropped
connection) before the cancellation is delivered, as on the threaded face.

Works under asyncio. Under any other event loop (trio, through anyio) the calls fall back to
worker threads, as for a synchronous adapter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import sniffio

from inboxlink import _bridge
from inboxlink.aio.threaded import ThreadedAsyncMailbox, ThreadedWatch, _LazyWatch
from inboxlink.changes import ChangeHint
from inboxlink.models import FolderRef, FolderRole

__all__ = ["NativeAsyncMailbox", "NativeWatch"]

log = logging.getLogger("inboxlink.aio")

R = TypeVar("R")


def _on_asyncio() -> bool:
    try:
        return sniffio.current_async_library() == "asyncio"
    except sniffio.AsyncLibraryNotFoundError:
        return False


class NativeWatch(ThreadedWatch):
    """`ThreadedWatch` whose steps run bridged on the caller's loop (its waits are
    ``asyncio.sleep``\\ s there, and cancelling the task ends the watch at once)."""

    async def _step(self) -> ChangeHint | None:
        if not _on_asyncio():
            return await super()._step()
        return await _bridge.run(self._next)


class NativeAsyncMailbox(ThreadedAsyncMailbox):
    """`AsyncMailbox` over a mailbox whose I/O is coroutines (``async_native``), run on the
    caller's loop. Build it with `inboxlink.aio.wrap` or `inboxlink.aio.connect`."""

    async def _run(self, function: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        if not _on_asyncio():
            return await super()._run(function, *args, **kwargs)
        return await _bridge.run(function, *args, **kwargs)

    async def _write(self, function: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        if not _on_asyncio():
            return await super()._write(function, *args, **kwargs)
        task = asyncio.ensure_future(self._run(function, *args, **kwargs))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            await _finish(task, getattr(function, "__name__", "call"))
            raise

    def watch(self, folder: FolderRef = FolderRole.INBOX, *,
              timeout: float | None = None) -> NativeWatch:
        """See `inboxlink.Mailbox.watch`; ``async for`` over it, on this loop."""
        return NativeWatch(_LazyWatch(self.sync, folder, timeout))

    async def aclose(self) -> None:
        """Close the mailbox (this loop's HTTP client natively, the others on their loops)."""
        await self._run(self.sync.close)

    def __repr__(self) -> str:
        return f"<async native {self.sync!r}>"


async def _finish(task: asyncio.Future[Any], what: str) -> None:
    """Let a cancelled caller's write run to its end; say how it ended, since the caller
    will not see it."""
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            continue  # the cancellation is delivered once the write is over
        except Exception:
            break
    if task.cancelled():
        return
    failure = task.exception()
    if failure is None:
        log.info("%s finished after its caller was cancelled", what)
    else:
        log.warning("%s failed after its caller was cancelled: %s", what, failure)
