"""Acting on Gmail messages and finding them: labels, ``q=`` search and threads.

- read/flag: ``messages.batchModify`` (up to 1,000 ids a request, 50 quota units) removing
  or adding ``UNREAD``/``STARRED``.
- move: one ``batchModify`` that adds the target label and removes the *location* labels
  (INBOX, SPAM, TRASH); other user labels stay, as with Gmail's own "Move to" from the
  Inbox. Moving to the Archive folder only removes INBOX. Gmail ids do not change.
- delete: ``messages.trash`` for each id in batch requests (a 404 names a missing id);
  ``permanent=True``: ``messages.batchDelete`` (needs the ``https://mail.google.com/`` scope).
- unknown ids: ``batchModify``/``batchDelete`` answer 204 and silently skip ids that do
  not exist, so with ``verify_ids`` (the default) the ids are first looked up — with
  ``messages.get(format=minimal)`` in batch requests (5 units an id), or, when it is
  cheaper, by listing every id in the mailbox (``messages.list``, 5 units per 500 ids; the
  mailbox's size comes from ``getProfile``) — and the missing ones named in
  ``MessageNotFound``; the others are still acted on.
- search: ``messages.list(q=…)`` (see `gmail_query`), then the page's summaries in
  batches, narrowed with `inboxlink.query.matches` where Gmail matches whole words.
- replies and threads: the original is found with ``rfc822msgid:``, its conversation with
  ``threads.get(format=metadata)``.

Every write here is idempotent (adding a label twice, trashing or deleting a message twice
leaves the same state), so a request that httplib2 repeats on a stale connection cannot
act twice; inboxlink itself never repeats a ``batchModify`` or ``batchDelete``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, ClassVar

from inboxlink import errors
from inboxlink.adapters.gmail import convert
from inboxlink.cursor import CursorCodec
from inboxlink.mailbox_actions import FLAGGED, SEEN
from inboxlink.models import Folder, MessageSummary, Page
from inboxlink.query import SearchQuery, matches

if TYPE_CHECKING:
    from inboxlink.adapters.gmail.settings import GmailSettings

__all__ = ["GmailActions", "gmail_query", "quote"]

#: Gmail refuses more ids than this in one batchModify/batchDelete
MAX_IDS = 1000
#: messages.list's largest page
_LIST_PAGE = 500
#: search cursors: the folder and Gmail's page token (never valid as a listing cursor)
_SEARCH = CursorCodec("gmail", kind="search")

#: flag -> (label, whether the label *means* the flag is set)
FLAG_LABELS: Mapping[str, tuple[str, bool]] = {SEEN: ("UNREAD", False), FLAGGED: ("STARRED", True)}

# Labels a message cannot be moved into: Gmail sets them itself.
_NOT_TARGETS = frozenset({"SENT", "DRAFT"})
# A thread member carrying only these is our own mail, never a reply.
_OWN = frozenset({"SENT", "DRAFT"})

# Characters that end an unquoted operator value in Gmail's query syntax.
_NEEDS_QUOTES = re.compile(r"[\s\"(){}\[\]:\-*]")


def quote(value: str) -> str:
    """``value`` as one Gmail query term: quoted when it holds spaces or syntax.

    Gmail's query language has no escape for a double quote inside a phrase, so quotes are
    replaced by spaces (Gmail ignores punctuation inside words anyway); the caller narrows
    the answer client-side, so nothing outside the user's query is ever returned.
    """
    cleaned = " ".join(value.replace('"', " ").split())
    return f'"{cleaned}"' if _NEEDS_QUOTES.search(cleaned) else cleaned


def _epoch(when: Any) -> int:
    return int(when.timestamp())


def gmail_query(query: SearchQuery) -> str:
    """The ``q=`` string for ``query`` (every field ANDed). Dates are widened by a second
    on each side (Gmail's ``after:``/``before:`` edges are not documented) and narrowed
    again client-side."""
    terms: list[str] = []
    for operator, value in (("from", query.from_), ("to", query.to),
                            ("subject", query.subject)):
        if value is not None:
            terms.append(f"{operator}:{quote(value)}")
    if query.text is not None:
        terms.append(quote(query.text))
    if query.since is not None:
        terms.append(f"after:{_epoch(query.since) - 1}")
    if query.before is not None:
        terms.append(f"before:{_epoch(query.before) + 1}")
    if query.unread is not None:
        terms.append("is:unread" if query.unread else "is:read")
    if query.flagged is not None:
        terms.append("is:starred" if query.flagged else "-is:starred")
    if query.has_attachments is not None:
        terms.append("has:attachment" if query.has_attachments else "-has:attachment")
    if query.message_id is not None:
        terms.append(f"rfc822msgid:{quote((query.bracketed_message_id or '').strip('<>'))}")
    return " ".join(terms)


def _chunks(ids: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


class GmailActions:
    """The action and search primitives for `GmailMailbox`."""

    if TYPE_CHECKING:
        settings: GmailSettings
        _service: Any
        provider: ClassVar[str]

        @property
        def _messages(self) -> Any: ...
        def _execute(self, request: Any, method: str) -> Any: ...
        def _boundary(self, operation: str) -> AbstractContextManager[None]: ...
        def _batch(self, operation: str, build: Any, method: str, ids: list[str],
                   missing: list[str] | None = None) -> dict[str, Any]: ...
        def _metadata_request(self, message_id: str) -> Any: ...

    # ------------------------------------------------------------------ helpers
    def _lookup(self, ids: list[str]) -> tuple[list[str], list[str]]:
        """(ids that exist, ids that do not); everything exists without ``verify_ids``.

        Looking ids up one ``messages.get`` each costs 5 quota units an id. For many ids in
        a small mailbox, listing every id (``messages.list``, 500 ids for 5 units) is far
        cheaper: it is chosen when it costs fewer units and at most one more request.
        """
        if not self.settings.verify_ids:
            return ids, []
        with self._boundary("modify"):
            known = self._all_ids_if_cheaper(len(ids))
            if known is not None:
                return [i for i in ids if i in known], [i for i in ids if i not in known]
            missing: list[str] = []
            found = self._batch("modify", self._minimal_request, "messages.get", ids,
                                missing=missing)
        return [i for i in ids if i in found], missing

    def _all_ids_if_cheaper(self, count: int) -> set[str] | None:
        get_requests = math.ceil(count / self.settings.batch_size)
        if get_requests < 2:
            return None  # one batch anyway: the profile look-up alone would not pay
        request = self._service.users().getProfile(userId=self.settings.user_id)
        total = int(self._execute(request, "getProfile").get("messagesTotal") or 0)
        list_requests = max(1, math.ceil(total / _LIST_PAGE))
        if list_requests > get_requests or list_requests * 5 >= count * 5:
            return None
        known: set[str] = set()
        page_token: str | None = None
        while True:
            request = self._messages.list(
                userId=self.settings.user_id, maxResults=_LIST_PAGE, pageToken=page_token,
                includeSpamTrash=True, fields="messages/id,nextPageToken")
            page = self._execute(request, "messages.list")
            known.update(str(m["id"]) for m in page.get("messages") or ())
            page_token = page.get("nextPageToken")
            if not page_token:
                return known

    def _minimal_request(self, message_id: str) -> Any:
        return self._messages.get(userId=self.settings.user_id, id=message_id,
                                  format="minimal", fields="id,labelIds")

    def _modify(self, ids: list[str], add: list[str], remove: list[str]) -> None:
        with self._boundary("modify"):
            for chunk in _chunks(ids, MAX_IDS):
                body: dict[str, Any] = {"ids": chunk}
                if add:
                    body["addLabelIds"] = add
                if remove:
                    body["removeLabelIds"] = remove
                request = self._messages.batchModify(userId=self.settings.user_id, body=body)
                self._execute(request, "messages.batchModify")

    # ------------------------------------------------------------------ actions
    def _set_flag(self, ids: list[str], flag: str, value: bool) -> list[str]:
        label, means_set = FLAG_LABELS[flag]
        present, missing = self._lookup(ids)
        if present:
            adding = value is means_set
            self._modify(present, [label] if adding else [], [] if adding else [label])
        return missing

    def _move(self, ids: list[str], target: Folder) -> dict[str, str | None]:
        if target.id in _NOT_TARGETS:
            raise errors.UnsupportedOperation(
                f"Gmail files messages under {target.id} itself; nothing can be moved there.",
                provider="gmail", code="move-target",
                remedy="Move messages to the Inbox, Archive, Trash or a user label.")
        present, _ = self._lookup(ids)
        if present:
            add = [] if target.id == convert.ARCHIVE_ID else [target.id]
            self._modify(present, add, [lb for lb in convert.LOCATION_LABELS if lb not in add])
        # Gmail message ids never change when labels do.
        return {i: i for i in present}

    def _delete(self, ids: list[str], permanent: bool) -> list[str]:
        if permanent:
            present, missing = self._lookup(ids)
            with self._boundary("delete"):
                for chunk in _chunks(present, MAX_IDS):
                    request = self._messages.batchDelete(userId=self.settings.user_id,
                                                         body={"ids": chunk})
                    self._execute(request, "messages.batchDelete")
            return missing
        missing = []
        with self._boundary("modify"):
            # trash answers 404 for an unknown id, so no look-up is needed; repeating a
            # throttled trash is harmless (a message in Trash stays there).
            self._batch("modify", self._trash_request, "messages.trash", ids, missing=missing)
        return missing

    def _trash_request(self, message_id: str) -> Any:
        return self._messages.trash(userId=self.settings.user_id, id=message_id,
                                    fields="id")

    # ------------------------------------------------------------------ search
    def _search(self, folder: Folder, query: SearchQuery, limit: int,
                cursor: str | None) -> Page[MessageSummary]:
        page_token = self._search_cursor(folder, cursor)
        scope = convert.list_scope(folder.id)
        q = " ".join(t for t in (scope.pop("q", ""), gmail_query(query)) if t)
        items: list[MessageSummary] = []
        with self._boundary("search"):
            while True:
                request = self._messages.list(
                    userId=self.settings.user_id, q=q or None, pageToken=page_token,
                    maxResults=min(limit - len(items), 500), **scope)
                listing = self._execute(request, "messages.list")
                ids = [str(m["id"]) for m in listing.get("messages") or ()]
                found = self._batch("search", self._metadata_request, "messages.get", ids,
                                    missing=[])
                for message_id in ids:
                    if message_id in found:
                        summary = convert.summary_from_metadata(found[message_id], folder.id)
                        if matches(query, summary):
                            items.append(summary)
                page_token = listing.get("nextPageToken")
                # Narrowing can leave a page short: read on until it is full.
                if not page_token or len(items) >= limit:
                    break
        next_cursor = _SEARCH.encode(folder.id, {"page": page_token}) if page_token else None
        return Page(items=items, next_cursor=next_cursor)

    def _search_cursor(self, folder: Folder, cursor: str | None) -> str | None:
        return str(_SEARCH.decode(cursor, folder.id).get("page")) if cursor else None

    # ------------------------------------------------------------------ replies, threads
    def _thread_ids(self, message_id: str) -> tuple[list[str], list[str]]:
        """(ids, thread ids) of the messages whose Message-ID is ``message_id``."""
        with self._boundary("search"):
            request = self._messages.list(
                userId=self.settings.user_id, q=f"rfc822msgid:{quote(message_id.strip('<>'))}",
                maxResults=10, includeSpamTrash=True)
            found = self._execute(request, "messages.list").get("messages") or ()
        return ([str(m["id"]) for m in found],
                list(dict.fromkeys(str(m["threadId"]) for m in found)))

    def _thread_members(self, thread_ids: list[str]) -> list[tuple[MessageSummary, frozenset[str]]]:
        members: list[tuple[MessageSummary, frozenset[str]]] = []
        with self._boundary("search"):
            for thread_id in thread_ids:
                request = self._service.users().threads().get(
                    userId=self.settings.user_id, id=thread_id, format="metadata",
                    metadataHeaders=list(convert.METADATA_HEADERS))
                thread = self._execute(request, "threads.get")
                for message in thread.get("messages") or ():
                    labels = frozenset(message.get("labelIds") or ())
                    home = convert.folder_for(labels, default=convert.ARCHIVE_ID)
                    members.append((convert.summary_from_metadata(message, home), labels))
        return members

    def _find_replies(self, message_id: str) -> list[MessageSummary]:
        # Gmail has no search on In-Reply-To/References; a reply Gmail threaded with the
        # original is in its thread, which threads.get returns whole (2 requests).
        originals, threads = self._thread_ids(message_id)
        # Keep the original (its thread id lets the caller accept a header-less reply) and
        # drop our own other mail: Sent and Drafts are never searched for replies.
        return [s for s, labels in self._thread_members(threads)
                if s.id in originals or not (labels & _OWN and "INBOX" not in labels)]

    def _thread(self, message_id: str) -> list[MessageSummary]:
        _, threads = self._thread_ids(message_id)
        return [s for s, _ in self._thread_members(threads)]

