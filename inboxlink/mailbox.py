"""The `Mailbox` contract and `BaseMailbox`, the optional base for adapters.

``Mailbox`` is what applications type against. ``BaseMailbox`` is for adapter authors: it
declares the few primitives a provider must implement (``_list_folders``, ``_list_page``,
``_fetch_many``, ``_send``, ``_append``, ``close``) and builds every convenience on them,
so each adapter gets the same behaviour for role resolution, paging, retries, Sent copies
and message preparation (Message-ID, header-injection checks).
"""

from __future__ import annotations

import abc
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from email.message import EmailMessage
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, runtime_checkable

from inboxlink import _bridge, errors, mime
from inboxlink import folders as folder_roles
from inboxlink.changes import ChangeSet
from inboxlink.mailbox_actions import ActionMixin, MessageRef
from inboxlink.mailbox_sync import SyncMixin, Watch
from inboxlink.models import (
    AttachmentInfo,
    Capability,
    Folder,
    FolderRef,
    FolderRole,
    Message,
    MessageSummary,
    OutgoingMessage,
    Page,
    SendResult,
)
from inboxlink.query import SearchQuery
from inboxlink.retry import RetryPolicy
from inboxlink.spool import Spool

if TYPE_CHECKING:
    # typing.Self is 3.11+; typing_extensions ships with every type checker, and
    # annotations are never evaluated at run time (``from __future__ import annotations``).
    from typing_extensions import Self

__all__ = ["BaseMailbox", "FolderRef", "Mailbox", "MessageRef", "OutgoingLike", "SentLike"]

log = logging.getLogger("inboxlink")

OutgoingLike = OutgoingMessage | EmailMessage
#: what ``append_to_sent`` takes: wire bytes (in memory or a `Spool`), the `SendResult`
#: of an earlier send, or a message to prepare
SentLike = bytes | Spool | SendResult | EmailMessage | OutgoingMessage
_Self = TypeVar("_Self", bound="BaseMailbox")


@runtime_checkable
class Mailbox(Protocol):
    """One connected mailbox, whatever the provider.

    Every method raises only `inboxlink.errors.InboxLinkError` subclasses.
    """

    # ``provider`` is a read-only property here, not a plain ``provider: str``: a protocol
    # attribute is an instance variable to mypy, and every adapter declares the name once
    # per class (``provider: ClassVar[str] = "imap"``), which only a read-only member
    # accepts. Reading ``mailbox.provider`` is the same either way.
    @property
    def provider(self) -> str:
        """Adapter name: ``"imap"``, ``"ews"``, ``"graph"``, ``"gmail"``, ``"fake"``, or a
        plugin's."""
        ...

    #: the mailbox's e-mail address
    address: str
    #: optional features this adapter supports
    capabilities: frozenset[Capability]

    @classmethod
    def from_url(cls, url: str, /, **options: Any) -> Self:
        """Build a mailbox from a connection URL and keyword options (used by ``connect()``)."""
        ...

    def folders(self, *, refresh: bool = False) -> list[Folder]:
        """All folders, each with its `FolderRole` (if any) and how it was found."""
        ...

    def folder(self, which: FolderRef) -> Folder:
        """One folder, by role (with fallbacks), id, or path; raises ``FolderNotFound``."""
        ...

    def list_messages(
        self, folder: FolderRef = FolderRole.INBOX, *, limit: int = 50, cursor: str | None = None
    ) -> Page[MessageSummary]:
        """One page of summaries, newest first. Pass ``page.next_cursor`` to continue."""
        ...

    def iter_messages(
        self, folder: FolderRef = FolderRole.INBOX, *, page_size: int = 500
    ) -> Iterator[MessageSummary]:
        """Every summary in the folder, newest first, fetched page by page."""
        ...

    def fetch(self, message_id: str) -> Message:
        """The full message (raw bytes, parsed lazily). Never marks it as read."""
        ...

    def fetch_many(self, message_ids: Iterable[str]) -> list[Message]:
        """Several messages in as few round trips as the provider allows, in the order given."""
        ...

    def fetch_to_file(self, message_id: str, target: str | os.PathLike[str] | IO[bytes]) -> int:
        """Write the raw message to a path or binary file; returns the byte count."""
        ...

    def list_attachments(self, message_id: str) -> list[AttachmentInfo]:
        """The message's attachments (name, type, size, ``part`` id), without their content."""
        ...

    def save_attachment(
        self, message_id: str, part: str, target: str | os.PathLike[str] | IO[bytes]
    ) -> int:
        """Write one attachment's decoded content to a path or binary file; returns the
        byte count. ``part`` comes from `list_attachments()`; an unknown one raises
        ``NotFound``."""
        ...

    def send(self, message: OutgoingLike, *, save_copy: bool = True) -> SendResult:
        """Send, then make sure exactly one copy is in Sent (unless ``save_copy=False``)."""
        ...

    def append_to_sent(self, message: SentLike) -> str | None:
        """Store a copy of an already sent message in Sent; returns its id when known."""
        ...

    def sync_token(self, folder: FolderRef = FolderRole.INBOX) -> str:
        """A token for the folder's state now (opaque, JSON-safe): pass it to `changes()`."""
        ...

    def changes(self, folder: FolderRef = FolderRole.INBOX, token: str = "", *,
                limit: int = 500) -> ChangeSet:
        """What was added, updated and removed since ``token`` (raises ``SyncTokenExpired``)."""
        ...

    def watch(self, folder: FolderRef = FolderRole.INBOX, *,
              timeout: float | None = None) -> Watch:
        """Hints soon after anything changes in ``folder``; ends after ``timeout`` or ``stop()``."""
        ...

    def set_read(self, ids: Iterable[str] | str, read: bool = True) -> None:
        """Mark messages read or unread (bulk); unknown ids raise ``MessageNotFound`` after
        the others are done."""
        ...

    def set_flagged(self, ids: Iterable[str] | str, flagged: bool = True) -> None:
        """Flag (star) messages or clear the flag (bulk)."""
        ...

    def move(self, ids: Iterable[str] | str, folder: FolderRef) -> dict[str, str | None]:
        """Move messages into ``folder``; returns old id → new id (``None`` if unknown)."""
        ...

    def delete(self, ids: Iterable[str] | str, *, permanent: bool = False) -> None:
        """Move messages to Trash, or remove them for good with ``permanent=True``."""
        ...

    def search(self, folder: FolderRef = FolderRole.INBOX, query: SearchQuery | None = None, *,
               limit: int = 50, cursor: str | None = None) -> Page[MessageSummary]:
        """Messages matching every field of ``query``, newest first, paged like listings."""
        ...

    def find_replies(self, sent: MessageRef) -> list[MessageSummary]:
        """Replies to a sent message, matched by Message-ID (never by subject), newest first."""
        ...

    def thread(self, message: MessageRef) -> list[MessageSummary]:
        """The conversation ``message`` belongs to, across folders, oldest first."""
        ...

    def verify(self, bcc: str, *, from_: str | None = None,
               subject: str = "inboxlink connection test") -> SendResult:
        """Check the mailbox works end to end, as connection set-up flows do: folders and
        the inbox can be read, then a test message is sent to ``bcc`` (hidden) from
        ``from_`` (the mailbox address by default), no Sent copy kept. Raises the typed
        error of the first step that fails (``SendAsDenied`` when the account may not send
        as ``from_``)."""
        ...

    def close(self) -> None:
        """Release connections. Safe to call twice; a closed mailbox raises
        ``ConnectionLost`` (``retryable=False``) when used: connect again."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class BaseMailbox(SyncMixin, ActionMixin, abc.ABC):
    """Optional base class for adapters: implement the primitives, inherit the rest.

    Args:
        address: the mailbox's e-mail address.
        sent_folder: a folder id or path to use as Sent, overriding detection.
        role_overrides: more explicit roles, ``{FolderRole.ARCHIVE: "Old mail"}``.
        retry: the policy for reads (listing, fetching); ``None`` for the default.
    """

    provider: ClassVar[str] = "base"
    capabilities: frozenset[Capability] = frozenset({Capability.SEND, Capability.APPEND_TO_SENT})
    #: the largest page ``_list_page`` is asked for
    max_page_size: ClassVar[int] = 1000
    #: the adapter's I/O is coroutines awaited at one point, never blocking calls, so its
    #: async face runs on the caller's loop (`inboxlink.aio.native`), not in threads
    async_native: ClassVar[bool] = False

    def __init__(
        self,
        *,
        address: str,
        sent_folder: str | None = None,
        role_overrides: Mapping[FolderRole, str] | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.address = address
        overrides = dict(role_overrides or {})
        if sent_folder:
            overrides[FolderRole.SENT] = sent_folder
        self._role_overrides = overrides
        self._retry = retry or RetryPolicy()
        self._folders_cache: list[Folder] | None = None
        # held across the listing: concurrent first calls wait for one listing, not N
        self._folders_lock = _bridge.Lock()

    # ------------------------------------------------------------------ construction
    @classmethod
    @abc.abstractmethod
    def from_url(cls: type[_Self], url: str, /, **options: Any) -> _Self:
        """Build from a connection URL and keyword options."""

    # ------------------------------------------------------------------ primitives
    @abc.abstractmethod
    def _list_folders(self) -> list[Folder]:
        """Every folder, with the roles the provider itself states (special-use, ids)."""

    @abc.abstractmethod
    def _list_page(self, folder: Folder, limit: int, cursor: str | None) -> Page[MessageSummary]:
        """One page, newest first, ``limit`` ≤ `max_page_size`."""

    @abc.abstractmethod
    def _fetch_many(self, message_ids: list[str]) -> list[Message]:
        """Messages for ``message_ids``, same order; ``MessageNotFound`` if one is missing."""

    @abc.abstractmethod
    def _send(self, prepared: mime.PreparedMessage, save_copy: bool) -> SendResult:
        """Send ``prepared``; keep one Sent copy when ``save_copy`` (see `_save_copy()`)."""

    @abc.abstractmethod
    def _append(self, raw: Spool, folder: Folder) -> str | None:
        """Store ``raw`` as a read, sent (not draft) message in ``folder``; stream it when large."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections. Safe to call twice."""

    # ------------------------------------------------------------------ folders
    def folders(self, *, refresh: bool = False) -> list[Folder]:
        """All folders with roles: provider/special-use first, then names, then overrides."""
        with self._folders_lock:
            if self._folders_cache is None or refresh:
                raw = self._retry.call(self._list_folders)
                self._folders_cache = folder_roles.assign_roles(raw, self._role_overrides)
            return list(self._folders_cache)

    def folder(self, which: FolderRef) -> Folder:
        """Resolve a role, id or path to a `Folder`; raises ``FolderNotFound``."""
        if isinstance(which, Folder):
            return which
        all_folders = self.folders()
        if isinstance(which, FolderRole):
            found = folder_roles.find_role(all_folders, which)
            if found is None:
                raise errors.FolderNotFound(
                    f"No folder has the role {which.value!r} in this mailbox.",
                    provider=self.provider,
                    remedy=(
                        f"Name the folder explicitly (sent_folder=... for Sent), "
                        f"or create one for {which.value!r}."
                    ),
                )
            return found
        for candidate in all_folders:
            if which in (candidate.id, candidate.path):
                return candidate
        lowered = which.lower()
        for candidate in all_folders:
            if lowered in (candidate.id.lower(), candidate.path.lower()):
                return candidate
        if lowered in {role.value for role in FolderRole}:
            return self.folder(FolderRole(lowered))
        raise errors.FolderNotFound(f"No folder named {which!r}.", provider=self.provider)

    # ------------------------------------------------------------------ listing
    def list_messages(
        self, folder: FolderRef = FolderRole.INBOX, *, limit: int = 50, cursor: str | None = None
    ) -> Page[MessageSummary]:
        """One page of summaries, newest first; ``limit`` is capped at `max_page_size`."""
        if limit < 1:
            raise errors.ConfigurationError("limit must be at least 1.", provider=self.provider,
                                            remedy="Pass limit=1 or more.")
        target = self.folder(folder)
        return self._retry.call(self._list_page, target, min(limit, self.max_page_size), cursor)

    def iter_messages(
        self, folder: FolderRef = FolderRole.INBOX, *, page_size: int = 500
    ) -> Iterator[MessageSummary]:
        """Every summary, newest first, one request per page."""
        cursor: str | None = None
        while True:
            page = self.list_messages(folder, limit=page_size, cursor=cursor)
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    # ------------------------------------------------------------------ fetching
    def fetch(self, message_id: str) -> Message:
        """One full message."""
        return self.fetch_many([message_id])[0]

    def fetch_many(self, message_ids: Iterable[str]) -> list[Message]:
        """Several messages, batched by the adapter, in the order given."""
        ids = list(message_ids)
        if not ids:
            return []
        return self._retry.call(self._fetch_many, ids)

    def fetch_to_file(self, message_id: str, target: str | os.PathLike[str] | IO[bytes]) -> int:
        """Write the raw message to ``target``. Adapters override this to stream."""
        from inboxlink.models import save_stream

        return save_stream([self.fetch(message_id).raw], target)

    # ------------------------------------------------------------------ attachments
    def list_attachments(self, message_id: str) -> list[AttachmentInfo]:
        """Attachments of the message; ``part`` is its position (``"0"``, ``"1"`` …).

        This default fetches and parses the whole message; adapters override it to read
        only the structure.
        """
        found = mime.attachments(self.fetch(message_id).email)
        return [AttachmentInfo(part=str(n), filename=a.filename, content_type=a.content_type,
                               size=a.size, content_id=a.content_id, inline=a.inline)
                for n, a in enumerate(found)]

    def save_attachment(
        self, message_id: str, part: str, target: str | os.PathLike[str] | IO[bytes]
    ) -> int:
        """Write the decoded attachment ``part`` to ``target``; returns the byte count.

        This default holds the whole message in memory; adapters override it to stream.
        """
        from inboxlink.models import save_stream

        found = list(mime.attachments(self.fetch(message_id).email))
        index = int(part) if part.isascii() and part.isdigit() else -1  # "²".isdigit()
        if not 0 <= index < len(found):
            raise self._no_attachment(message_id, part)
        return save_stream([found[index].data], target)

    def _no_attachment(self, message_id: str, part: str) -> errors.NotFound:
        return errors.NotFound(
            f"Message {message_id!r} has no attachment part {part!r}.",
            provider=self.provider, code="attachment-not-found",
            remedy="Use a part id from mailbox.list_attachments(message_id).",
        )

    # ------------------------------------------------------------------ sending
    def send(self, message: OutgoingLike, *, save_copy: bool = True) -> SendResult:
        """Send once (never retried: no duplicate mail) and report the Sent copy honestly."""
        if isinstance(message, OutgoingMessage):
            # Before its files are read and base64-encoded to disk (seconds for 100 MB).
            self._refuse_early(message)
        prepared = mime.prepare(message, default_from=self.address)
        return self._send(prepared, save_copy)

    def _refuse_early(self, message: OutgoingMessage) -> None:
        """Raise `MessageTooLarge` when ``message`` is provably above the provider's hard
        limit, judged by `mime.size_floor` only (a lower bound: never a false refusal).
        Adapters with a fixed limit override it; by default nothing is refused here."""

    def append_to_sent(self, message: SentLike) -> str | None:
        """Store an already-sent message in the Sent folder (read, not a draft)."""
        raw = (message.spool if isinstance(message, SendResult)
               else mime.to_spool(message, default_from=self.address))
        return self._retry.call_write(self._append, raw, self.folder(FolderRole.SENT))

    def verify(self, bcc: str, *, from_: str | None = None,
               subject: str = "inboxlink connection test") -> SendResult:
        """Check the mailbox end to end: read the folders (fresh, Sent resolved), list the
        inbox, then send a test message to ``bcc`` only (a hidden recipient, as connection
        set-up flows do) From ``from_`` (the mailbox address by default), keeping no Sent
        copy. The first step that fails raises its typed error: ``SendAsDenied`` when the
        account may not send as ``from_``.

        ``bcc`` is required (the signature the EWS adapter has had since round 1, which
        every override must stay compatible with).
        """
        self.folders(refresh=True)
        self.folder(FolderRole.SENT)
        self.list_messages(FolderRole.INBOX, limit=1)
        message = OutgoingMessage(bcc=[bcc], from_=from_ or self.address, subject=subject,
                                  text="This message checks that the mailbox can send mail.\n")
        return self.send(message, save_copy=False)

    def _save_copy(self, prepared: mime.PreparedMessage) -> SendResult:
        """For adapters whose provider does not keep sent mail: append, report, never raise."""
        from inboxlink.models import SentCopy

        try:
            sent = self.folder(FolderRole.SENT)
            copy_id = self._retry.call_write(self._append, prepared.spool, sent)
        except errors.InboxLinkError as exc:
            failure = errors.SentCopyFailed(
                f"The message was sent, but saving its copy failed: {exc.message}",
                raw=prepared.spool, provider=self.provider, code=exc.code,
            )
            failure.__cause__ = exc
            log.warning("sent copy of %s failed: %s", prepared.message_id, exc.message)
            return SendResult(message_id=prepared.message_id, raw=prepared.spool,
                              sent_copy=SentCopy.FAILED, error=failure)
        return SendResult(message_id=prepared.message_id, raw=prepared.spool,
                          sent_copy=SentCopy.APPENDED, sent_folder_id=sent.id, provider_id=copy_id)

    # ------------------------------------------------------------------ context manager
    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.provider}:{self.address}>"
