"""The Graph change feed: ``/mailFolders/{id}/messages/delta``, one folder per token.

**Baseline.** Graph has no "now" for a message delta (``$deltatoken=latest`` is documented
for directory objects only) and a ``receivedDateTime`` filter would be encoded into every
later round, limiting it to newer mail — DESIGN §7 wants changes to *every* message. So
`GraphSync._sync_token` pages the initial round with the smallest ``$select``
(``id,createdDateTime``) and ``Prefer: odata.maxpagesize=1000``: ⌈N/1000⌉ requests of about
100 bytes per message, and the resulting ``@odata.deltaLink`` tracks every message in the
folder, old ones included.

**Rounds.** `GraphSync._changes` follows the stored link with
``Prefer: odata.maxpagesize=<limit>``: one request when nothing changed. Entries marked
``@removed`` (deleted, or moved out: a move is a new item elsewhere) are ``removed``; the
others' summaries come from one ``$batch`` per 20 ids. Graph does not say whether an entry
is new or changed, so the token carries a watermark: the newest ``createdDateTime`` seen
(and the ids created at that instant). A message created after it — delivered, or moved
in, which creates a new item — is ``added``; an older one is ``updated``.

The token is a `CursorCodec` sync token (link and watermark, bound to the folder), so a
token of another folder or another adapter is refused before any request, and the link is
only ever followed to this mailbox's Graph root (the bearer token goes wherever the link
points).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlencode

import attrs
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation

from inboxlink import errors
from inboxlink.adapters.graph import _batch, convert
from inboxlink.adapters.graph.errors import PROVIDER, ItemFailure, UnexpectedAnswer
from inboxlink.changes import ChangeSet
from inboxlink.cursor import CursorCodec
from inboxlink.models import Folder, MessageSummary

if TYPE_CHECKING:
    from inboxlink.adapters.graph.connection import GraphSession
    from inboxlink.adapters.graph.settings import GraphSettings
    from inboxlink.retry import RetryPolicy

__all__ = ["BASELINE_PAGE", "DELTA_SELECT", "DeltaToken", "GraphSync"]

T = TypeVar("T")

#: what the delta round selects: the id, and what tells a new message from a changed one
DELTA_SELECT = ("id", "createdDateTime")
#: odata.maxpagesize asked for while paging the baseline (Graph may cap it lower)
BASELINE_PAGE = 1000
#: what a summary fetched after a delta entry selects: the listing's fields + its folder
_SUMMARY_QUERY = urlencode({"$select": ",".join((*convert.SUMMARY_SELECT, "parentFolderId")),
                            "$expand": convert.SUMMARY_EXPAND[0]}, quote_via=quote)
_MAX_TOKEN = 16_384


#: sync tokens: the delta link and the watermark, bound to their folder
_TOKENS = CursorCodec(PROVIDER, kind="sync", error=errors.SyncTokenExpired)


def _expired(reason: str) -> errors.SyncTokenExpired:
    return errors.SyncTokenExpired(f"The sync token {reason}.", provider=PROVIDER,
                                   code="bad-cursor",
                                   remedy="Take a new sync_token() and re-list the folder once.")


@attrs.frozen
class DeltaToken:
    """What a Graph sync token holds (encoded by `CursorCodec`, bound to the folder)."""

    folder: str
    #: the @odata.deltaLink (round complete) or @odata.nextLink (``more`` pages waiting)
    link: str
    #: the newest createdDateTime seen, ISO 8601 ('' before any message)
    mark: str = ""
    #: ids created exactly at ``mark`` (Graph times have whole seconds)
    at_mark: tuple[str, ...] = ()

    def dump(self) -> str:
        """The token string."""
        return _TOKENS.encode(self.folder, {"l": self.link, "m": self.mark,
                                            "x": list(self.at_mark)})

    @classmethod
    def load(cls, text: str, folder: Folder, root: str) -> DeltaToken:
        """Parse and check a token for ``folder``; anything else is ``SyncTokenExpired``."""
        if len(text) > _MAX_TOKEN:
            raise _expired("is too long to be a Graph sync token")
        data = _TOKENS.decode(text, folder.id)  # garbage, another folder: refused here
        link, mark, at_mark = data.get("l"), data.get("m", ""), data.get("x", [])
        if (not isinstance(link, str) or not isinstance(mark, str)
                or not isinstance(at_mark, list)
                or not all(isinstance(i, str) for i in at_mark)):
            raise _expired("is not a Graph sync token")
        if not link.startswith(root + "/"):
            # The bearer token is attached to whatever URL is followed: never another host.
            raise _expired("does not point at this mailbox's Graph endpoint")
        return cls(folder=folder.id, link=link, mark=mark, at_mark=tuple(at_mark))


def _created(item: dict[str, Any]) -> dt.datetime | None:
    return convert.parse_datetime(item.get("createdDateTime"))


@attrs.define
class _Round:
    """One page of a delta round, classified."""

    upserts: dict[str, bool] = attrs.field(factory=dict)  #: id → is it new (added)?
    removed: dict[str, None] = attrs.field(factory=dict)
    mark: str = ""
    at_mark: set[str] = attrs.field(factory=set)

    def take(self, item: dict[str, Any]) -> None:
        mid = str(item.get("id") or "")
        if not mid:
            return
        if "@removed" in item:
            self.upserts.pop(mid, None)
            self.removed[mid] = None
            return
        self.removed.pop(mid, None)
        created = _created(item)
        mark = convert.parse_datetime(self.mark) if self.mark else None
        is_new = created is not None and (
            mark is None or created > mark or (created == mark and mid not in self.at_mark))
        self.upserts[mid] = self.upserts.get(mid, False) or is_new
        if created is not None and (mark is None or created >= mark):
            if mark is None or created > mark:
                self.mark, self.at_mark = str(item["createdDateTime"]), set()
            self.at_mark.add(mid)


class GraphSync:
    """``_sync_token``/``_changes`` on messages/delta (mixed into `GraphMailbox`)."""

    if TYPE_CHECKING:
        settings: GraphSettings
        _retry: RetryPolicy

        def _run(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T: ...

    # ------------------------------------------------------------------ primitives
    def _sync_token(self, folder: Folder) -> str:
        return self._run(self._baseline, folder.id)

    def _changes(self, folder: Folder, token: str, limit: int) -> ChangeSet:
        state = DeltaToken.load(token, folder, self.settings.base_url)
        return self._run(self._delta_page, state, limit)

    # ------------------------------------------------------------------ requests
    def _delta_request(self, session: GraphSession, url: str, page: int) -> RequestInformation:
        info = RequestInformation(Method.GET)
        info.url = url
        info.headers.add("Prefer", f"odata.maxpagesize={page}")
        return info

    async def _baseline(self, session: GraphSession, folder_id: str) -> str:
        query = urlencode({"$select": ",".join(DELTA_SELECT)}, quote_via=quote, safe=",")
        url: str | None = (f"{session.base_url}{session.user_path}/mailFolders/"
                           f"{quote(folder_id, safe='')}/messages/delta?{query}")
        seen = _Round()
        while url:
            data = await session.send_json(self._delta_request(session, url, BASELINE_PAGE))
            for item in data.get("value", []):
                seen.take(item)
            delta_link = data.get("@odata.deltaLink")
            if delta_link:
                return DeltaToken(folder=folder_id, link=str(delta_link), mark=seen.mark,
                                  at_mark=tuple(sorted(seen.at_mark))).dump()
            url = data.get("@odata.nextLink")
            if url:
                self._check_root(str(url))
        raise UnexpectedAnswer("no-delta-link", "Graph ended a delta round without a deltaLink")

    async def _delta_page(self, session: GraphSession, state: DeltaToken,
                          limit: int) -> ChangeSet:
        data = await session.send_json(self._delta_request(session, state.link, limit))
        page = _Round(mark=state.mark, at_mark=set(state.at_mark))
        for item in data.get("value", []):
            page.take(item)
        added, updated, gone = await self._summaries(session, state.folder, page.upserts)
        next_link = data.get("@odata.nextLink")
        link = str(next_link or data.get("@odata.deltaLink") or "")
        if not link:
            raise UnexpectedAnswer("no-delta-link",
                                   "Graph answered a delta request without a next or delta link")
        self._check_root(link)
        token = DeltaToken(folder=state.folder, link=link, mark=page.mark,
                           at_mark=tuple(sorted(page.at_mark)))
        return ChangeSet(added=added, updated=updated, removed=(*page.removed, *gone),
                         token=token.dump(), more=bool(next_link))

    async def _summaries(self, session: GraphSession, folder_id: str, upserts: dict[str, bool]
                         ) -> tuple[list[MessageSummary], list[MessageSummary], list[str]]:
        """Summaries of changed messages, 20 per $batch; those gone meanwhile are removed."""
        if not upserts:
            return [], [], []
        ids = list(upserts)
        requests = [{"id": str(n), "method": "GET",
                     "url": f"{session.user_path}/messages/{quote(mid, safe='')}?{_SUMMARY_QUERY}"}
                    for n, mid in enumerate(ids)]
        answers = await _batch.run_all(session, requests, self._retry)
        added: list[MessageSummary] = []
        updated: list[MessageSummary] = []
        gone: list[str] = []
        for n, mid in enumerate(ids):
            response = answers[str(n)]
            status = _batch.status_of(response)
            body = response.get("body")
            if status == 404:
                gone.append(mid)  # deleted between the delta page and this fetch
                continue
            if status >= 300 or not isinstance(body, dict):
                raise ItemFailure(response)
            if body.get("parentFolderId") not in (None, folder_id):
                gone.append(mid)  # moved out meanwhile; the next round says @removed again
                continue
            summary = convert.summary_from_json(body, folder_id)
            (added if upserts[mid] else updated).append(summary)
        return added, updated, gone

    def _check_root(self, url: str) -> None:
        if not url.startswith(self.settings.base_url + "/"):
            raise UnexpectedAnswer("foreign-link", "Graph returned a delta link to another host")
