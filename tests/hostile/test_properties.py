"""Property-based tests: hostile bytes never make the message layer raise.

Bounded and derandomized by the profile in ``conftest.py``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from email.header import Header, decode_header, make_header
from email.utils import format_datetime, formataddr, getaddresses, parsedate_to_datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from inboxlink import errors, headers, mime
from inboxlink.adapters.imap.attachments import decoded
from inboxlink.adapters.imap.convert import HEADER_FIELDS, summary
from inboxlink.models import Address, Attachment, Message, OutgoingMessage

from .checks import exercise
from .strategies import header_block, header_text, header_value, messages


@given(messages)
@example(b"From: <>\r\nSubject: =?utf-8?b?a?=\r\n\r\n")
@example(b"From  : a@example.com\r\nSubject: \xc2\x85x\r\n\r\n")
@example(b"Content-Type: multipart/mixed\r\n\r\n--\r\n")
def test_parsing_any_bytes_never_raises_and_replies_are_sendable(raw: bytes) -> None:
    exercise(raw)


@given(messages)
def test_message_fields_are_what_the_listing_reader_gives(raw: bytes) -> None:
    message = Message(id="1", folder_id="INBOX", raw=raw)
    listing = headers.envelope(raw)
    assert (message.subject, message.from_, message.to, message.cc, message.date,
            message.message_id) == (listing.subject, listing.from_, listing.to, listing.cc,
                                    listing.date, listing.message_id)


@given(header_block(), st.sampled_from([b"\r\n", b"\n"]))
def test_the_imap_listing_reads_header_bytes_as_message_does(lines: list[bytes], eol: bytes) -> None:
    # The IMAP adapter lists from the header fields Dovecot returns; the same bytes in a
    # fetched Message must give the same fields. (With bare CR line ends there is no
    # header/body split for Dovecot either: the corpus covers those through Dovecot.)
    raw = eol.join(lines) + eol + eol + b"body"
    # The server answers with the header section: up to the first empty line (a value
    # holding a line break may end it early, for the server as for the parser).
    block = headers.header_block(raw) + eol
    key = ("BODY[HEADER.FIELDS (" + " ".join(HEADER_FIELDS) + ")]").encode()
    listed = summary("1", "INBOX", {key: block})
    message = Message(id="1", folder_id="INBOX", raw=raw)
    for name in ("subject", "from_", "to", "cc", "date", "message_id", "in_reply_to",
                 "references"):
        assert getattr(listed, name) == getattr(message, name), name


@given(header_value)
def test_header_readers_never_raise(value: bytes) -> None:
    text = value.decode("utf-8", "replace")
    headers.decode_words(text)
    headers.parse_addresses(text)
    headers.parse_date(text)
    headers.fields(b"Subject: " + value + b"\r\n\r\n")


# --------------------------------------------------------------------------- vs the stdlib
printable = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=40)


@given(printable, st.sampled_from(["utf-8", "iso-8859-1"]))
def test_encoded_words_decode_as_the_stdlib_does(text: str, charset: str) -> None:
    try:
        encoded = Header(text, charset).encode()
    except UnicodeEncodeError:
        encoded = Header(text, "utf-8").encode()
    stdlib = str(make_header(decode_header(encoded)))
    assert headers.decode_words(encoded) == stdlib


names = st.text(st.characters(min_codepoint=32, max_codepoint=126, blacklist_characters='\\"'),
                max_size=20).map(str.strip)
locals_ = st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,10}", fullmatch=True)
domains = st.from_regex(r"[a-z0-9]{1,10}\.(example|org|com)", fullmatch=True)


@given(st.lists(st.tuples(names, locals_, domains), min_size=1, max_size=4))
def test_well_formed_address_lists_parse_as_the_stdlib_does(
        pairs: list[tuple[str, str, str]]) -> None:
    value = ", ".join(formataddr((name, f"{local}@{domain}")) for name, local, domain in pairs)
    stdlib = [(n or None, e) for n, e in getaddresses([value])]
    ours = [(a.name, a.email) for a in headers.parse_addresses(value)]
    assert ours == stdlib, value


zones = [dt.timezone.utc, dt.timezone(dt.timedelta(hours=5, minutes=30)),
         dt.timezone(-dt.timedelta(hours=8))]
aware = st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2200, 1, 1),
                     timezones=st.sampled_from(zones))


@given(aware.map(lambda d: d.replace(microsecond=0)))
def test_dates_parse_as_the_stdlib_does(when: dt.datetime) -> None:
    value = format_datetime(when)
    assert headers.parse_date(value) == parsedate_to_datetime(value) == when


#: Where the fast reader deliberately differs from the stdlib, and why. Each row is
#: checked both ways, so a change on either side shows up here.
DIFFERENCES = [
    # (function, input, what the stdlib gives, what inboxlink gives, why)
    ("addresses", "bob@evil.example <alice@example.com>",
     [("", "bob@evil.example"), ("", "alice@example.com")],
     [("bob@evil.example", "alice@example.com")],
     "the angle-addr is the address; the name holding '@' is only a name"),
    ("addresses", "undisclosed-recipients:;", [("", "")], [], "a group with no member"),
    ("addresses", "a@b@c.example", [("", ""), ("", "@c.example")], [(None, "a@b@c.example")],
     "kept whole rather than half-invented"),
    ("addresses", "Alice Smith alice@example.com", [("", "Alice Smith alice@example.com")],
     [("Alice Smith", "alice@example.com")], "unbracketed address after a name (Outlook export)"),
    ("words", "=?utf-8?b?a?=", "HeaderParseError", "a", "a broken word is shown as its text"),
    ("words", "=?bogus?q?abc?=", "LookupError", "=?bogus?q?abc?=",
     "a word in an unknown charset is kept as written"),
]


def _stdlib(kind: str, value: str) -> object:
    try:
        if kind == "addresses":
            return getaddresses([value])
        return str(make_header(decode_header(value)))
    except Exception as exc:
        return type(exc).__name__


def _ours(kind: str, value: str) -> object:
    if kind == "addresses":
        return [(a.name, a.email) for a in headers.parse_addresses(value)]
    return headers.decode_words(value)


@pytest.mark.parametrize(("kind", "value", "stdlib", "ours", "why"), DIFFERENCES,
                         ids=[row[1] for row in DIFFERENCES])
def test_documented_differences_from_the_stdlib(kind: str, value: str, stdlib: object,
                                                ours: object, why: str) -> None:
    assert _stdlib(kind, value) == stdlib
    assert _ours(kind, value) == ours, why


# --------------------------------------------------------------------------- chunk boundaries
def _every_split(data: bytes) -> list[list[bytes]]:
    return [[data[:i], data[i:]] for i in range(len(data) + 1)]


@given(st.binary(max_size=120), st.sampled_from([76, 4, 60, 1000]))
def test_base64_decodes_the_same_at_every_chunk_boundary(data: bytes, width: int) -> None:
    encoded = base64.b64encode(data)
    wrapped = b"\r\n".join(encoded[i:i + width] for i in range(0, len(encoded), width))
    for chunks in _every_split(wrapped):
        assert b"".join(decoded("base64", chunks)) == data
    assert mime.b64decode_lenient(wrapped) == data


@given(st.binary(max_size=80), st.lists(st.integers(0, 200), max_size=6))
def test_base64_decodes_the_same_under_any_chunking(data: bytes, cuts: list[int]) -> None:
    encoded = base64.encodebytes(data)
    points = sorted({min(c, len(encoded)) for c in cuts})
    chunks = [encoded[a:b] for a, b in zip([0, *points], [*points, len(encoded)], strict=True)]
    assert b"".join(decoded("base64", chunks)) == data


@given(st.binary(max_size=80), st.booleans())
def test_quoted_printable_decodes_the_same_at_every_chunk_boundary(data: bytes, crlf: bool) -> None:
    encoded = binascii.b2a_qp(data)
    if crlf:
        encoded = encoded.replace(b"\n", b"\r\n")
    whole = binascii.a2b_qp(encoded)
    for chunks in _every_split(encoded):
        assert b"".join(decoded("quoted-printable", chunks)) == whole


@given(st.binary(min_size=1, max_size=60), st.data())
def test_truncated_base64_decodes_leniently_in_the_message_layer(data: bytes,
                                                                  draw: st.DataObject) -> None:
    encoded = base64.encodebytes(data)
    cut = encoded[:draw.draw(st.integers(0, len(encoded)))]
    expected = mime.b64decode_lenient(cut)
    clean = cut.replace(b"\n", b"").rstrip(b"=")
    assert data.startswith(expected)
    assert len(expected) == len(clean) * 3 // 4  # every whole byte the characters carry
    raw = b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + cut
    (attachment,) = Message(id="1", folder_id="f", raw=raw).attachments
    assert attachment.data == expected


def test_the_imap_decoder_decodes_truncated_base64_like_the_message_layer() -> None:
    data = b"ABCDEFGHIJKLMNOPQR"
    encoded = base64.encodebytes(data)
    for length in range(len(encoded) + 1):
        cut = encoded[:length]
        for chunks in _every_split(cut):
            assert b"".join(decoded("base64", chunks)) == mime.b64decode_lenient(cut)


# --------------------------------------------------------------------------- sending
any_text = st.one_of(st.text(max_size=120), header_text)


@given(subject=any_text, name=any_text, filename=any_text, extra=any_text,
       text=st.one_of(st.none(), st.text(max_size=50)))
@example(subject="=? " + "word " * 60, name="", filename="a", extra="x", text=None)
@example(subject="Grüße =?utf-8?q?=E2= " + "ü" * 200, name="=?utf-8?b?a?=", filename="", extra="",
         text="x")
def test_sending_any_text_raises_only_invalid_message(subject: str, name: str, filename: str,
                                                      extra: str, text: str | None) -> None:
    message = OutgoingMessage(
        to=[Address("bob@example.org", name or None)], subject=subject, text=text,
        attachments=[Attachment(filename=filename or None, data=b"x")],
        headers=[("X-Extra", extra)],
    )
    try:
        prepared = mime.prepare(message, default_from="me@example.com")
    except errors.InvalidMessage:
        return
    written = headers.envelope(prepared.raw)
    assert [a.email for a in written.to] == ["bob@example.org"]
    if "=?" not in subject:
        # what was asked is what is written (white space may be refolded). Text that looks
        # like an encoded word is exempt: the stdlib writes ASCII "=?…?=" text as is, and
        # every reader, inboxlink's included, then decodes it.
        assert " ".join((written.subject or "").split()) == " ".join(subject.split())
