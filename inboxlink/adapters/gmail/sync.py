"""The Gmail change feed: ``sync_token``/``changes`` on ``users.history.list``.

A token is an opaque `inboxlink.cursor.CursorCodec` string holding the folder and a Gmail
``historyId`` (``{"history": "4711"}``); one of another folder or adapter, or garbage, is
``SyncTokenExpired`` before any request.

``sync_token()`` is one ``users.getProfile`` (the mailbox's current ``historyId``, 1 quota
unit). ``changes()`` pages ``history.list(startHistoryId, historyTypes)`` through
``nextPageToken`` (2 units a page) and maps every record to the folder: a message gaining
the folder's label (or created with it) is *added*, one losing it — or deleted, or sent to
Spam/Trash — is *removed*, any other label change (UNREAD, STARRED, user labels) on a
message that stays is *updated*. Summaries of added and updated messages are fetched in
batches of ``batch_size``. A change-free call is one request. Gmail keeps history for
about a week; an older ``historyId`` is answered with 404, raised as ``SyncTokenExpired``.

``labelId`` is deliberately not sent: Gmail documents it only as "only return messages
with a label matching the ID", which does not say whether a message that *lost* the label
(archived out of the Inbox, moved to another label) is still returned, and other Gmail
clients report archived mail missing from label-filtered feeds. The whole mailbox's history
is read instead and each record judged by the labels before and after it, so leaving a
folder is never missed (and the virtual Archive folder, which has no label, works the same
way). A change-free call is still one request; changes in other folders cost history
records (500 a page, 2 units) but no summaries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from inboxlink import errors
from inboxlink.adapters.gmail import convert
from inboxlink.changes import ChangeSet
from inboxlink.cursor import CursorCodec
from inboxlink.models import Folder, MessageSummary

if TYPE_CHECKING:
    from inboxlink.adapters.gmail.settings import GmailSettings
    from inboxlink.mailbox_sync import PollPolicy, Watch
    from inboxlink.retry import RetryPolicy

__all__ = ["GmailSync", "decode_token", "encode_token"]

#: sync tokens: the folder and the history id to read on from
TOKENS = CursorCodec("gmail", kind="sync", error=errors.SyncTokenExpired)
#: the history kinds that can move a message into or out of a folder, or change its flags
HISTORY_TYPES = ("messageAdded", "messageDeleted", "labelAdded", "labelRemoved")


def encode_token(folder_id: str, history_id: int) -> str:
    """The opaque, JSON-safe token for ``history_id`` in ``folder_id``."""
    return TOKENS.encode(folder_id, {"history": str(history_id)})


def decode_token(token: str, folder: Folder) -> int:
    """The history id in ``token``; ``SyncTokenExpired`` for anything not a token of ``folder``."""
    history = TOKENS.decode(token, folder.id).get("history")
    if not (isinstance(history, str) and history.isdigit() and len(history) < 21):
        raise errors.SyncTokenExpired("This is not a Gmail sync token.", provider="gmail",
                                      code="bad-cursor",
                                      remedy="Take a new sync_token() and re-list the folder "
                                             "once.")
    return int(history)


@attrs.define
class _Seen:
    """One message's labels when first seen in the window (``None``: did not exist) and now."""

    before: frozenset[str] | None
    now: frozenset[str] | None


#: history kind -> labels before the change, from (labels after, labels the record names)
_BEFORE: Mapping[str, Any] = {
    "messagesAdded": lambda now, changed: None,
    "labelsAdded": lambda now, changed: now - changed,
    "labelsRemoved": lambda now, changed: now | changed,
    "messagesDeleted": lambda now, changed: now,
}


def _entries(record: Mapping[str, Any]) -> Iterator[tuple[str, frozenset[str] | None,
                                                          frozenset[str] | None]]:
    """(message id, labels before, labels after) for every change in ``record``; ``None``
    where the message did not exist (before it was added, after it was deleted)."""
    for kind, before in _BEFORE.items():
        for entry in record.get(kind) or ():
            message = entry["message"]
            labels = _labels(message)
            changed = frozenset(str(x) for x in entry.get("labelIds") or ())
            after = None if kind == "messagesDeleted" else labels
            yield str(message["id"]), before(labels, changed), after


class _Feed:
    """Folds history records into each message's first and last state, in order."""

    def __init__(self, folder_id: str) -> None:
        self.folder_id = folder_id
        self.seen: dict[str, _Seen] = {}

    def _in(self, labels: frozenset[str] | None) -> bool:
        return labels is not None and convert.in_folder(self.folder_id, labels)

    def fresh(self, record: Mapping[str, Any]) -> set[str] | None:
        """Ids ``record`` would add to the feed; ``None`` when it does not touch the folder
        (no message in it before or after, none already followed)."""
        touched = {mid for mid, before, after in _entries(record)
                   if mid in self.seen or self._in(before) or self._in(after)}
        return (touched - self.seen.keys()) if touched else None

    def apply(self, record: Mapping[str, Any]) -> None:
        for message_id, before, after in _entries(record):
            state = self.seen.setdefault(message_id, _Seen(before, after))
            state.now = after

    def classify(self) -> tuple[list[str], list[str], list[str]]:
        """Ids added to, updated in and removed from the folder, in history order."""
        added: list[str] = []
        updated: list[str] = []
        removed: list[str] = []
        for message_id, state in self.seen.items():
            was, now = self._in(state.before), self._in(state.now)
            if now:
                (updated if was else added).append(message_id)
            elif was:
                removed.append(message_id)
        return added, updated, removed


def _labels(message: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(str(label) for label in message.get("labelIds") or ())


class GmailSync:
    """``_sync_token``/``_changes`` for `GmailMailbox`."""

    #: history records asked for per ``history.list`` page (Gmail allows up to 500)
    history_page_size: ClassVar[int] = 500

    if TYPE_CHECKING:
        settings: GmailSettings
        _service: Any
        _retry: RetryPolicy
        poll_policy: PollPolicy

        def sync_token(self, folder: Any = ...) -> str: ...

        def _execute(self, request: Any, method: str) -> Any: ...
        def _boundary(self, operation: str) -> AbstractContextManager[None]: ...
        def _batch(self, operation: str, build: Any, method: str, ids: list[str],
                   missing: list[str] | None = None) -> dict[str, Any]: ...
        def _metadata_request(self, message_id: str) -> Any: ...

    def _sync_token(self, folder: Folder) -> str:
        with self._boundary("history"):
            request = self._service.users().getProfile(userId=self.settings.user_id)
            profile = self._execute(request, "getProfile")
        return encode_token(folder.id, int(profile["historyId"]))

    def _changes(self, folder: Folder, token: str, limit: int) -> ChangeSet:
        feed, next_token, more = self._scan(folder, token, limit)
        added, updated, removed = feed.classify()
        # Outside the history boundary: a 404 there means the token expired, here that a
        # message is gone.
        summaries, gone = self._summaries(folder, [*added, *updated])
        return ChangeSet(
            added=[summaries[i] for i in added if i in summaries],
            updated=[summaries[i] for i in updated if i in summaries],
            # a message that left again before we could read it is gone for the caller too
            removed=[*removed, *(i for i in updated if i in gone)],
            token=next_token, more=more,
        )

    def _scan(self, folder: Folder, token: str, limit: int | None) -> tuple[_Feed, str, bool]:
        """Fold the history since ``token`` into a feed of at most ``limit`` messages:
        (feed, the token to continue from, whether more is waiting)."""
        start = decode_token(token, folder)
        feed = _Feed(folder.id)
        last = current = start
        more = False
        with self._boundary("history"):
            for page_number, page in enumerate(self._history_pages(start)):
                if page_number == 0:
                    # Everything up to the mailbox's history id at the first page is covered
                    # once the pages run out.
                    current = int(page.get("historyId") or start)
                for record in page.get("history") or ():
                    fresh = feed.fresh(record)
                    if (limit is not None and fresh and feed.seen
                            and len(feed.seen) + len(fresh) > limit):
                        more = True
                        break
                    if fresh is not None:
                        feed.apply(record)
                    last = max(last, int(record["id"]))
                if more:
                    break
        return feed, encode_token(folder.id, last if more else max(last, current)), more

    def _poll_changed(self, watch: Watch) -> bool:
        """Probe the history only: a hint needs no summaries, so each poll of the base's
        `PollPolicy` loop is one ``history.list`` (2 units) however much changed, and the
        application's own ``changes()`` reads them once."""
        feed, token, _ = self._retry.call(self._scan, watch.folder, watch.poll_token() or "",
                                          None)
        watch.set_poll_token(token)
        return any(feed.classify())

    def _history_pages(self, start: int) -> Iterator[Mapping[str, Any]]:
        arguments: dict[str, Any] = {
            "userId": self.settings.user_id, "startHistoryId": str(start),
            "historyTypes": list(HISTORY_TYPES),
            # Records of other folders are skipped client-side, so pages are always full size
            # (a record is ~200 bytes); ``limit`` counts messages, not records.
            "maxResults": self.history_page_size,
        }
        page_token: str | None = None
        while True:
            request = self._service.users().history().list(pageToken=page_token, **arguments)
            page = self._execute(request, "history.list")
            yield page
            page_token = page.get("nextPageToken")
            if not page_token:
                return

    def _summaries(self, folder: Folder,
                   ids: Iterable[str]) -> tuple[dict[str, MessageSummary], set[str]]:
        wanted = list(ids)
        if not wanted:
            return {}, set()
        gone: list[str] = []
        with self._boundary("fetch"):
            found = self._batch("fetch", self._metadata_request, "messages.get", wanted,
                                missing=gone)
        return ({i: convert.summary_from_metadata(r, folder.id) for i, r in found.items()},
                set(gone))
