"""Acting on mail and finding it through Graph (mixed into `GraphMailbox`).

- read / flag: ``PATCH /messages/{id}`` with ``isRead`` or ``flag.flagStatus``;
- move: ``POST /messages/{id}/move`` (the answer is the new item, so its new id);
- delete: a move to ``deleteditems``; ``permanent=True``: ``POST …/permanentDelete``;

all 20 per JSON ``$batch``, batches in flight together under the mailbox's limit. An item
answered 404 (or a malformed id) is *missing*; the others are still done. Moves and
deletes are re-sent only when the item was throttled (429: refused before it ran).

- search: see `._search` for what maps to ``$filter`` and what to ``$search``;
- replies and threads: the original by ``internetMessageId``, direct replies by their
  In-Reply-To (``PR_IN_REPLY_TO_ID`` extended property), then every message sharing their
  ``conversationId`` — mailbox-wide queries, two ``$batch`` round trips.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlencode

from inboxlink import errors
from inboxlink.adapters.graph import _batch, _reads, _search, convert
from inboxlink.adapters.graph.errors import PROVIDER, ItemFailure
from inboxlink.cursor import CursorCodec
from inboxlink.mailbox_actions import FLAGGED, SEEN
from inboxlink.models import Folder, FolderRole, MessageSummary, Page
from inboxlink.query import SearchQuery, matches

if TYPE_CHECKING:
    from inboxlink.adapters.graph.connection import GraphSession
    from inboxlink.adapters.graph.settings import GraphSettings
    from inboxlink.retry import RetryPolicy

__all__ = ["FLAG_BODIES", "GraphActions"]

T = TypeVar("T")

#: the PATCH body that sets each flag
FLAG_BODIES: dict[str, Callable[[bool], dict[str, Any]]] = {
    SEEN: lambda value: {"isRead": value},
    FLAGGED: lambda value: {"flag": {"flagStatus": "flagged" if value else "notFlagged"}},
}
#: item answers that mean "no such message" (gone, or an id that cannot be one)
_MISSING_CODES = frozenset({"erroritemnotfound", "itemnotfound", "errorinvalididmalformed"})
_JSON = {"Content-Type": "application/json"}
#: what a search or thread query selects: the listing's fields and what narrowing needs
_SELECT = ",".join((*convert.SUMMARY_SELECT, "hasAttachments", "parentFolderId"))
#: Graph pages read by one search() call before it returns a short page with a cursor
_SEARCH_PAGES = 10
_NOT_REPLIES = (FolderRole.SENT, FolderRole.DRAFTS)
#: search cursors: the page's link and how many of its items were already returned
_SEARCH_CURSORS = CursorCodec(PROVIDER, kind="search")


def _is_missing(response: dict[str, Any]) -> bool:
    status = _batch.status_of(response)
    return status == 404 or (status == 400
                             and _batch.error_code(response).lower() in _MISSING_CODES)


class GraphActions:
    """The action and search primitives of `ActionMixin`."""

    if TYPE_CHECKING:
        settings: GraphSettings
        _retry: RetryPolicy

        def _run(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T: ...
        def _item_error(self, response: dict[str, Any]) -> errors.InboxLinkError: ...
        def _check_link(self, url: object) -> None: ...
        def folders(self, *, refresh: bool = False) -> list[Folder]: ...

    # ------------------------------------------------------------------ actions
    def _set_flag(self, ids: list[str], flag: str, value: bool) -> list[str]:
        answers = self._run(self._each, ids, "PATCH", "", FLAG_BODIES[flag](value),
                            _batch.RETRY_STATUSES)
        return self._missing_or_raise(answers)

    def _move(self, ids: list[str], target: Folder) -> dict[str, str | None]:
        return self._move_to(ids, target.id)

    def _delete(self, ids: list[str], permanent: bool) -> list[str]:
        if not permanent:
            moved = self._move_to(ids, "deleteditems")  # Graph's well-known Deleted Items
            return [i for i in ids if i not in moved]
        answers = self._run(self._each, ids, "POST", "/permanentDelete", None,
                            _batch.NOT_EXECUTED)
        return self._missing_or_raise(answers)

    def _move_to(self, ids: list[str], destination: str) -> dict[str, str | None]:
        answers = self._run(self._each, ids, "POST", "/move", {"destinationId": destination},
                            _batch.NOT_EXECUTED)
        moved: dict[str, str | None] = {}
        failure: dict[str, Any] | None = None
        for mid, response in answers:
            if _is_missing(response):
                continue
            if _batch.status_of(response) >= 300:
                failure = failure or response
                continue
            body = response.get("body")
            new = body.get("id") if isinstance(body, dict) else None
            moved[mid] = str(new) if new else None
        if failure is not None:
            raise self._item_error(failure)
        return moved

    def _missing_or_raise(self, answers: list[tuple[str, dict[str, Any]]]) -> list[str]:
        missing = [mid for mid, response in answers if _is_missing(response)]
        failed = [r for mid, r in answers if _batch.status_of(r) >= 300 and mid not in missing]
        if failed:
            raise self._item_error(failed[0])
        return missing

    async def _each(self, session: GraphSession, ids: list[str], method: str, suffix: str,
                    body: dict[str, Any] | None, retry: Collection[int]
                    ) -> list[tuple[str, dict[str, Any]]]:
        requests = []
        for n, mid in enumerate(ids):
            item: dict[str, Any] = {
                "id": str(n), "method": method,
                "url": f"{session.user_path}/messages/{quote(mid, safe='')}{suffix}"}
            if body is not None:
                item["headers"] = _JSON
                item["body"] = body
            requests.append(item)
        answers = await _batch.run_all(session, requests, self._retry, retry)
        return [(mid, answers[str(n)]) for n, mid in enumerate(ids)]

    # ------------------------------------------------------------------ search
    def _search(self, folder: Folder, query: SearchQuery, limit: int,
                cursor: str | None) -> Page[MessageSummary]:
        start = self._search_cursor(cursor, folder) if cursor is not None else None
        return self._run(self._search_pages, folder.id, query, limit, start)

    def _search_cursor(self, cursor: str, folder: Folder) -> tuple[str, int]:
        # A listing cursor, another folder's search cursor or a link to another host is
        # refused before any request.
        state = _SEARCH_CURSORS.decode(cursor, folder.id)
        url, skip = state.get("link"), state.get("skip")
        if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
            raise errors.CursorExpired("The cursor does not apply here. It is damaged.",
                                       provider=PROVIDER, code="bad-cursor",
                                       remedy="Pass page.next_cursor exactly as returned, "
                                              "with the same folder and query.")
        self._check_link(url)
        assert isinstance(url, str)
        return url, skip

    async def _search_pages(self, session: GraphSession, folder_id: str, query: SearchQuery,
                            limit: int, start: tuple[str, int] | None) -> Page[MessageSummary]:
        plan = _search.plan(query)
        if start is None:
            # Narrowed searches ask for more per page: some of each page may be dropped.
            top = limit if plan.exact else max(limit, 50)
            params = {**plan.params(), "$select": _SELECT, "$expand": convert.SUMMARY_EXPAND[0],
                      "$top": str(min(top, 1000))}
            url = (f"{session.base_url}{session.user_path}/mailFolders/"
                   f"{quote(folder_id, safe='')}/messages?{urlencode(params, quote_via=quote)}")
            skip = 0
        else:
            url, skip = start
        found: list[MessageSummary] = []
        for _ in range(_SEARCH_PAGES):
            data = await session.send_json(_reads.get(url))
            items = data.get("value", [])
            next_link = data.get("@odata.nextLink")
            for index in range(skip, len(items)):
                item = items[index]
                summary = convert.summary_from_json(item, folder_id)
                if not matches(query, summary, has_attachments=item.get("hasAttachments")):
                    continue
                found.append(summary)
                if len(found) == limit:
                    if index + 1 < len(items):
                        return Page(items=tuple(found),
                                    next_cursor=_cursor(folder_id, url, index + 1))
                    return Page(items=tuple(found),
                                next_cursor=(_cursor(folder_id, next_link, 0)
                                             if next_link else None))
            if not next_link:
                return Page(items=tuple(found), next_cursor=None)
            self._check_link(str(next_link))
            url, skip = str(next_link), 0
        # Many pages dropped by narrowing: hand back what was found and where to go on.
        return Page(items=tuple(found), next_cursor=_cursor(folder_id, url, 0))

    # ------------------------------------------------------------------ replies, threads
    def _find_replies(self, message_id: str) -> list[MessageSummary]:
        hidden = {f.id for f in self.folders() if f.role in _NOT_REPLIES}
        return [s for s in self._run(self._conversation, message_id)
                if s.folder_id not in hidden or s.message_id == message_id]

    def _thread(self, message_id: str) -> list[MessageSummary]:
        return self._run(self._conversation, message_id)

    async def _conversation(self, session: GraphSession, message_id: str) -> list[MessageSummary]:
        wanted = _search.literal(message_id)
        first = await self._query_all(session, [
            f"internetMessageId eq {wanted}",
            f"singleValueExtendedProperties/any(ep: ep/id eq '{convert.PROP_IN_REPLY_TO}' "
            f"and ep/value eq {wanted})",
        ])
        conversations = sorted({s.thread_id for s in first if s.thread_id})
        rest = await self._query_all(
            session, [f"conversationId eq {_search.literal(c)}" for c in conversations])
        return first + rest

    async def _query_all(self, session: GraphSession,
                         filters: list[str]) -> list[MessageSummary]:
        """Every message (any folder) matching each filter: one $batch, then nextLinks."""
        if not filters:
            return []
        requests = [{"id": str(n), "method": "GET", "url": f"{session.user_path}/messages?"
                     + urlencode({"$filter": flt, "$select": _SELECT, "$top": "1000",
                                  "$expand": convert.SUMMARY_EXPAND[0]}, quote_via=quote)}
                    for n, flt in enumerate(filters)]
        answers = await _batch.run_all(session, requests, self._retry)
        found: list[MessageSummary] = []
        for n in range(len(filters)):
            response = answers[str(n)]
            body = response.get("body")
            if _batch.status_of(response) >= 300 or not isinstance(body, dict):
                raise ItemFailure(response)
            while True:
                found.extend(convert.summary_from_json(item, str(item.get("parentFolderId") or ""))
                             for item in body.get("value", []))
                next_link = body.get("@odata.nextLink")
                if not next_link:
                    break
                self._check_link(str(next_link))
                body = await session.send_json(_reads.get(str(next_link)))
        return found


def _cursor(folder_id: str, url: str, skip: int) -> str:
    return _SEARCH_CURSORS.encode(folder_id, {"link": url, "skip": skip})
