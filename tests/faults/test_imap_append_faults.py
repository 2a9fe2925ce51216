"""The Sent copy over IMAP under drops: written exactly once, reported truthfully.

Real smtplib → aiosmtpd for the send, real imapclient → fault proxy → Dovecot for the copy.
Copies are counted in Dovecot with a separate admin connection."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from imap.dovecot import Dovecot
from imap.helpers import Certs, settings_for
from imap.smtp_peer import SmtpServer

from inboxlink import OutgoingMessage
from inboxlink.adapters.imap import ImapMailbox
from inboxlink.models import SentCopy

from .proxy import Fault, FaultProxy

pytestmark = pytest.mark.dovecot


@pytest.fixture
def proxy(dovecot: Dovecot) -> Iterator[FaultProxy]:
    p = FaultProxy(("127.0.0.1", dovecot.imaps_port)).start()
    yield p
    p.stop()


@pytest.fixture
def user(dovecot: Dovecot) -> str:
    return dovecot.new_user()


@pytest.fixture
def mailbox(dovecot: Dovecot, certs: Certs, smtp: SmtpServer, proxy: FaultProxy,
            user: str) -> Iterator[ImapMailbox]:
    # No fault here is a hang (cuts and resets only), so the timeout only has to outlast
    # a 24 MB SMTP DATA and APPEND on a loaded machine: 3 s did not, once in three runs.
    box = ImapMailbox(settings_for(dovecot, user, certs, smtp, imap_port=proxy.port,
                                   timeout=30.0))
    box.folders()
    yield box
    box.close()


def _copies_in_sent(dovecot: Dovecot, user: str) -> int:
    admin = dovecot.admin(user)
    try:
        typ, data = admin.select('"Sent"', readonly=True)
        assert typ == "OK", data
        return int(data[0] or 0)
    finally:
        admin.logout()


def test_copy_after_the_server_closed_the_idle_connection_is_saved_once(
        mailbox: ImapMailbox, dovecot: Dovecot, smtp: SmtpServer, proxy: FaultProxy,
        user: str) -> None:
    assert mailbox.open_connections == 1
    proxy.sever()  # a server restart / autologout: the pooled session is dead
    result = mailbox.send(OutgoingMessage(to=["bob@example.com"], subject="Hi", text="x"))
    # The APPEND failed before the server asked for the message: repeating it is safe.
    assert result.sent_copy is SentCopy.APPENDED, result.error
    assert len(smtp.received) == 1
    assert _copies_in_sent(dovecot, user) == 1


def test_copy_whose_answer_was_lost_is_found_not_stored_twice(
        mailbox: ImapMailbox, dovecot: Dovecot, smtp: SmtpServer, proxy: FaultProxy,
        user: str) -> None:
    message = OutgoingMessage(to=["bob@example.com"], subject="Big", text="y" * 300_000)
    # Once the client has written the message, cut the connection before the answer.
    proxy.arm(Fault("cut", after_up=300_000))
    result = mailbox.send(message)
    assert proxy.struck
    assert len(smtp.received) == 1
    # Stored by the server although its OK never came: found by Message-ID, not re-sent.
    assert _copies_in_sent(dovecot, user) == 1
    assert result.sent_copy is SentCopy.APPENDED, result.error
    assert result.provider_id


def test_copy_cut_while_its_message_is_written_is_written_again_once(
        mailbox: ImapMailbox, dovecot: Dovecot, smtp: SmtpServer, proxy: FaultProxy,
        user: str) -> None:
    # The connection breaks in the middle of the APPEND's literal: the server never had the
    # whole message, so it cannot have stored it; the copy is written again on a new
    # connection, and exactly once.
    message = OutgoingMessage(to=["bob@example.com"], subject="Huge", text="z" * 24_000_000)
    first = proxy.bytes_up
    proxy.sever_after_upload(2_000_000)
    result = mailbox.send(message)
    assert result.sent_copy is SentCopy.APPENDED, result.error
    assert len(smtp.received) == 1
    assert _copies_in_sent(dovecot, user) == 1
    # once in part (at least the 2 MB before the cut), then once in full
    assert len(result.raw) + 2_000_000 < proxy.bytes_up - first < 2 * len(result.raw)
