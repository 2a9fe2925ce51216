"""Lenient, fast parsing of raw RFC 5322 headers: the one reader for listings and ``Message``.

Summaries must cost little more than reading the bytes (DESIGN §4), and whatever a sender
wrote, reading a header must never raise (DESIGN §5). Every adapter's listing and
`Message` read subject, addresses, date and Message-ID through
the functions here, so they agree for the same bytes by construction.

Where this reader deliberately differs from the stdlib ``email`` package (a display name
holding ``@``, a malformed header line, the obsolete ``Name  :`` form, a broken encoded
word), the difference is listed in ``tests/hostile/test_headers_vs_stdlib.py``.
"""

from __future__ import annotations

import binascii
import codecs
import datetime as dt
import functools
import re
from collections.abc import Iterator
from email.utils import parsedate_to_datetime

import attrs

from inboxlink.values import Address

__all__ = [
    "Envelope",
    "decode_words",
    "envelope",
    "fields",
    "header_block",
    "parse_addresses",
    "parse_date",
    "split_msgids",
]

# An encoded word: charset (RFC 2231 may add ``*lang``), B or Q, encoded text.
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([qQbB])\?([^?\s]*)\?=")
_ONLY_SPACE = re.compile(r"[ \t\r\n]*")
_SIMPLE_ADDR = re.compile(r'^\s*(?:"?([^"<>,@;:\\()]*?)"?\s*)?<([^<>\s,@]+@[^<>\s,@]+)>\s*$')
_BARE_ADDR = re.compile(r"^\s*([^\s<>,;:\"()@]+@[^\s<>,;:\"()@]+)\s*$")
_DATE = re.compile(
    r"^\s*(?:[A-Za-z]{3},\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?"
    r"\s+([+-])(\d{2})(\d{2})"
)
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_ZONES: dict[tuple[str, str, str], dt.tzinfo] = {}
_MSGID = re.compile(r"<[^<>\s]+>")
# The header block ends at the first empty line (CRLF CRLF, or bare LF LF from Unix tools).
_BLOCK_END = re.compile(rb"\r?\n\r?\n")
# Unfolding replaces the line break and the white space after it with one space, as the
# IMAP listing has always done, so a folded value reads the same on every path.
_FOLD = re.compile(rb"\r?\n[ \t]")
_BASE64_JUNK = re.compile(r"[^A-Za-z0-9+/]")


# --------------------------------------------------------------------------- the block
def header_block(raw: bytes) -> bytes:
    """The header part of a raw message (everything before the first empty line)."""
    if raw.startswith((b"\r\n", b"\n")):
        return b""
    end = _BLOCK_END.search(raw)
    return raw if end is None else raw[:end.start()]


def fields(raw: bytes) -> dict[str, str]:
    """Unfolded header fields of ``raw`` (a message or a header block), never raising.

    Names are lower-cased, the first occurrence wins, values are stripped and decoded as
    UTF-8 (bad bytes replaced). A line with no colon is skipped and reading goes on — a
    stdlib parser would end the headers there; ``Name  :`` (RFC 5322 obs-syntax, space
    before the colon) is read as ``Name:``.
    """
    result: dict[str, str] = {}
    for line in _FOLD.sub(b" ", header_block(raw)).split(b"\n"):
        name, sep, value = line.partition(b":")
        key = name.strip().lower()
        if not sep or not key or b" " in key or b"\t" in key:
            continue  # not a header line (an mbox "From " line, garbage): skip just it
        text = key.decode("ascii", "replace")
        if text not in result:
            result[text] = value.strip().decode("utf-8", "replace")
    return result


# --------------------------------------------------------------------------- encoded words
@functools.lru_cache(maxsize=128)
def _charset(name: str) -> str | None:
    """The codec for a charset label (RFC 2231 ``*lang`` suffix ignored), ``None`` if unknown."""
    try:
        return codecs.lookup(name.partition("*")[0]).name
    except LookupError:
        return None


def _word_bytes(kind: str, text: str) -> bytes | None:
    """The decoded bytes of one encoded word, ``None`` when it cannot be decoded."""
    try:
        if kind in "qQ":
            return binascii.a2b_qp(text.encode("ascii", "replace"), header=True)
        data = _BASE64_JUNK.sub("", text.split("=", 1)[0])
        if len(data) % 4 == 1:
            return None  # one stray character carries no whole byte: not base64
        return binascii.a2b_base64((data + "=" * (-len(data) % 4)).encode("ascii"))
    except (binascii.Error, ValueError):
        return None


def _pieces(value: str) -> Iterator[tuple[str | None, str | bytes]]:
    """(charset, bytes) for each decodable encoded word, (None, text) for everything else."""
    position = 0
    previous_was_word = False
    for match in _ENCODED_WORD.finditer(value):
        between = value[position:match.start()]
        # RFC 2047 §6.2: white space between adjacent encoded words is not displayed.
        if between and not (previous_was_word and _ONLY_SPACE.fullmatch(between)):
            yield None, between
        charset = _charset(match.group(1))
        if charset is None:
            # An unknown charset: the word is kept as written (what the stdlib's
            # make_header(decode_header()) cannot do, it raises LookupError).
            yield None, match.group(0)
            previous_was_word = False
            position = match.end()
            continue
        data = _word_bytes(match.group(2), match.group(3))
        if data is None:
            # Shown as its encoded text, as email.policy.default does for a broken word.
            yield None, match.group(3)
            previous_was_word = False
        else:
            yield charset, data
            previous_was_word = True
        position = match.end()
    if position < len(value):
        yield None, value[position:]


def decode_words(value: str) -> str:
    """A header value with its RFC 2047 encoded words decoded; never raises.

    Adjacent words are joined (and their bytes decoded together, so a character split
    across two words survives); a word whose encoded text is broken is shown as that text
    (as ``email.policy.default`` does), one in an unknown charset as written.
    """
    if "=?" not in value:
        return value
    word = _ENCODED_WORD.fullmatch(value)
    if word is not None:  # the usual shape, one word: decoded directly
        codec = _charset(word.group(1))
        data = _word_bytes(word.group(2), word.group(3)) if codec else None
        if codec and data is not None:
            return data.decode(codec, "replace")
    out: list[str] = []
    charset: str | None = None
    pending = b""
    for piece_charset, piece in _pieces(value):
        if pending and piece_charset != charset:
            out.append(pending.decode(charset or "utf-8", "replace"))
            pending = b""
        if isinstance(piece, bytes):
            charset = piece_charset
            pending += piece
        else:
            out.append(piece)
    if pending:
        out.append(pending.decode(charset or "utf-8", "replace"))
    return "".join(out)


# --------------------------------------------------------------------------- addresses
def _split_top_level(value: str) -> Iterator[str]:
    """Address-list items: split at commas and group ends outside quotes, <…> and (…).

    A group's display name (``Team: a@b, c@d;``) is dropped, its members kept.
    """
    depth_angle = depth_paren = 0
    quoted = escaped = False
    current: list[str] = []
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif quoted:
            quoted = ch != '"'
        elif ch == '"':
            quoted = True
        elif ch == "(":
            depth_paren += 1
        elif ch == ")" and depth_paren:
            depth_paren -= 1
        elif depth_paren:
            pass
        elif ch == "<":
            depth_angle += 1
        elif ch == ">" and depth_angle:
            depth_angle -= 1
        elif not depth_angle and ch in ",;":
            yield "".join(current)
            current = []
            continue
        elif not depth_angle and ch == ":" and "@" not in "".join(current):
            current = []  # a group name ends here; its members follow
            continue
        current.append(ch)
    yield "".join(current)


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = re.sub(r"\\(.)", r"\1", text[1:-1])
    return text.strip()


def _comments(text: str) -> tuple[str, str]:
    """(text without comments, the comments' content joined)."""
    found: list[str] = []

    def keep(match: re.Match[str]) -> str:
        found.append(match.group(1).strip())
        return " "

    stripped = re.sub(r"\(([^()]*)\)", keep, text)
    return stripped, " ".join(f for f in found if f)


def _one_address(item: str) -> Address | None:
    simple = _SIMPLE_ADDR.match(item)
    if simple:
        name = (simple.group(1) or "").strip()
        return Address(email=simple.group(2), name=decode_words(name) if name else None)
    bare = _BARE_ADDR.match(item)
    if bare:
        return Address(email=bare.group(1))
    return _lenient_address(item)


def _lenient_address(item: str) -> Address | None:
    angle = item.rfind("<")
    if angle >= 0:
        # The address is in the angle brackets, whatever the display name holds — even "@".
        close = item.find(">", angle)
        spec = item[angle + 1:close if close >= 0 else len(item)]
        spec = spec.rpartition(":")[2].strip()  # obsolete source route "@a,@b:x@y"
        before = item[:angle].strip()
        quoted = len(before) >= 2 and before[0] == before[-1] == '"'
        name = _unquote(before if quoted else _comments(before)[0])  # "(x)" is a name
        if "@" not in spec or any(c.isspace() for c in spec):
            return None
        return Address(email=spec, name=decode_words(name) or None)
    text, comment = _comments(item)
    words = text.split()
    at_words = [w for w in words if "@" in w]
    if not at_words:
        return None
    spec = at_words[-1].strip('"<>')
    rest = " ".join(w for w in words if w is not at_words[-1]).strip()
    name = _unquote(rest) or comment
    return Address(email=spec, name=decode_words(name) or None)


def parse_addresses(value: str | None) -> tuple[Address, ...]:
    """Addresses in a header value; never raises, never invents one.

    Common shapes (``Name <a@b>``, ``"Name" <a@b>``, ``=?…?= <a@b>``, ``a@b`` and lists of
    them) take a regex; anything else a small tokenizer that keeps quoted commas, comments
    and groups together. An address in angle brackets is the address, whatever the display
    name contains (the stdlib's ``getaddresses`` reads ``bob@x <alice@y>`` as two).
    Items without an ``@`` (``undisclosed-recipients:;``, ``<>``) are left out.
    """
    if not value:
        return ()
    if "\\" not in value and '"' not in value and "(" not in value and ":" not in value:
        if value.count("@") == 1 and "," not in value:
            single = _one_address(value)  # the usual shape: one address, no list
            return (single,) if single is not None else ()
        items: list[str] = value.split(",")
    else:
        items = list(_split_top_level(value))
    found = (_one_address(item) for item in items if item.strip())
    return tuple(a for a in found if a is not None)


# --------------------------------------------------------------------------- dates, ids
def _stdlib_date(value: str) -> dt.datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed


def parse_date(value: str | None) -> dt.datetime | None:
    """An RFC 5322 date (UTC when the zone is missing), ``None`` when unreadable."""
    if not value:
        return None
    found = _DATE.match(value)
    month = _MONTHS.get(found.group(2).lower()) if found else None
    if found is None or month is None:
        return _stdlib_date(value)
    sign, hours, minutes = found.group(7, 8, 9)
    zone = _ZONES.get((sign, hours, minutes))
    if zone is None:
        delta = dt.timedelta(hours=int(hours), minutes=int(minutes))
        try:
            zone = dt.timezone(-delta if sign == "-" else delta)
        except ValueError:  # offsets of a day or more do not exist
            return _stdlib_date(value)
        _ZONES[(sign, hours, minutes)] = zone
    try:
        return dt.datetime(int(found.group(3)), month, int(found.group(1)), int(found.group(4)),
                           int(found.group(5)), int(found.group(6) or 0), tzinfo=zone)
    except ValueError:
        return _stdlib_date(value)


def split_msgids(value: str | None) -> tuple[str, ...]:
    """Message-IDs in a References / In-Reply-To value, in order."""
    if not value:
        return ()
    return tuple(_MSGID.findall(value))


# --------------------------------------------------------------------------- envelope
@attrs.frozen
class Envelope:
    """What a listing shows of a message, read from its raw header fields."""

    subject: str | None = None
    from_: Address | None = None
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    date: dt.datetime | None = None
    message_id: str | None = None  #: as written (stripped), never cut at a second "@"
    in_reply_to: str | None = None  #: the first id in In-Reply-To (the raw value if none)
    references: tuple[str, ...] = ()


def envelope(raw: bytes) -> Envelope:
    """The `Envelope` of a raw message or header block; never raises."""
    got = fields(raw)
    get = got.get
    subject = get("subject")
    reply = get("in-reply-to")
    senders = parse_addresses(get("from"))
    return Envelope(
        subject=decode_words(subject) if subject is not None else None,
        from_=senders[0] if senders else None,
        to=parse_addresses(get("to")),
        cc=parse_addresses(get("cc")),
        reply_to=parse_addresses(get("reply-to")),
        date=parse_date(get("date")),
        message_id=get("message-id") or None,
        in_reply_to=(split_msgids(reply) or (reply,))[0] if reply else None,
        references=split_msgids(get("references")),
    )
