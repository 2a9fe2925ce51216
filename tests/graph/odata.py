"""The emulator's subset of OData ``$filter`` and KQL ``$search`` for Outlook messages.

Only the expressions Graph documents for messages are understood; anything else is a
``400`` the way Graph refuses it, so the adapter cannot drift into queries Graph rejects.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

__all__ = ["FilterError", "parse_filter", "parse_search"]

Predicate = Callable[[dict[str, Any]], bool]


class FilterError(ValueError):
    """A query Graph would refuse: ``code`` and ``message`` go into the error body."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _split(text: str, word: str, quote: str = "'") -> list[str]:
    """Split on `` word `` outside ``quote``-quoted text and parentheses."""
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    token = f" {word} "
    while i < len(text):
        ch = text[i]
        if ch == quote:
            quoted = not quoted  # '' (an escaped quote) toggles twice: net unchanged
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and text[i:i + len(token)].lower() == token.lower():
            parts.append(text[start:i])
            i += len(token)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _literal(text: str) -> Any:
    text = text.strip()
    if text.startswith("'") and text.endswith("'") and len(text) >= 2:
        return text[1:-1].replace("''", "'")
    if text in ("true", "false"):
        return text == "true"
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FilterError("BadRequest", f"Invalid filter clause: literal {text!r}.") from None


def _when(value: Any) -> dt.datetime:
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "ge": lambda a, b: a >= b,
    "gt": lambda a, b: a > b, "le": lambda a, b: a <= b, "lt": lambda a, b: a < b,
}

#: filterable message properties → how to read them from the stored JSON
_PROPERTIES: dict[str, Callable[[dict[str, Any]], Any]] = {
    "receivedDateTime": lambda m: _when(m["receivedDateTime"]),
    "isRead": lambda m: bool(m.get("isRead")),
    "hasAttachments": lambda m: bool(m.get("hasAttachments")),
    "internetMessageId": lambda m: m.get("internetMessageId"),
    "conversationId": lambda m: m.get("conversationId"),
    "from/emailAddress/address": lambda m: ((m.get("from") or {}).get("emailAddress") or {})
    .get("address", "").lower(),
    "flag/flagStatus": lambda m: (m.get("flag") or {}).get("flagStatus"),
}

_CLAUSE = re.compile(r"^([A-Za-z/]+)\s+(eq|ne|ge|gt|le|lt)\s+(.+)$", re.S)
_ANY = re.compile(
    r"^singleValueExtendedProperties/any\(\s*(\w+)\s*:\s*\1/id eq '([^']*)'\s+and\s+"
    r"\1/value eq ('(?:[^']|'')*')\s*\)$", re.I | re.S)


def _clause(text: str) -> tuple[str, Predicate]:
    found = _ANY.match(text)
    if found:
        prop_id, wanted = found.group(2).lower(), _literal(found.group(3))
        return "singleValueExtendedProperties", lambda m: any(
            p["id"].lower() == prop_id and p["value"] == wanted
            for p in m.get("singleValueExtendedProperties", []))
    found = _CLAUSE.match(text)
    if not found or found.group(1) not in _PROPERTIES:
        raise FilterError("BadRequest", f"Invalid filter clause: {text}")
    name, op, value = found.group(1), found.group(2), _literal(found.group(3))
    read = _PROPERTIES[name]
    if name == "from/emailAddress/address" and isinstance(value, str):
        value = value.lower()
    if name == "receivedDateTime" and not isinstance(value, dt.datetime):
        raise FilterError("BadRequest", f"Invalid filter clause: {text}")
    compare = _COMPARE[op]
    return name, lambda m: compare(read(m), value)


def parse_filter(text: str, orderby: str | None) -> Predicate:
    """A predicate for ``$filter``; refuses what Exchange refuses (InefficientFilter)."""
    clauses = [_clause(part) for part in _split(text, "and")]
    if orderby:
        # Exchange: every $orderby property must come first in $filter, in the same order.
        first = orderby.split()[0]
        if clauses[0][0] != first:
            raise FilterError("InefficientFilter",
                              "The restriction or sort order is too complex for this operation.")
    return lambda m: all(pred(m) for _, pred in clauses)


def _text(m: dict[str, Any], prop: str) -> str:
    def people(*keys: str) -> str:
        out = []
        for key in keys:
            value = m.get(key)
            for entry in value if isinstance(value, list) else [value]:
                inner = (entry or {}).get("emailAddress") or {}
                out.append(f"{inner.get('name', '')} {inner.get('address', '')}")
        return " ".join(out)

    fields: dict[str, Callable[[], str]] = {
        "subject": lambda: m.get("subject") or "",
        "from": lambda: people("from"),
        "to": lambda: people("toRecipients", "ccRecipients"),
        "body": lambda: m.get("_body", ""),
        "": lambda: " ".join((m.get("subject") or "", m.get("_body", ""), people("from"))),
    }
    if prop not in fields:
        raise FilterError("BadRequest", f"Unsupported search property '{prop}'.")
    return fields[prop]()


_TERM = re.compile(r'^(?:(\w+):)?(?:\\"(.*)\\"|"(.*)"|(\S+))$', re.S)


def parse_search(text: str) -> Predicate:
    """A predicate for a KQL ``$search`` value (``"subject:\\"x\\" AND from:y"``).

    Exchange matches words and prefixes; this matches case-insensitive substrings, a
    superset the adapter narrows anyway.
    """
    text = text.strip()
    if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
        raise FilterError("BadRequest", "Syntax error: the $search value must be quoted.")
    terms = []
    for part in _split(text[1:-1], "AND", '"'):
        found = _TERM.match(part)
        if not found:
            raise FilterError("BadRequest", f"Syntax error in $search term {part!r}.")
        prop = (found.group(1) or "").lower()
        value = next(g for g in found.groups()[1:] if g is not None).casefold()
        terms.append((prop, value))
        _text({}, prop)  # refuse unknown properties up front
    return lambda m: all(value in _text(m, prop).casefold() for prop, value in terms)
