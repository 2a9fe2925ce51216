"""How a `SearchQuery` becomes a Graph message query (pure functions).

Graph offers two languages that cannot be mixed in one request:

- ``$filter`` (OData) is exact and can be sorted (``$orderby=receivedDateTime desc``), but
  has no substring match: it serves ``message_id`` (``internetMessageId eq``), ``since`` /
  ``before`` (``receivedDateTime ge/lt``), ``unread`` (``isRead eq``), ``flagged``
  (``flag/flagStatus eq``), ``has_attachments`` (``hasAttachments eq``) and a ``from_``
  that is a whole address (``from/emailAddress/address eq``). Exchange refuses a filter
  whose first clause is not the ``$orderby`` property (``InefficientFilter``), so every
  filter starts with ``receivedDateTime``.
- ``$search`` (KQL) finds words in ``subject:``, ``from:``, ``to:`` and the whole message,
  but cannot be combined with ``$filter`` or ``$orderby`` and returns results by sent date.

A query with any text field (``subject``, ``to``, ``text``, or a ``from_`` that is not a
whole address) is a ``$search`` of those words, and the adapter narrows the answer with
`inboxlink.query.matches` for the other fields. Anything else is one exact ``$filter``.
``ConsistencyLevel: eventual`` is a directory-object (users, groups) requirement; message
search does not take it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import attrs

from inboxlink.query import SearchQuery

__all__ = ["QueryPlan", "kql", "literal", "plan"]

_ADDRESS = re.compile(r"[^@\s\"'<>]+@[^@\s\"'<>]+\.[^@\s\"'<>]+")
#: the lower bound that puts receivedDateTime first in a filter with no ``since``
_EPOCH = dt.datetime(1900, 1, 1, tzinfo=dt.timezone.utc)


def literal(value: str) -> str:
    """An OData string literal (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def kql(value: str) -> str:
    """A KQL phrase inside a quoted ``$search`` value; quotes and backslashes are dropped
    (KQL matches words, so they carry no meaning)."""
    return '\\"' + " ".join(re.sub(r'["\\]+', " ", value).split()) + '\\"'


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_address(value: str | None) -> bool:
    return value is not None and bool(_ADDRESS.fullmatch(value.strip()))


#: exact ``$filter`` clauses, after the leading ``receivedDateTime`` bound
_FILTERS: tuple[Callable[[SearchQuery], str | None], ...] = (
    lambda q: None if q.before is None else f"receivedDateTime lt {_iso(q.before)}",
    lambda q: None if q.message_id is None
    else f"internetMessageId eq {literal(q.bracketed_message_id or '')}",
    lambda q: None if q.unread is None else f"isRead eq {str(not q.unread).lower()}",
    lambda q: None if q.flagged is None
    else f"flag/flagStatus eq {literal('flagged' if q.flagged else 'notFlagged')}",
    lambda q: None if q.has_attachments is None
    else f"hasAttachments eq {str(q.has_attachments).lower()}",
    lambda q: None if q.from_ is None
    else f"from/emailAddress/address eq {literal(q.from_.strip().lower())}",
)

#: KQL properties for the text fields
_SEARCH: tuple[tuple[str, Callable[[SearchQuery], str | None]], ...] = (
    ("from:", lambda q: q.from_),
    ("subject:", lambda q: q.subject),
    ("to:", lambda q: q.to),
    ("", lambda q: q.text),
)


@attrs.frozen
class QueryPlan:
    """The Graph query parameters for one search."""

    filter: str | None = None
    search: str | None = None
    #: the server applies every field (no narrowing needed, pages are exact)
    exact: bool = True

    def params(self) -> dict[str, str]:
        """Query parameters (besides $select/$expand/$top)."""
        if self.search is not None:
            return {"$search": self.search}
        out = {"$orderby": "receivedDateTime desc"}
        if self.filter:
            out["$filter"] = self.filter
        return out


def plan(query: SearchQuery) -> QueryPlan:
    """How to ask Graph for ``query`` (see the module docstring)."""
    text_fields = (query.subject, query.to, query.text)
    if any(v is not None for v in text_fields) or (
            query.from_ is not None and not _is_address(query.from_)):
        terms = [f"{prop}{kql(value)}" for prop, get in _SEARCH if (value := get(query))]
        return QueryPlan(search='"' + " AND ".join(terms) + '"', exact=False)
    clauses = [f"receivedDateTime ge {_iso(query.since or _EPOCH)}"]
    clauses.extend(c for build in _FILTERS if (c := build(query)) is not None)
    if len(clauses) == 1 and query.since is None:
        return QueryPlan()  # nothing to restrict: a plain newest-first listing
    return QueryPlan(filter=" and ".join(clauses))
