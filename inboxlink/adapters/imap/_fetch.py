"""UID FETCH / SEARCH with compact UID sets, and a fast parser for the FETCH replies we ask for.

The commands themselves go through `_imapclient_shim` (the one place touching library
internals); this module decides what to send and reads what comes back:

* imapclient's ``fetch`` takes a list of UIDs and sends them comma-separated; a long list
  overflows the server's line limit. `uid_fetch` sends a collapsed UID set
  (``1:500,502``).
* imapclient's ``search`` returns every matching UID; for the newest page of a large folder
  `newest_uids` asks for ``RETURN (ALL)`` (RFC 4731 ESEARCH), a compact UID set read
  from its top end, when the server supports it.
* imapclient's general response lexer costs more than everything else in a listing. The
  FETCH replies we ask for have a fixed, simple shape, so `parse_fetch` reads them
  with one regular expression and hands anything unusual to imapclient's own parser.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from imapclient import IMAPClient
from imapclient.datetime_util import parse_to_datetime
from imapclient.response_parser import parse_fetch_response

from inboxlink.adapters.imap import _imapclient_shim as shim

__all__ = ["newest_uids", "parse_fetch", "section_chunks", "uid_fetch", "uid_set"]

_HEAD = re.compile(rb"(\d+) \(")
_ITEM = re.compile(
    rb" ?(?:(?P<num>UID|RFC822\.SIZE) (?P<n>\d+)"
    rb"|FLAGS \((?P<flags>[^()]*)\)"
    rb"|MODSEQ \((?P<modseq>\d+)\)"
    rb'|INTERNALDATE "(?P<date>[^"]*)"'
    rb"|(?P<body>BODY\[[^\]]*\](?:<\d+>)?) (?:\{(?P<lit>\d+)\}$|(?P<nil>NIL)"
    rb'|"(?P<quoted>[^"\\]*)"))'
)


_INTERNALDATE = re.compile(
    rb" ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)")
_MONTHS = {m: i for i, m in enumerate(
    (b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
     b"dec"), 1)}
_ZONES: dict[bytes, dt.tzinfo] = {}


def _internal_date(value: bytes, normalise: bool) -> dt.datetime:
    """INTERNALDATE as an aware datetime; unusual forms go to imapclient's parser."""
    found = None if normalise else _INTERNALDATE.fullmatch(value)
    month = _MONTHS.get(found.group(2).lower()) if found else None
    if found is None or month is None:
        parsed: dt.datetime = parse_to_datetime(value, normalise=normalise)
        return parsed
    zone_key = found.group(7) + found.group(8) + found.group(9)
    zone = _ZONES.get(zone_key)
    if zone is None:
        delta = dt.timedelta(hours=int(found.group(8)), minutes=int(found.group(9)))
        zone = _ZONES[zone_key] = dt.timezone(-delta if found.group(7) == b"-" else delta)
    return dt.datetime(int(found.group(3)), month, int(found.group(1)), int(found.group(4)),
                       int(found.group(5)), int(found.group(6)), tzinfo=zone)


class _Unusual(Exception):
    """A reply shape the fast path does not handle."""


def _items(line: bytes, pos: int, into: dict[bytes, Any],
           normalise: bool) -> tuple[int, bytes | None]:
    """Parse items from ``pos``; returns (position, pending literal key or None)."""
    while True:
        if line.startswith(b")", pos):
            return pos + 1, None
        found = _ITEM.match(line, pos)
        if found is None:
            raise _Unusual(line[pos:pos + 40])
        pos = found.end()
        if found["num"] is not None:
            into[found["num"]] = int(found["n"])
        elif found["flags"] is not None:
            into[b"FLAGS"] = tuple(found["flags"].split())
        elif found["modseq"] is not None:
            # CONDSTORE/QRESYNC sessions add MODSEQ to every FETCH answer (RFC 7162)
            into[b"MODSEQ"] = (int(found["modseq"]),)
        elif found["date"] is not None:
            into[b"INTERNALDATE"] = _internal_date(found["date"], normalise)
        elif found["lit"] is not None:
            return pos, found["body"]
        else:
            into[found["body"]] = None if found["nil"] else found["quoted"]


def parse_fetch(data: list[Any], normalise: bool) -> dict[int, dict[bytes, Any]]:
    """FETCH replies as imapclient would return them, parsed on the fast path when possible."""
    try:
        return _parse_fast(data, normalise)
    except (_Unusual, ValueError, IndexError, TypeError):
        parsed: dict[int, dict[bytes, Any]] = parse_fetch_response(data, normalise, True)
        return parsed


def _parse_fast(data: list[Any], normalise: bool) -> dict[int, dict[bytes, Any]]:
    result: dict[int, dict[bytes, Any]] = {}
    current: dict[bytes, Any] | None = None
    for piece in data:
        if piece is None:
            continue
        literal = None
        if isinstance(piece, tuple):
            line, literal = piece
        else:
            line = piece
        if current is None:
            head = _HEAD.match(line)
            if head is None:
                raise _Unusual(line[:40])
            current = {b"SEQ": int(head.group(1))}
            pos = head.end()
        else:
            pos = 0
        pos, pending = _items(line, pos, current, normalise) if line else (0, None)
        if literal is not None:
            if pending is None:
                raise _Unusual(b"literal without item")
            current[pending] = literal
            continue
        if pos != len(line):
            raise _Unusual(line[pos:pos + 40])
        if pending is None:
            if b"UID" not in current:
                raise _Unusual(b"no UID")
            result[current.pop(b"UID")] = current
            current = None
    if current is not None:
        raise _Unusual(b"unterminated")
    return result


def uid_set(uids: Iterable[int]) -> str:
    """UIDs as a compact IMAP set: ``[1, 2, 3, 5]`` → ``"1:3,5"``."""
    ordered = sorted(set(uids))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}:{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def uid_fetch(client: IMAPClient, uids: str, items: Sequence[str]) -> dict[int, dict[bytes, Any]]:
    """``UID FETCH <uids> (<items>)`` → ``{uid: {b'ITEM': value}}`` as imapclient parses it."""
    data = shim.uid_fetch_raw(client, uids, "(" + " ".join(items) + ")")
    return parse_fetch(data, client.normalise_times)


_ESEARCH_ALL = re.compile(rb"\bALL ([\d:,]+)")


def _from_top(uid_set_text: bytes, below: int | None, count: int) -> list[int]:
    """Up to ``count`` UIDs of an IMAP set, highest first, all below ``below``."""
    result: list[int] = []
    ranges = []
    for part in uid_set_text.split(b","):
        first, _, last = part.partition(b":")
        low, high = sorted((int(first), int(last or first)))
        ranges.append((low, high))
    for low, high in sorted(ranges, reverse=True):
        top = high if below is None else min(high, below - 1)
        for uid in range(top, low - 1, -1):
            if len(result) == count:
                return result
            result.append(uid)
    return result


def newest_uids(client: IMAPClient, below: int | None, limit: int, *,
                esearch: bool) -> tuple[list[int], bool]:
    """The ``limit`` highest UIDs of the selected folder (below ``below``), newest first,
    and whether older ones remain."""
    criteria = ["UID", f"1:{below - 1}"] if below is not None else ["ALL"]
    if not esearch:
        found = sorted((u for u in client.search(criteria) if below is None or u < below),
                       reverse=True)
        return found[:limit], len(found) > limit
    line = shim.esearch_all(client, criteria)
    found_set = _ESEARCH_ALL.search(line)
    if found_set is None:
        return [], False
    top = _from_top(found_set.group(1), below, limit + 1)
    return top[:limit], len(top) > limit


def section_chunks(client: IMAPClient, uid: int, section: str, step: int) -> Iterator[bytes]:
    """A body section (``""``: the whole message) of the selected folder in partial FETCHes.

    Reads until a part comes back short: RFC822.SIZE and BODYSTRUCTURE sizes are only
    estimates on some servers, so they must not decide where the data ends.
    """
    offset = 0
    while True:
        data = uid_fetch(client, str(uid), ("UID", f"BODY.PEEK[{section}]<{offset}.{step}>"))
        piece = data.get(uid, {}).get(f"BODY[{section}]<{offset}>".encode()) or b""
        if piece:
            yield bytes(piece)
        offset += len(piece)
        if len(piece) < step:
            return
