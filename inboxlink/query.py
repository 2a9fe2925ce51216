"""`SearchQuery`, the portable search every adapter maps to its provider's own.

Every field set must match (AND). Text comparisons are case-insensitive substring matches;
``since`` is inclusive and ``before`` exclusive, both compared with the date the message
was received (falling back to its Date header). `matches()` is the reference
semantics, used by the fake and by adapters to check a provider's broader answer.
"""

from __future__ import annotations

import datetime as dt

import attrs

from inboxlink.models import Address, MessageSummary

__all__ = ["SearchQuery", "matches"]


def _day_or_time(value: dt.date | dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value


@attrs.frozen
class SearchQuery:
    """What to look for; unset fields (``None``) do not restrict the search.

    Args:
        from_: sender address or name contains this.
        to: a To/Cc recipient's address or name contains this.
        subject: the subject contains this.
        text: the subject or body contains this (providers search words, see the docs).
        since: received on or after this date/time (a ``date`` means its midnight, UTC).
        before: received before this date/time.
        unread: only unread (``True``) or only read (``False``) messages.
        flagged: only flagged/starred (``True``) or only unflagged (``False``) messages.
        has_attachments: only messages with (``True``) or without (``False``) attachments.
        message_id: the message whose Message-ID is this (angle brackets optional).
    """

    from_: str | None = None
    to: str | None = None
    subject: str | None = None
    text: str | None = None
    since: dt.datetime | None = attrs.field(default=None, converter=_day_or_time)
    before: dt.datetime | None = attrs.field(default=None, converter=_day_or_time)
    unread: bool | None = None
    flagged: bool | None = None
    has_attachments: bool | None = None
    message_id: str | None = None

    def __attrs_post_init__(self) -> None:
        for name in ("from_", "to", "subject", "text", "message_id"):
            value = getattr(self, name)
            if value is not None and ("\r" in value or "\n" in value or not value.strip()):
                from inboxlink.errors import ConfigurationError

                raise ConfigurationError(
                    f"SearchQuery.{name} must be a non-empty single line.",
                    code="search-query", remedy=f"Pass a single line of text as {name}=.",
                )

    @property
    def bracketed_message_id(self) -> str | None:
        """``message_id`` with exactly one pair of angle brackets."""
        if self.message_id is None:
            return None
        return "<" + self.message_id.strip().strip("<>") + ">"

    def is_empty(self) -> bool:
        """True when no field restricts the search (it then lists the folder)."""
        return all(v is None for v in attrs.astuple(self, recurse=False))


def _contains(needle: str, *haystacks: str | None) -> bool:
    lowered = needle.casefold()
    return any(h is not None and lowered in h.casefold() for h in haystacks)


def _address_matches(needle: str, addresses: tuple[Address, ...]) -> bool:
    return any(_contains(needle, a.email, a.name) for a in addresses)


def matches(query: SearchQuery, summary: MessageSummary, *, body: str | None = None,
            has_attachments: bool | None = None) -> bool:
    """Whether ``summary`` satisfies ``query`` (``body``/``has_attachments`` when known).

    A field the caller cannot check (``text`` without ``body``, ``has_attachments`` unknown)
    is taken as matching, so adapters can use this to narrow a provider's answer.
    """
    checks = (
        query.from_ is None or _address_matches(query.from_, (summary.from_,) if summary.from_ else ()),
        query.to is None or _address_matches(query.to, summary.to + summary.cc),
        query.subject is None or _contains(query.subject, summary.subject),
        query.text is None or body is None or _contains(query.text, summary.subject, body),
        query.unread is None or query.unread is not summary.seen,
        query.flagged is None or query.flagged is ("\\Flagged" in summary.flags),
        query.has_attachments is None or has_attachments is None
        or query.has_attachments is has_attachments,
        query.message_id is None or summary.message_id == query.bracketed_message_id,
    )
    if not all(checks):
        return False
    when = summary.received_at or summary.date
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    if query.since is not None and (when is None or when < query.since):
        return False
    return not (query.before is not None and (when is None or when >= query.before))
