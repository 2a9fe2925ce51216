"""Acting on EWS mail and finding it: batched UpdateItem / MoveItem / DeleteItem, FindItem
with restrictions, and threads by ConversationId.

Each action sends ``action_batch_size`` ids per request (exchangelib's default chunk of
100), so 1,000 ids cost 10 requests whatever the action. Per-item ``ErrorItemNotFound`` (or
a malformed id) makes that id *missing*; the others are still done.

Search maps `SearchQuery` to one FindItem restriction (``Contains``
IgnoreCase on ``item:Subject``, ``message:From``, ``item:Body``; ``IsGreaterThanOrEqualTo`` /
``IsLessThan`` on ``item:DateTimeReceived``; ``IsEqualTo`` on ``message:IsRead``,
``item:HasAttachments``, ``message:InternetMessageId``). EWS cannot restrict on recipients
(``to``) and inboxlink's flag lives in an extended property exchangelib's ``Q`` does not know
(``flagged``): those two are checked on the returned page with
`inboxlink.query.matches`, reading further pages until ``limit`` matches are found.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from exchangelib import EWSDateTime
from exchangelib.fields import FieldOrder, FieldPath
from exchangelib.items import ID_ONLY, SHALLOW
from exchangelib.items import Message as EwsMessage
from exchangelib.properties import ConversationId, ItemId
from exchangelib.restriction import Q, Restriction
from exchangelib.services import DeleteItem, MoveItem, UpdateItem

from inboxlink import errors
from inboxlink.adapters.ews._exchangelib_shim import (
    FindItemRows,
    FlaggableMessage,
    GetItemRows,
    flag_path,
)
from inboxlink.adapters.ews.convert import FLAGGED, SUMMARY_FIELDS, ItemRow, paths, summary
from inboxlink.cursor import CursorCodec
from inboxlink.mailbox_actions import SEEN
from inboxlink.models import Folder, FolderRole, MessageSummary, Page
from inboxlink.query import SearchQuery, matches

if TYPE_CHECKING:
    from exchangelib import Account
    from exchangelib.folders import Folder as EwsFolder

    from inboxlink.adapters.ews.settings import EwsSettings

__all__ = ["EwsActions"]

#: ids per UpdateItem/MoveItem/DeleteItem request (exchangelib's own default chunk)
ACTION_BATCH = 100
#: what FindItem returns for a search/thread candidate before its summary is read
_FIND_FIELDS = ("message_id", "conversation_id", "parent_folder_id", "has_attachments",
                "datetime_received")
#: per-item answers that mean "no such item here"
_MISSING = frozenset({"ErrorItemNotFound", "ErrorInvalidIdMalformed"})
_SEARCH_CURSORS = CursorCodec("ews", kind="search")
_NOT_REPLIES = frozenset({FolderRole.SENT, FolderRole.DRAFTS})


def _missing_or_raise(result: Any) -> bool:
    """True for a per-item "not found" answer; re-raise any other per-item error."""
    if isinstance(result, Exception):
        if type(result).__name__ in _MISSING:
            return True
        raise result
    return False


def _fingerprint(query: SearchQuery) -> str:
    return hashlib.sha256(repr(query).encode()).hexdigest()[:16]


def _encode_cursor(folder_id: str, query: SearchQuery, offset: int) -> str:
    return _SEARCH_CURSORS.encode(folder_id, {"q": _fingerprint(query), "o": offset})


def _decode_cursor(cursor: str, folder_id: str, query: SearchQuery) -> int:
    state = _SEARCH_CURSORS.decode(cursor, folder_id)
    offset = state.get("o")
    if state.get("q") != _fingerprint(query) or not isinstance(offset, int) or offset < 0:
        raise errors.CursorExpired(
            "The cursor does not belong to this search.", provider="ews", code="other-search",
            remedy="Pass the next_cursor of a page of the same search, or start without one.")
    return offset


def _when(value: dt.datetime) -> EWSDateTime:
    return EWSDateTime.from_datetime(value.astimezone(dt.timezone.utc))


def _restriction(query: SearchQuery) -> Q | None:
    """The FindItem restriction for everything EWS can check server-side (AND)."""
    parts: list[Q] = []
    if query.from_ is not None:
        parts.append(Q(author__icontains=query.from_))
    if query.subject is not None:
        parts.append(Q(subject__icontains=query.subject))
    if query.text is not None:
        parts.append(Q(subject__icontains=query.text) | Q(body__icontains=query.text))
    if query.since is not None:
        parts.append(Q(datetime_received__gte=_when(query.since)))
    if query.before is not None:
        parts.append(Q(datetime_received__lt=_when(query.before)))
    if query.unread is not None:
        parts.append(Q(is_read=not query.unread))
    if query.has_attachments is not None:
        parts.append(Q(has_attachments=query.has_attachments))
    if query.message_id is not None:
        parts.append(Q(message_id=query.bracketed_message_id))
    if not parts:
        return None
    combined = parts[0]
    for part in parts[1:]:
        combined &= part
    return combined


class EwsActions:
    """Actions, search and threads for `EwsMailbox`."""

    if TYPE_CHECKING:
        settings: EwsSettings

        @property
        def account(self) -> Account: ...
        def _boundary(self) -> Any: ...
        def _ews_folder(self, folder: Folder) -> EwsFolder: ...
        def folder(self, which: Any) -> Folder: ...
        def folders(self, *, refresh: bool = False) -> list[Folder]: ...

    # ------------------------------------------------------------------ summaries
    def _summaries_of(self, ids: list[str]) -> dict[str, MessageSummary]:
        """Summaries of ``ids`` (one GetItem per ``fetch_batch_size``); gone ids left out."""
        getter = GetItemRows(account=self.account, chunk_size=self.settings.fetch_batch_size)
        found: dict[str, MessageSummary] = {}
        for row in getter.call(items=[ItemId(id=i) for i in ids],
                               additional_fields=[*paths(EwsMessage, SUMMARY_FIELDS),
                                                  flag_path()],
                               shape=ID_ONLY):
            if _missing_or_raise(row):
                continue
            found[row.id] = summary(row.parent_folder_id or "", row, row)
        return found

    # ------------------------------------------------------------------ actions
    def _set_flag(self, ids: list[str], flag: str, value: bool) -> list[str]:
        name, setting = ("is_read", value) if flag == SEEN else \
            ("flag_status", FLAGGED if value else None)
        with self._boundary():
            account = self.account
            changes = [(FlaggableMessage(account=account, id=i, **{name: setting}), [name])
                       for i in ids]
            # AlwaysOverwrite: setting a flag needs no ChangeKey (AutoResolve would demand
            # one, i.e. a GetItem per message first).
            results = UpdateItem(account=account, chunk_size=ACTION_BATCH).call(
                items=changes, conflict_resolution="AlwaysOverwrite",
                message_disposition="SaveOnly",
                send_meeting_invitations_or_cancellations="SendToNone",
                suppress_read_receipts=True)
            return [i for i, result in zip(ids, results, strict=True) if _missing_or_raise(result)]

    def _move(self, ids: list[str], target: Folder) -> dict[str, str | None]:
        with self._boundary():
            results = MoveItem(account=self.account, chunk_size=ACTION_BATCH).call(
                items=[ItemId(id=i) for i in ids], to_folder=self._ews_folder(target))
            moved: dict[str, str | None] = {}
            for old, result in zip(ids, results, strict=True):
                if not _missing_or_raise(result):
                    new_id, _ = result
                    moved[old] = new_id
            return moved

    def _delete(self, ids: list[str], permanent: bool) -> list[str]:
        trash = None if permanent else self.folder(FolderRole.TRASH)
        if trash is not None and "distinguished:deleteditems" not in trash.attributes:
            # The Trash role was overridden to another folder: move there instead.
            moved = self._move(ids, trash)
            return [i for i in ids if i not in moved]
        with self._boundary():
            results = DeleteItem(account=self.account, chunk_size=ACTION_BATCH).call(
                items=[ItemId(id=i) for i in ids],
                delete_type="HardDelete" if permanent else "MoveToDeletedItems",
                send_meeting_cancellations="SendToNone",
                affected_task_occurrences="AllOccurrences", suppress_read_receipts=True)
            return [i for i, result in zip(ids, results, strict=True) if _missing_or_raise(result)]

    # ------------------------------------------------------------------ search
    def _find(self, folders: list[Folder], q: Q | None, *, limit: int | None = None,
              offset: int = 0, fields: Iterable[str] = _FIND_FIELDS) -> tuple[list[ItemRow],
                                                                              int | None]:
        """One FindItem over ``folders`` (one request for up to 1,000 items per folder)."""
        ews_folders = [self._ews_folder(f) for f in folders]
        restriction = None if q is None else Restriction(q, folders=ews_folders,
                                                         applies_to=Restriction.ITEMS)
        received = FieldPath(field=EwsMessage.get_field_by_fieldname("datetime_received"))
        finder = FindItemRows(account=self.account, page_size=limit or 1000)
        rows = []
        for row in finder.call(folders=ews_folders,
                               additional_fields=[*paths(EwsMessage, tuple(fields)), flag_path()],
                               restriction=restriction,
                               order_fields=[FieldOrder(field_path=received, reverse=True)],
                               shape=ID_ONLY, query_string=None, depth=SHALLOW,
                               calendar_view=None, max_items=limit, offset=offset):
            if isinstance(row, Exception):
                raise row
            rows.append(row)
        if len(folders) > 1:
            # Each folder answers newest first; merge them (stable: same-second ties keep
            # the server's order). Exchange writes every DateTimeReceived as ...Z.
            rows.sort(key=lambda r: r.datetime_received or "", reverse=True)
        return rows, finder.total_in_view

    def _search(self, folder: Folder, query: SearchQuery, limit: int,
                cursor: str | None) -> Page[MessageSummary]:
        offset = _decode_cursor(cursor, folder.id, query) if cursor else 0
        q = _restriction(query)
        found: list[MessageSummary] = []
        with self._boundary():
            while len(found) < limit:
                rows, total = self._find([folder], q, limit=limit, offset=offset)
                summaries = self._summaries_of([r.id for r in rows]) if rows else {}
                for row in rows:
                    offset += 1
                    summary = summaries.get(row.id)
                    if summary is not None and matches(query, summary,
                                                       has_attachments=row.has_attachments):
                        found.append(summary)
                        if len(found) == limit:
                            break
                if not rows or total is None or offset >= total:
                    total = offset
                    break
        more = total is None or offset < total
        return Page(items=found,
                    next_cursor=_encode_cursor(folder.id, query, offset) if more else None)

    # ------------------------------------------------------------------ replies, threads
    def _mail_folders(self, *, replies: bool = False) -> list[Folder]:
        return [f for f in self.folders() if not (replies and f.role in _NOT_REPLIES)]

    def _find_replies(self, message_id: str) -> list[MessageSummary]:
        with self._boundary():
            everywhere = self._mail_folders()
            allowed = {f.id for f in self._mail_folders(replies=True)}
            linked = Q(in_reply_to=message_id) | Q(references__icontains=message_id) \
                | Q(message_id=message_id)
            rows, _ = self._find(everywhere, linked)
            # The original's ConversationId also finds same-thread mail that carries no
            # threading headers (the base class keeps only those besides true replies).
            conversations = {r.conversation_id for r in rows
                             if r.message_id == message_id and r.conversation_id}
            if conversations:
                same = Q(conversation_id__in=[ConversationId(id=c) for c in conversations])
                more, _ = self._find(self._mail_folders(replies=True), same)
                rows += more
            # FindItem's order (newest first) is kept: it breaks ties between messages
            # received in the same second, which DateTimeReceived cannot tell apart.
            keep = list(dict.fromkeys(r.id for r in rows if r.parent_folder_id in allowed
                                      or r.message_id == message_id))
            return list(self._summaries_of(keep).values()) if keep else []

    def _thread(self, message_id: str) -> list[MessageSummary]:
        with self._boundary():
            everywhere = self._mail_folders()
            rows, _ = self._find(everywhere, Q(message_id=message_id))
            conversations = {r.conversation_id for r in rows if r.conversation_id}
            if not conversations:
                return []
            same = Q(conversation_id__in=[ConversationId(id=c) for c in conversations])
            members, _ = self._find(everywhere, same)
            # Oldest first, FindItem's order reversed: it orders same-second messages too.
            ids = list(dict.fromkeys(r.id for r in reversed(members)))
            return list(self._summaries_of(ids).values()) if ids else []
