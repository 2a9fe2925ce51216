"""The async face of a synchronous mailbox: each call runs in a worker thread.

The event loop never blocks: calls go to threads through a per-mailbox
``anyio.CapacityLimiter`` sized like the adapter's connection budget, so one mailbox never
has more calls in flight than it may have connections. A cancelled call is not abandoned:
its thread finishes (a send completes or fails honestly, its connection slot is released)
and the cancellation is delivered after. ``watch`` runs in a thread of its own, outside the
limiter, and is stopped when the awaiting task is cancelled.
"""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator, Callable, Iterable
from types import TracebackType
from typing import IO, Any, Protocol, TypeVar

import anyio
import anyio.to_thread

from inboxlink.changes import ChangeHint, ChangeSet
from inboxlink.mailbox import Mailbox, MessageRef, OutgoingLike, SentLike
from inboxlink.mailbox_sync import Watch
from inboxlink.models import (
    AttachmentInfo,
    Capability,
    Folder,
    FolderRef,
    FolderRole,
    Message,
    MessageSummary,
    Page,
    SendResult,
)
from inboxlink.query import SearchQuery

__all__ = ["ThreadedAsyncMailbox", "ThreadedWatch"]

R = TypeVar("R")

#: calls in flight per mailbox when the adapter does not say (the seeds' connection limit)
DEFAULT_CONCURRENCY = 4


class _SyncWatch(Protocol):
    """What `ThreadedWatch` steps through: a `Watch`, or one opened on its first step."""

    def __next__(self) -> ChangeHint: ...

    def stop(self) -> None: ...


class ThreadedWatch:
    """An async iterator over a synchronous `Watch`."""

    def __init__(self, watch: _SyncWatch) -> None:
        self._watch = watch

    def __aiter__(self) -> ThreadedWatch:
        return self

    async def __anext__(self) -> ChangeHint:
        try:
            hint = await self._step()
        except anyio.get_cancelled_exc_class():
            self._watch.stop()  # an abandoned thread sees it within a second and ends
            raise
        if hint is None:
            raise StopAsyncIteration
        return hint

    async def _step(self) -> ChangeHint | None:
        return await anyio.to_thread.run_sync(self._next, abandon_on_cancel=True)

    def _next(self) -> ChangeHint | None:
        return next(self._watch, None)

    def stop(self) -> None:
        """End the iteration."""
        self._watch.stop()


class ThreadedAsyncMailbox:
    """`AsyncMailbox` over any synchronous `Mailbox`.

    Args:
        mailbox: the synchronous mailbox (its state is shared: both faces can be used).
        concurrency: calls in flight at once for this mailbox (default: the adapter's
            ``max_connections``/``max_concurrent`` when it has one, else 4).
        inline: run calls directly on the loop (only for in-memory adapters like the fake,
            whose calls never block); ``watch`` still runs in a thread.
    """

    def __init__(self, mailbox: Mailbox, *, concurrency: int | None = None,
                 inline: bool = False) -> None:
        self.sync = mailbox
        size = concurrency or int(getattr(mailbox, "max_connections", 0)
                                  or getattr(mailbox, "max_concurrent", 0)
                                  or DEFAULT_CONCURRENCY)
        self._limiter = anyio.CapacityLimiter(size)
        self._inline = inline

    async def _run(self, function: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        call = functools.partial(function, *args, **kwargs)
        if self._inline:
            return call()
        return await anyio.to_thread.run_sync(call, limiter=self._limiter)

    async def _write(self, function: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        # A thread is never abandoned: a cancelled write finishes there before the
        # cancellation is delivered (the native face has to shield it for the same effect).
        return await self._run(function, *args, **kwargs)

    # ------------------------------------------------------------------ attributes
    @property
    def provider(self) -> str:
        """The adapter's name."""
        return self.sync.provider

    @property
    def address(self) -> str:
        """The mailbox's e-mail address."""
        return self.sync.address

    @property
    def capabilities(self) -> frozenset[Capability]:
        """Optional features the adapter supports."""
        return self.sync.capabilities

    # ------------------------------------------------------------------ reading
    async def folders(self, *, refresh: bool = False) -> list[Folder]:
        """See `inboxlink.Mailbox.folders`."""
        return await self._run(self.sync.folders, refresh=refresh)

    async def folder(self, which: FolderRef) -> Folder:
        """See `inboxlink.Mailbox.folder`."""
        return await self._run(self.sync.folder, which)

    async def list_messages(self, folder: FolderRef = FolderRole.INBOX, *, limit: int = 50,
                            cursor: str | None = None) -> Page[MessageSummary]:
        """See `inboxlink.Mailbox.list_messages`."""
        return await self._run(self.sync.list_messages, folder, limit=limit, cursor=cursor)

    async def iter_messages(self, folder: FolderRef = FolderRole.INBOX, *,
                            page_size: int = 500) -> AsyncIterator[MessageSummary]:
        """Every summary, newest first, one page per call in a thread."""
        cursor: str | None = None
        while True:
            page = await self.list_messages(folder, limit=page_size, cursor=cursor)
            for item in page.items:
                yield item
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def fetch(self, message_id: str) -> Message:
        """See `inboxlink.Mailbox.fetch`."""
        return await self._run(self.sync.fetch, message_id)

    async def fetch_many(self, message_ids: Iterable[str]) -> list[Message]:
        """See `inboxlink.Mailbox.fetch_many`."""
        return await self._run(self.sync.fetch_many, list(message_ids))

    async def fetch_to_file(self, message_id: str,
                            target: str | os.PathLike[str] | IO[bytes]) -> int:
        """See `inboxlink.Mailbox.fetch_to_file`."""
        return await self._write(self.sync.fetch_to_file, message_id, target)

    async def list_attachments(self, message_id: str) -> list[AttachmentInfo]:
        """See `inboxlink.Mailbox.list_attachments`."""
        return await self._run(self.sync.list_attachments, message_id)

    async def save_attachment(self, message_id: str, part: str,
                              target: str | os.PathLike[str] | IO[bytes]) -> int:
        """See `inboxlink.Mailbox.save_attachment`."""
        return await self._write(self.sync.save_attachment, message_id, part, target)

    # ------------------------------------------------------------------ sending
    async def send(self, message: OutgoingLike, *, save_copy: bool = True) -> SendResult:
        """See `inboxlink.Mailbox.send`; a cancelled send still finishes in its thread."""
        return await self._write(self.sync.send, message, save_copy=save_copy)

    async def append_to_sent(self, message: SentLike) -> str | None:
        """See `inboxlink.Mailbox.append_to_sent`."""
        return await self._write(self.sync.append_to_sent, message)

    # ------------------------------------------------------------------ change feed
    async def sync_token(self, folder: FolderRef = FolderRole.INBOX) -> str:
        """See `inboxlink.Mailbox.sync_token`."""
        return await self._run(self.sync.sync_token, folder)

    async def changes(self, folder: FolderRef = FolderRole.INBOX, token: str = "", *,
                      limit: int = 500) -> ChangeSet:
        """See `inboxlink.Mailbox.changes`."""
        return await self._run(self.sync.changes, folder, token, limit=limit)

    def watch(self, folder: FolderRef = FolderRole.INBOX, *,
              timeout: float | None = None) -> ThreadedWatch:
        """See `inboxlink.Mailbox.watch`; ``async for`` over it. Resolving the folder
        happens on the first step, in the watch's thread."""
        return ThreadedWatch(_LazyWatch(self.sync, folder, timeout))

    # ------------------------------------------------------------------ acting and finding
    async def set_read(self, ids: Iterable[str] | str, read: bool = True) -> None:
        """See `inboxlink.Mailbox.set_read`."""
        await self._write(self.sync.set_read, _listed(ids), read)

    async def set_flagged(self, ids: Iterable[str] | str, flagged: bool = True) -> None:
        """See `inboxlink.Mailbox.set_flagged`."""
        await self._write(self.sync.set_flagged, _listed(ids), flagged)

    async def move(self, ids: Iterable[str] | str, folder: FolderRef) -> dict[str, str | None]:
        """See `inboxlink.Mailbox.move`."""
        return await self._write(self.sync.move, _listed(ids), folder)

    async def delete(self, ids: Iterable[str] | str, *, permanent: bool = False) -> None:
        """See `inboxlink.Mailbox.delete`."""
        await self._write(self.sync.delete, _listed(ids), permanent=permanent)

    async def search(self, folder: FolderRef = FolderRole.INBOX,
                     query: SearchQuery | None = None, *, limit: int = 50,
                     cursor: str | None = None) -> Page[MessageSummary]:
        """See `inboxlink.Mailbox.search`."""
        return await self._run(self.sync.search, folder, query, limit=limit, cursor=cursor)

    async def find_replies(self, sent: MessageRef) -> list[MessageSummary]:
        """See `inboxlink.Mailbox.find_replies`."""
        return await self._run(self.sync.find_replies, sent)

    async def thread(self, message: MessageRef) -> list[MessageSummary]:
        """See `inboxlink.Mailbox.thread`."""
        return await self._run(self.sync.thread, message)

    async def verify(self, bcc: str, *, from_: str | None = None,
                     subject: str = "inboxlink connection test") -> SendResult:
        """See `inboxlink.Mailbox.verify`."""
        return await self._write(self.sync.verify, bcc, from_=from_, subject=subject)

    # ------------------------------------------------------------------ lifetime
    async def aclose(self) -> None:
        """Close the synchronous mailbox (in a thread: it may say goodbye to the server)."""
        await anyio.to_thread.run_sync(self.sync.close)

    async def __aenter__(self) -> ThreadedAsyncMailbox:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<async {self.sync!r}>"


def _listed(ids: Iterable[str] | str) -> list[str] | str:
    # Iterables are read on the loop: a generator must not be consumed in another thread.
    return ids if isinstance(ids, str) else list(ids)


class _LazyWatch:
    """Opens the synchronous watch on its first step, inside the watch's own thread."""

    def __init__(self, mailbox: Mailbox, folder: FolderRef, timeout: float | None) -> None:
        self._args = (mailbox, folder, timeout)
        self._watch: Watch | None = None
        self._stopped = False

    def __next__(self) -> ChangeHint:
        if self._watch is None:
            mailbox, folder, timeout = self._args
            self._watch = mailbox.watch(folder, timeout=timeout)
            if self._stopped:
                self._watch.stop()
        return next(self._watch)

    def stop(self) -> None:
        self._stopped = True
        if self._watch is not None:
            self._watch.stop()
