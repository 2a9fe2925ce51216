"""IMAP attachments: incremental decoding at every chunk boundary, and sections on Dovecot."""

from __future__ import annotations

import base64
import binascii
import io
import random
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from inboxlink import errors
from inboxlink.adapters.imap import ImapMailbox
from inboxlink.adapters.imap.attachments import decoded

from .dovecot import Dovecot
from .helpers import Certs, settings_for

PAYLOAD = random.Random(3).randbytes(5_000) + "zażółć = ünïcödé\r\n".encode() * 40


def _split(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 76, 77, 78, 79, 1000, 1 << 20])
def test_base64_decodes_across_any_chunk_boundary(size: int) -> None:
    encoded = base64.encodebytes(PAYLOAD).replace(b"\n", b"\r\n")
    assert b"".join(decoded("base64", _split(encoded, size))) == PAYLOAD


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
def test_base64_skips_junk_without_losing_alignment(size: int) -> None:
    lines = base64.encodebytes(PAYLOAD).split(b"\n")
    encoded = b"\r\n".join(line[:10] + b"!" + line[10:] if i % 3 == 0 and line else line
                            for i, line in enumerate(lines))
    assert b"".join(decoded("base64", _split(encoded, size))) == PAYLOAD


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 75, 76, 77, 1000, 1 << 20])
def test_quoted_printable_decodes_across_any_chunk_boundary(size: int) -> None:
    text = ("zażółć = ünïcödé, a long line " * 30 + "\nend\n").encode()
    encoded = binascii.b2a_qp(text).replace(b"\n", b"\r\n")
    assert b"=\r\n" in encoded  # soft line breaks are exercised
    expected = text.replace(b"\n", b"\r\n")
    assert b"".join(decoded("quoted-printable", _split(encoded, size))) == expected


@pytest.mark.parametrize("encoding", ["7bit", "8bit", "binary", "BINARY", ""])
def test_identity_encodings_pass_through(encoding: str) -> None:
    assert b"".join(decoded(encoding, _split(PAYLOAD, 33))) == PAYLOAD


def _nested_message() -> bytes:
    """mixed[ related[ alternative[plain, html], inline image ], QP text file, PDF ]."""
    msg = EmailMessage()
    msg["From"] = "bob@example.net"
    msg["To"] = "alice@example.com"
    msg["Subject"] = "Nested"
    msg["Message-ID"] = "<nested@example.net>"
    msg.set_content("plain body\n")
    msg.add_alternative("<p>html body <img src='cid:img1@x'></p>", subtype="html")
    msg.get_payload()[1].add_related(PAYLOAD[:3000], maintype="image", subtype="gif",
                                     cid="<img1@x>", disposition="inline", filename="a.gif")
    msg.add_attachment("Grüße = über\n" * 500, subtype="plain", filename="notes.txt",
                       cte="quoted-printable")
    msg.add_attachment(PAYLOAD, maintype="application", subtype="pdf", filename="b.pdf")
    return msg.as_bytes()


@pytest.fixture
def tiny_chunks(dovecot: Dovecot, certs: Certs) -> Iterator[tuple[ImapMailbox, Dovecot, str]]:
    account = dovecot.new_user()
    # 1001 bytes: odd, and never a multiple of a base64 quantum or a line length.
    with ImapMailbox(settings_for(dovecot, account, certs, stream_chunk=1001)) as mailbox:
        yield mailbox, dovecot, account


def test_nested_sections_are_listed_and_saved(
    tiny_chunks: tuple[ImapMailbox, Dovecot, str],
) -> None:
    mailbox, dovecot, account = tiny_chunks
    dovecot.deliver(account, _nested_message())
    (summary,) = mailbox.list_messages("INBOX").items
    found = {a.filename: a for a in mailbox.list_attachments(summary.id)}
    assert set(found) == {"a.gif", "notes.txt", "b.pdf"}
    assert [found[n].part for n in ("a.gif", "notes.txt", "b.pdf")] == ["1.2.2", "2", "3"]
    assert found["a.gif"].inline
    assert found["a.gif"].content_id == "img1@x"
    for name, expected in [("a.gif", PAYLOAD[:3000]),
                           ("notes.txt", ("Grüße = über\n" * 500).encode()),
                           ("b.pdf", PAYLOAD)]:
        buffer = io.BytesIO()
        written = mailbox.save_attachment(summary.id, found[name].part, buffer)
        got = buffer.getvalue()
        if name == "notes.txt":
            # Text parts travel with CRLF line ends, as the message itself does.
            got = got.replace(b"\r\n", b"\n")
        assert got == expected, name
        assert written == len(buffer.getvalue())
    (again,) = mailbox.list_messages("INBOX").items
    assert not again.seen


def test_body_section_is_not_an_attachment_part(
    tiny_chunks: tuple[ImapMailbox, Dovecot, str],
) -> None:
    mailbox, dovecot, account = tiny_chunks
    dovecot.deliver(account, _nested_message())
    (summary,) = mailbox.list_messages("INBOX").items
    with pytest.raises(errors.NotFound):
        mailbox.save_attachment(summary.id, "1.1", io.BytesIO())


def test_missing_message_raises_message_not_found(
    tiny_chunks: tuple[ImapMailbox, Dovecot, str],
) -> None:
    mailbox, dovecot, account = tiny_chunks
    dovecot.deliver(account, _nested_message())
    (summary,) = mailbox.list_messages("INBOX").items
    gone = summary.id[:-1] + "9"
    with pytest.raises(errors.MessageNotFound):
        mailbox.list_attachments(gone)
    with pytest.raises(errors.MessageNotFound):
        mailbox.save_attachment(gone, "2", io.BytesIO())
