"""The acting and finding half of `BaseMailbox`.

Public methods check their arguments, resolve folders and turn the primitives' partial
answers into one honest outcome: every id that exists is acted on, and the ids that do not
are named by one ``MessageNotFound`` (with the others' result attached).

Primitives an adapter implements (each takes many ids and batches them itself):

- ``_set_flag(ids, flag, value) -> missing ids`` (``flag`` is ``\\Seen`` or ``\\Flagged``)
- ``_move(ids, target) -> {old id: new id or None}`` (ids left out were missing)
- ``_delete(ids, permanent) -> missing ids`` (default: move to the Trash role folder)
- ``_search(folder, query, limit, cursor) -> Page``
- ``_find_replies(message_id) -> candidates`` and ``_thread(message_id) -> members``
  (defaults scan the folders; adapters use their provider's index or thread ids)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from inboxlink import errors
from inboxlink.models import (
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

if TYPE_CHECKING:
    from collections.abc import Iterator

    from inboxlink.retry import RetryPolicy

__all__ = ["FLAGGED", "SEEN", "ActionMixin", "MessageRef"]

SEEN = "\\Seen"
FLAGGED = "\\Flagged"

#: what ``find_replies``/``thread`` accept: a sent result, a message, a summary, a Message-ID
MessageRef = SendResult | Message | MessageSummary | str

# Folders never searched for replies: our own sent mail and unsent drafts.
_NOT_REPLIES = frozenset({FolderRole.SENT, FolderRole.DRAFTS})


def _ids(ids: Iterable[str] | str) -> list[str]:
    if isinstance(ids, str):
        return [ids]
    return list(dict.fromkeys(ids))


class ActionMixin:
    """``set_read``/``set_flagged``/``move``/``delete``/``search``/``find_replies``/``thread``."""

    provider: ClassVar[str]
    capabilities: frozenset[Capability]
    _retry: RetryPolicy

    if TYPE_CHECKING:
        def folder(self, which: FolderRef) -> Folder: ...
        def folders(self, *, refresh: bool = False) -> list[Folder]: ...
        def fetch_many(self, message_ids: Iterable[str]) -> list[Message]: ...
        def iter_messages(self, folder: FolderRef = ..., *,
                          page_size: int = ...) -> Iterator[MessageSummary]: ...
        def _unsupported(self, operation: str) -> errors.UnsupportedOperation: ...

    # ------------------------------------------------------------------ primitives
    def _set_flag(self, ids: list[str], flag: str, value: bool) -> list[str]:
        """Add (``value``) or remove ``flag`` on ``ids``; return the ids that do not exist."""
        raise self._unsupported("set_read/set_flagged")

    def _move(self, ids: list[str], target: Folder) -> dict[str, str | None]:
        """Move ``ids`` into ``target``: old id → new id (``None`` if unknown); leave out missing ids."""
        raise self._unsupported("move")

    def _delete(self, ids: list[str], permanent: bool) -> list[str]:
        """Delete ``ids`` (to Trash, or for good); return the ids that do not exist."""
        if permanent:
            raise self._unsupported("delete(permanent=True)")
        moved = self._move(ids, self.folder(FolderRole.TRASH))
        return [i for i in ids if i not in moved]

    def _search(self, folder: Folder, query: SearchQuery, limit: int,
                cursor: str | None) -> Page[MessageSummary]:
        """One page of ``folder``'s messages matching ``query``, newest first."""
        raise self._unsupported("search")

    def _find_replies(self, message_id: str) -> list[MessageSummary]:
        """Messages that may answer ``message_id``; the caller keeps only true replies.

        The list may include the original itself (from Sent): its ``thread_id`` then lets a
        same-thread message that carries no threading headers at all count as a reply.

        This default scans every folder but Sent and Drafts: adapters use their index.
        """
        found: list[MessageSummary] = []
        for candidate in self.folders():
            if candidate.role in _NOT_REPLIES:
                continue
            found.extend(s for s in self.iter_messages(candidate) if _answers(s, message_id))
        return found

    def _thread(self, message_id: str) -> list[MessageSummary]:
        """Every message of the conversation ``message_id`` belongs to, any folder."""
        return self._thread_by_headers(message_id)

    # ------------------------------------------------------------------ actions
    def set_read(self, ids: Iterable[str] | str, read: bool = True) -> None:
        """Mark messages read (or unread with ``read=False``), in as few round trips as possible."""
        self._flag(_ids(ids), SEEN, read)

    def set_flagged(self, ids: Iterable[str] | str, flagged: bool = True) -> None:
        """Flag (star) messages, or clear the flag with ``flagged=False``."""
        self._flag(_ids(ids), FLAGGED, flagged)

    def _flag(self, ids: list[str], flag: str, value: bool) -> None:
        if not ids:
            return
        missing = self._retry.call(self._set_flag, ids, flag, value)
        if missing:
            raise errors.MessageNotFound(missing=missing, provider=self.provider)

    def move(self, ids: Iterable[str] | str, folder: FolderRef) -> dict[str, str | None]:
        """Move messages into ``folder``; returns old id → new id (``None`` when the
        provider does not say). Never retried: a repeated move could act twice."""
        wanted = _ids(ids)
        if not wanted:
            return {}
        moved = self._move(wanted, self.folder(folder))
        missing = [i for i in wanted if i not in moved]
        if missing:
            raise errors.MessageNotFound(missing=missing, result=moved, provider=self.provider)
        return moved

    def delete(self, ids: Iterable[str] | str, *, permanent: bool = False) -> None:
        """Move messages to Trash, or remove them for good with ``permanent=True``."""
        wanted = _ids(ids)
        if not wanted:
            return
        missing = self._delete(wanted, permanent)
        if missing:
            raise errors.MessageNotFound(missing=missing, provider=self.provider)

    # ------------------------------------------------------------------ finding
    def search(self, folder: FolderRef = FolderRole.INBOX, query: SearchQuery | None = None, *,
               limit: int = 50, cursor: str | None = None) -> Page[MessageSummary]:
        """Messages in ``folder`` matching every field of ``query``, newest first, paged."""
        if limit < 1:
            raise errors.ConfigurationError("limit must be at least 1.", provider=self.provider,
                                            remedy="Pass limit=1 or more.")
        target = self.folder(folder)
        return self._retry.call(self._search, target, query or SearchQuery(), limit, cursor)

    def find_replies(self, sent: MessageRef) -> list[MessageSummary]:
        """Replies to a sent message (by In-Reply-To/References, then the provider's thread
        id; never by subject), from every folder but Sent and Drafts, newest first."""
        message_id = _message_id_of(sent)
        candidates = self._retry.call(self._find_replies, message_id)
        threads = {s.thread_id for s in candidates if s.message_id == message_id and s.thread_id}
        if isinstance(sent, (SendResult, Message, MessageSummary)) and sent.thread_id:
            threads.add(sent.thread_id)
        found = {s.id: s for s in candidates if s.message_id != message_id and (
            _answers(s, message_id)
            or (not s.in_reply_to and not s.references and s.thread_id in threads))}
        return sorted(found.values(), key=_when, reverse=True)

    def thread(self, message: MessageRef) -> list[MessageSummary]:
        """The whole conversation ``message`` belongs to, any folder, oldest first."""
        message_id = _message_id_of(message)
        members = self._retry.call(self._thread, message_id)
        unique: dict[str, MessageSummary] = {}
        for member in members:
            key = member.message_id or member.id
            unique.setdefault(key, member)
        return sorted(unique.values(), key=_when)

    def _thread_by_headers(self, message_id: str) -> list[MessageSummary]:
        # Collect the conversation by following Message-ID links in both directions over
        # every folder (the JWZ idea without subject grouping): a plugin's fallback.
        everything = [s for f in self.folders() for s in self.iter_messages(f)]
        linked = {message_id}
        changed = True
        while changed:
            changed = False
            for s in everything:
                ids = {s.message_id, s.in_reply_to, *s.references} - {None}
                if s.message_id and ids & linked and not ids <= linked:
                    linked |= {i for i in ids if i}
                    changed = True
        return [s for s in everything if s.message_id in linked]


def _message_id_of(value: Any) -> str:
    if isinstance(value, (SendResult, Message, MessageSummary)):
        found = value.message_id
    elif isinstance(value, str):
        found = value
    else:
        raise errors.ConfigurationError(
            f"Cannot find replies to a {type(value).__name__}.", code="message-ref",
            remedy="Pass a SendResult, Message, MessageSummary or a '<message-id>' string.")
    if not found or not found.strip().strip("<>"):
        raise errors.ConfigurationError(
            "The message has no Message-ID, so replies to it cannot be matched.",
            code="no-message-id", remedy="Send with inboxlink (it always sets a Message-ID).")
    return "<" + found.strip().strip("<>") + ">"


def _answers(summary: MessageSummary, message_id: str) -> bool:
    return summary.in_reply_to == message_id or message_id in summary.references


def _when(summary: MessageSummary) -> Any:
    import datetime as dt

    value = summary.received_at or summary.date or dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)

