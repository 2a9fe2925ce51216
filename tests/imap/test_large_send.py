"""Streamed sending: SMTP DATA and the Sent APPEND written piece by piece from the spool.

The dot-stuffing is checked against RFC 5321's rule for any cut of any message (hypothesis),
then end to end through the real smtplib → aiosmtpd (which removes the stuffing again) and
imapclient → Dovecot, with pieces so small that every line start is a piece edge.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import smtplib
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxlink import OutgoingMessage, errors
from inboxlink.adapters.imap import ImapMailbox
from inboxlink.adapters.imap._smtp import dot_stuffed
from inboxlink.adapters.imap.send import crlf_lines
from inboxlink.models import FolderRole, SentCopy

from .dovecot import BASIC_CAPABILITIES, Dovecot
from .helpers import Certs, settings_for
from .smtp_peer import SmtpServer

# bytes that make line starts, dots at line starts and CRLFs split between pieces likely
_ATOMS = st.sampled_from([b".", b"..", b"\r\n", b"\r", b"\n", b"x", b".\r\n", b"\r\n."])


def _rfc5321(message: bytes) -> bytes:
    """What a DATA payload must be (RFC 5321 §4.5.2 and §4.1.1.4), written independently."""
    stuffed = re.sub(rb"(?m)^\.", b"..", message)
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed + b".\r\n"


def _cut(message: bytes, edges: list[int]) -> list[bytes]:
    points = sorted({0, len(message), *(e % (len(message) + 1) for e in edges)})
    return [message[a:b] for a, b in itertools.pairwise(points)]


@settings(max_examples=300, deadline=None)
@given(atoms=st.lists(_ATOMS, max_size=60), edges=st.lists(st.integers(0, 400), max_size=20))
def test_dot_stuffing_does_not_depend_on_where_the_pieces_end(atoms: list[bytes],
                                                             edges: list[int]) -> None:
    message = b"".join(atoms)
    written = list(dot_stuffed(_cut(message, edges)))
    assert b"".join(written) == _rfc5321(message)
    # The end mark leaves in the last write: once that returned, the server may have it all.
    assert written[-1].endswith(b".\r\n")
    assert len(written) == max(1, len(_cut(message, edges)))


def test_dot_stuffing_takes_empty_pieces_and_an_empty_message() -> None:
    assert b"".join(dot_stuffed([b"", b".a\r\n", b"", b".b"])) == b"..a\r\n..b\r\n.\r\n"
    assert b"".join(dot_stuffed([])) == _rfc5321(b"")


@settings(max_examples=300, deadline=None)
@given(atoms=st.lists(_ATOMS, max_size=60), edges=st.lists(st.integers(0, 400), max_size=20))
def test_line_ends_become_crlf_wherever_the_pieces_end(atoms: list[bytes],
                                                      edges: list[int]) -> None:
    message = b"".join(atoms)
    assert b"".join(crlf_lines(_cut(message, edges))) == re.sub(rb"\r\n|\r|\n", b"\r\n",
                                                                 message)


def test_a_message_with_bare_line_feeds_is_appended_with_crlf(dovecot: Dovecot,
                                                              certs: Certs) -> None:
    user = dovecot.new_user()
    with ImapMailbox(settings_for(dovecot, user, certs, stream_chunk=5)) as box:
        copy_id = box.append_to_sent(b"Subject: lf\nMessage-ID: <lf@example.com>\n\nbody\r.\n")
        assert copy_id is not None
        assert box.fetch(copy_id).raw == (b"Subject: lf\r\nMessage-ID: <lf@example.com>\r\n"
                                          b"\r\nbody\r\n.\r\n")


# A body whose lines start with dots: with pieces of 1 or 3 bytes, many of those dots (and
# the CRLFs before them) sit exactly on a piece edge.
_DOTTED = "Report\r\n.\r\n..\r\n.hidden\r\n...three\r\nend .\r\n" * 40


@pytest.fixture(params=[1, 3, 64], ids=["1-byte", "3-byte", "64-byte"])
def mailbox(request: pytest.FixtureRequest, dovecot: Dovecot, certs: Certs,
            smtp_server: SmtpServer) -> Iterator[ImapMailbox]:
    user = dovecot.new_user()
    with ImapMailbox(settings_for(dovecot, user, certs, smtp_server,
                                  stream_chunk=request.param)) as box:
        yield box


def test_dots_at_piece_edges_arrive_as_written(mailbox: ImapMailbox,
                                               smtp_server: SmtpServer) -> None:
    result = mailbox.send(OutgoingMessage(to=["bob@example.com"], subject="Dots",
                                          text=_DOTTED))
    assert result.sent_copy is SentCopy.APPENDED, result.error
    delivered = [r.raw for r in smtp_server.received if result.message_id.encode() in r.raw]
    assert delivered == [result.raw]  # aiosmtpd removed exactly the dots we added
    assert b"\r\n.hidden\r\n" in result.raw
    assert b"\r\n...three\r\n" in result.raw
    copy = mailbox.fetch(mailbox.list_messages(FolderRole.SENT).items[0].id)
    assert copy.raw == result.raw


def test_a_large_copy_is_appended_and_reads_back_byte_exact(dovecot: Dovecot, certs: Certs,
                                                            tmp_path: object) -> None:
    user = dovecot.new_user()
    body = b"".join(hashlib.sha256(str(n).encode()).hexdigest().encode() + b"\r\n"
                    for n in range(500_000))  # 32.5 MB in 500,000 lines
    raw = (b"From: " + user.encode() + b"\r\nTo: bob@example.com\r\nSubject: Large copy\r\n"
           b"Message-ID: <large-copy@example.com>\r\n"
           b"Date: Mon, 30 Nov 2026 01:00:00 +0000\r\n\r\n" + body)
    with ImapMailbox(settings_for(dovecot, user, certs)) as box:
        copy_id = box.append_to_sent(raw)
        assert copy_id is not None
        target = tmp_path / "copy.eml"  # type: ignore[operator]
        assert box.fetch_to_file(copy_id, target) == len(raw)
        assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(raw).digest()
        assert len(box.list_messages(FolderRole.SENT).items) == 1


def test_a_message_above_the_servers_size_is_refused_before_its_data(
        dovecot: Dovecot, certs: Certs) -> None:
    small = SmtpServer(certs.server_context(), data_size_limit=50_000)
    try:
        user = dovecot.new_user()
        with ImapMailbox(settings_for(dovecot, user, certs, small)) as box:
            with pytest.raises(errors.MessageTooLarge) as caught:
                box.send(OutgoingMessage(to=["bob@example.com"], subject="Big",
                                         text="word " * 20_000))
            # refused at MAIL FROM … SIZE=, so not one byte of the message was written
            assert isinstance(caught.value.__cause__, smtplib.SMTPSenderRefused)
            assert caught.value.code is not None
            # the limit is the one the server named in its EHLO SIZE, the size ours
            assert caught.value.limit == 50_000
            assert caught.value.size is not None
            assert caught.value.size > 100_000
            assert small.received == []
            assert not box.list_messages(FolderRole.SENT).items
    finally:
        small.stop()


@pytest.fixture(scope="module")
def dovecot_appendlimit(certs: Certs) -> Iterator[Dovecot]:
    """A Dovecot announcing ``APPENDLIMIT=20000`` (RFC 7889)."""
    server = Dovecot(certs.chain_file, certs.key_file, name="appendlimit", fresh_users=2,
                     capabilities=BASIC_CAPABILITIES + " APPENDLIMIT=20000")
    server.ca_file = certs.ca_file
    yield server
    server.stop()


def test_a_copy_above_the_servers_appendlimit_is_refused_before_its_upload(
        dovecot_appendlimit: Dovecot, certs: Certs) -> None:
    user = dovecot_appendlimit.new_user()
    smtp = SmtpServer(certs.server_context())  # its own: deliveries counted for this test
    try:
        with ImapMailbox(settings_for(dovecot_appendlimit, user, certs, smtp)) as box:
            assert "APPENDLIMIT=20000" in box.server_capabilities
            big = b"Subject: big\r\n\r\n" + b"x" * 30_000 + b"\r\n"
            with pytest.raises(errors.MessageTooLarge, match="20000") as caught:
                box.append_to_sent(big)
            assert (caught.value.limit, caught.value.size) == (20_000, len(big))
            result = box.send(OutgoingMessage(to=["bob@example.com"], subject="Big",
                                              text="word " * 6_000))
            # sent, and the copy reported as failed (not the send), with the reason
            assert result.sent_copy is SentCopy.FAILED
            assert isinstance(result.error.__cause__, errors.MessageTooLarge)
            assert len(smtp.received) == 1
            box.append_to_sent(b"Subject: small\r\n\r\nfits\r\n")
            assert len(box.list_messages(FolderRole.SENT).items) == 1
    finally:
        smtp.stop()


@pytest.fixture(scope="module")
def dovecot_max_size(certs: Certs) -> Iterator[Dovecot]:
    """A Dovecot 2.3 whose quota plugin refuses messages above 20 kB (``quota_max_mail_size``);
    it announces no APPENDLIMIT, so the APPEND itself is refused."""
    server = Dovecot(certs.chain_file, certs.key_file, name="maxsize", fresh_users=2,
                     extra_config="mail_plugins = $mail_plugins quota\nplugin {\n"
                     "  quota = count:User quota\n  quota_vsizes = yes\n"
                     "  quota_max_mail_size = 20k\n}\n")
    server.ca_file = certs.ca_file
    yield server
    server.stop()


def test_dovecots_limit_refusal_of_a_large_copy_is_message_too_large(
        dovecot_max_size: Dovecot, certs: Certs) -> None:
    # Dovecot says "NO [LIMIT] Mail size is larger than the maximum size allowed by server
    # configuration": too large (waiting does not help), not a rate limit
    user = dovecot_max_size.new_user()
    big = b"Subject: big\r\n\r\n" + b"x" * 30_000 + b"\r\n"
    with ImapMailbox(settings_for(dovecot_max_size, user, certs)) as box:
        assert not any(c.startswith("APPENDLIMIT") for c in box.server_capabilities)
        with pytest.raises(errors.MessageTooLarge) as caught:
            box.append_to_sent(big)
        assert caught.value.code == "LIMIT"
        assert not caught.value.retryable
        assert (caught.value.limit, caught.value.size) == (None, len(big))
        box.append_to_sent(b"Subject: small\r\n\r\nfits\r\n")  # the session still works
        assert len(box.list_messages(FolderRole.SENT).items) == 1
