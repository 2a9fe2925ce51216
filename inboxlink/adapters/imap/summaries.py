"""Summaries from the header fields of one UID FETCH, parsed on a fast path.

Listing must cost little more than reading the bytes (DESIGN §4): no ENVELOPE, no
``email.policy.default`` per message. Header values that are plain ASCII take a few string
operations; only encoded words, quoted names or address lists fall back to the stdlib.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from email.header import decode_header, make_header
from email.utils import getaddresses
from typing import Any

from inboxlink import mime
from inboxlink.models import Address, MessageSummary

__all__ = ["HEADER_FIELDS", "SUMMARY_ITEMS", "parse_addresses", "parse_date", "summary"]

HEADER_FIELDS = ("SUBJECT", "FROM", "TO", "CC", "DATE", "MESSAGE-ID", "IN-REPLY-TO", "REFERENCES")
_SECTION = "BODY.PEEK[HEADER.FIELDS (" + " ".join(HEADER_FIELDS) + ")]"
_RESPONSE_KEY = _SECTION.replace(".PEEK", "").encode()
#: the FETCH items of one summary
SUMMARY_ITEMS = ("UID", "FLAGS", "RFC822.SIZE", "INTERNALDATE", _SECTION)

_ENCODED_WORD = re.compile(r"=\?([\w-]+)\?([qQbB])\?([^?\s]*)\?=")
_FOLD = re.compile(rb"\r?\n[ \t]")
_SIMPLE_ADDR = re.compile(r'^\s*(?:"?([^"<>,@;:\\]*?)"?\s*)?<([^<>\s,]+@[^<>\s,]+)>\s*$')
_BARE_ADDR = re.compile(r"^\s*([^\s<>,;:\"()]+@[^\s<>,;:\"()]+)\s*$")
_DATE = re.compile(
    r"^\s*(?:[A-Za-z]{3},\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?"
    r"\s+([+-])(\d{2})(\d{2})"
)
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_ZONES: dict[tuple[str, str, str], dt.tzinfo] = {}


def _fields(block: bytes) -> dict[str, str]:
    """Unfolded header fields (lower-case names → raw values, first occurrence wins)."""
    result: dict[str, str] = {}
    for line in _FOLD.sub(b" ", block).split(b"\n"):
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        key = name.strip().lower().decode("ascii", "replace")
        if key not in result:
            result[key] = value.strip().decode("utf-8", "replace")
    return result


def _decode(value: str) -> str:
    if "=?" not in value:
        return value
    word = _ENCODED_WORD.fullmatch(value)
    if word is not None:
        # One encoded word (the usual shape) is decoded directly; anything else (several
        # words, mixed text) goes through the stdlib.
        charset, kind, text = word.groups()
        try:
            data = (binascii.a2b_qp(text.encode("ascii"), header=True) if kind in "qQ"
                    else base64.b64decode(text + "=" * (-len(text) % 4)))
            return data.decode(charset)
        except (LookupError, ValueError, UnicodeError):
            pass
    try:
        return str(make_header(decode_header(value)))
    except (LookupError, ValueError, UnicodeError):
        return value


def _one_address(value: str) -> Address | None:
    simple = _SIMPLE_ADDR.match(value)
    if simple:
        name = (simple.group(1) or "").strip()
        return Address(email=simple.group(2), name=_decode(name) if name else None)
    bare = _BARE_ADDR.match(value)
    return Address(email=bare.group(1)) if bare else None


def parse_addresses(value: str | None) -> tuple[Address, ...]:
    """Addresses in a header value: common shapes on the fast path, the rest by the stdlib.

    The fast path takes ``Name <a@b>``, ``"Name" <a@b>``, ``=?…?= <a@b>`` and ``a@b``, and
    comma-separated lists of them when no quoting, comment or group syntax is present.
    """
    if not value:
        return ()
    if value.count("@") == 1:
        single = _one_address(value)
        if single is not None:
            return (single,)
    elif not any(c in value for c in '"();:\\'):
        found = [_one_address(part) for part in value.split(",")]
        if all(found):
            return tuple(a for a in found if a is not None)
    return tuple(Address(email=email, name=_decode(name) or None)
                 for name, email in getaddresses([value]) if email)


def parse_date(value: str | None) -> dt.datetime | None:
    """An RFC 5322 date; the common shape on a regex, anything else through the stdlib."""
    if not value:
        return None
    found = _DATE.match(value)
    month = _MONTHS.get(found.group(2).lower()) if found else None
    if found is None or month is None:
        return mime.parse_date(value)
    sign, hours, minutes = found.group(7, 8, 9)
    zone = _ZONES.get((sign, hours, minutes))
    if zone is None:
        delta = dt.timedelta(hours=int(hours), minutes=int(minutes))
        zone = dt.timezone(-delta if sign == "-" else delta)
        _ZONES[(sign, hours, minutes)] = zone
    try:
        return dt.datetime(int(found.group(3)), month, int(found.group(1)), int(found.group(4)),
                           int(found.group(5)), int(found.group(6) or 0), tzinfo=zone)
    except ValueError:
        return mime.parse_date(value)


def _header_block(data: dict[bytes, Any]) -> bytes:
    block = data.get(_RESPONSE_KEY)
    if block is None:
        # Servers may echo the section spec differently (case, quoting): find it by prefix.
        block = next((v for k, v in data.items()
                      if k.upper().startswith(b"BODY[HEADER.FIELDS")), None)
    return block if isinstance(block, bytes) else b""


def summary(message_id: str, folder_id: str, data: dict[bytes, Any]) -> MessageSummary:
    """A :class:`MessageSummary` from one message's FETCH data."""
    fields = _fields(_header_block(data))
    get = fields.get
    subject = get("subject")
    msgid = get("message-id")
    reply_to = get("in-reply-to")
    internal = data.get(b"INTERNALDATE")
    return MessageSummary(
        id=message_id,
        folder_id=folder_id,
        subject=_decode(subject) if subject is not None else None,
        from_=next(iter(parse_addresses(get("from"))), None),
        to=parse_addresses(get("to")),
        cc=parse_addresses(get("cc")),
        date=parse_date(get("date")),
        received_at=internal if isinstance(internal, dt.datetime) else None,
        message_id=msgid or None,
        in_reply_to=(mime.split_msgids(reply_to) or (reply_to,))[0] if reply_to else None,
        references=mime.split_msgids(get("references")),
        flags=frozenset(f.decode("utf-8", "replace") if isinstance(f, bytes) else str(f)
                        for f in data.get(b"FLAGS", ())),
        size=data.get(b"RFC822.SIZE"),
    )
