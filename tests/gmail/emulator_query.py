"""The emulator's ``q=`` search: the Gmail operators the adapter emits, with Gmail's word
semantics (a term matches whole words, a quoted phrase consecutive words) rather than the
substring semantics of :func:`inboxlink.query.matches` — so the adapter's client-side
narrowing is exercised against a provider that really differs.

Supported: ``from: to: subject: after: before:`` (epoch seconds or ``YYYY/MM/DD``),
``is:unread|read|starred``, ``has:attachment``, ``rfc822msgid:``, ``in:`` / ``label:``,
bare words and ``"quoted phrases"``, and ``-`` negation. Anything else is a 400, as an
unknown operator would silently match nothing on Gmail and hide a bug here.
"""

from __future__ import annotations

import datetime as dt
import email.message
import email.parser
import email.policy
import re
from collections.abc import Callable, Iterable

__all__ = ["QueryError", "compile_query", "words"]

_TERM = re.compile(r'\s*(-?)(?:([a-z0-9]+):)?("[^"]*"|[^\s"]+)')
_IN_LABELS = {"inbox": "INBOX", "sent": "SENT", "drafts": "DRAFT", "draft": "DRAFT",
              "trash": "TRASH", "spam": "SPAM", "starred": "STARRED", "important": "IMPORTANT"}

Predicate = Callable[["Candidate"], bool]


class QueryError(ValueError):
    """The query uses something the emulator (and so the adapter) does not support."""


class Candidate:
    """What a query is evaluated against: one stored message's labels, time and content."""

    def __init__(self, raw: bytes, labels: Iterable[str], internal_ms: int,
                 label_names: dict[str, str]) -> None:
        self.raw = raw
        self.labels = set(labels)
        self.internal_s = internal_ms / 1000
        self.label_names = label_names
        self._parsed: email.message.EmailMessage | None = None

    @property
    def parsed(self) -> email.message.EmailMessage:
        if self._parsed is None:
            self._parsed = email.parser.BytesParser(policy=email.policy.default).parsebytes(
                self.raw)  # type: ignore[assignment]
        assert self._parsed is not None
        return self._parsed

    def header(self, *names: str) -> str:
        return " ".join(str(v) for n in names for v in self.parsed.get_all(n, []))

    def body(self) -> str:
        part = self.parsed.get_body(preferencelist=("plain", "html"))
        return str(part.get_content()) if part is not None else ""

    def has_attachment(self) -> bool:
        return any(True for _ in self.parsed.iter_attachments())


def words(text: str) -> list[str]:
    """Gmail-ish tokenisation: case-folded runs of letters and digits."""
    return re.findall(r"\w+", text.casefold())


def _phrase_in(phrase: str, text: str) -> bool:
    needle, hay = words(phrase), words(text)
    if not needle:
        return True
    return any(hay[i:i + len(needle)] == needle for i in range(len(hay) - len(needle) + 1))


def _epoch(value: str) -> float:
    if value.isdigit():
        return float(value)
    try:
        day = dt.datetime.strptime(value, "%Y/%m/%d").replace(tzinfo=dt.timezone.utc)
    except ValueError as exc:
        raise QueryError(f"bad date {value!r}") from exc
    return day.timestamp()


def _term(operator: str | None, value: str) -> Predicate:
    if operator is None:
        return lambda c: _phrase_in(value, c.header("Subject", "From", "To", "Cc") + " "
                                    + c.body())
    headers = {"from": ("From",), "to": ("To", "Cc", "Bcc"), "subject": ("Subject",)}
    if operator in headers:
        names = headers[operator]
        return lambda c: _phrase_in(value, c.header(*names))
    if operator == "after":
        when = _epoch(value)
        return lambda c: c.internal_s >= when
    if operator == "before":
        until = _epoch(value)
        return lambda c: c.internal_s < until
    if operator == "rfc822msgid":
        wanted = value.strip("<>")
        return lambda c: c.header("Message-ID").strip().strip("<>") == wanted
    if operator == "has" and value == "attachment":
        return lambda c: c.has_attachment()
    if operator == "is" and value in ("unread", "read", "starred"):
        label, present = {"unread": ("UNREAD", True), "read": ("UNREAD", False),
                          "starred": ("STARRED", True)}[value]
        return lambda c: (label in c.labels) is present
    if operator == "in" and value.lower() in _IN_LABELS:
        label = _IN_LABELS[value.lower()]
        return lambda c: label in c.labels
    if operator == "in" and value.lower() == "anywhere":
        return lambda c: True
    if operator == "label":
        return lambda c: any(value.casefold() in (lid.casefold(), c.label_names.get(lid, "")
                                                  .casefold()) for lid in c.labels)
    raise QueryError(f"unsupported operator {operator}:{value}")


def compile_query(q: str) -> Predicate:
    """A predicate for ``q`` (every term must hold); raises :class:`QueryError`."""
    terms: list[Predicate] = []
    position = 0
    q = q.strip()
    while position < len(q):
        match = _TERM.match(q, position)
        if not match or match.end() == position:
            raise QueryError(f"cannot parse {q[position:]!r}")
        negate, operator, value = match.groups()
        position = match.end()
        value = value[1:-1] if value.startswith('"') else value
        predicate = _term(operator.lower() if operator else None, value)
        terms.append((lambda p: lambda c: not p(c))(predicate) if negate else predicate)
    return lambda c: all(t(c) for t in terms)
