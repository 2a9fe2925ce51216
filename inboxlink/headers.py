"""Fast parsing of raw RFC 5322 header values, for listings.

Summaries must cost little more than reading the bytes (DESIGN §4). Values of the common
shapes (one encoded word, ``Name <a@b>``, ``a@b``, ``Mon, 2 Mar 2026 10:00:00 +0100``) take a
few string operations; anything else goes through the stdlib ``email`` helpers, which give
the same answers more slowly. Used by every adapter that receives raw header values.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from email.header import decode_header, make_header
from email.utils import getaddresses

from inboxlink import mime
from inboxlink.models import Address

__all__ = ["decode_words", "parse_addresses", "parse_date"]

_ENCODED_WORD = re.compile(r"=\?([\w-]+)\?([qQbB])\?([^?\s]*)\?=")
_SIMPLE_ADDR = re.compile(r'^\s*(?:"?([^"<>,@;:\\]*?)"?\s*)?<([^<>\s,]+@[^<>\s,]+)>\s*$')
_BARE_ADDR = re.compile(r"^\s*([^\s<>,;:\"()]+@[^\s<>,;:\"()]+)\s*$")
_DATE = re.compile(
    r"^\s*(?:[A-Za-z]{3},\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?"
    r"\s+([+-])(\d{2})(\d{2})"
)
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_ZONES: dict[tuple[str, str, str], dt.tzinfo] = {}


def decode_words(value: str) -> str:
    """A header value with its RFC 2047 encoded words decoded (the value itself if broken)."""
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
        return Address(email=simple.group(2), name=decode_words(name) if name else None)
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
    return tuple(Address(email=email, name=decode_words(name) or None)
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
