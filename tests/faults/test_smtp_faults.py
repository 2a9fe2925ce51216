"""SMTP sending under a hostile network: the real smtplib against aiosmtpd (STARTTLS), with
the fault proxy in between and the Sent copy in a real Dovecot. Deliveries are counted on
the SMTP server, Sent copies in Dovecot."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from imap.dovecot import Dovecot
from imap.helpers import Certs, settings_for
from imap.smtp_peer import SmtpServer

from inboxlink import OutgoingMessage, errors
from inboxlink.adapters.imap import ImapMailbox
from inboxlink.models import FolderRole, SentCopy

from .proxy import Fault, FaultProxy

pytestmark = pytest.mark.dovecot


@pytest.fixture
def proxy(smtp: SmtpServer) -> Iterator[FaultProxy]:
    p = FaultProxy(("127.0.0.1", smtp.port)).start()
    yield p
    p.stop()


@pytest.fixture
def mailbox(dovecot: Dovecot, certs: Certs, smtp: SmtpServer,
            proxy: FaultProxy) -> Iterator[ImapMailbox]:
    user = dovecot.new_user()
    box = ImapMailbox(settings_for(dovecot, user, certs, smtp, smtp_port=proxy.port, timeout=2.0))
    yield box
    box.close()


def _sent_copies(box: ImapMailbox) -> int:
    return len(box.list_messages(FolderRole.SENT).items)


def _strike_when_delivered(smtp: SmtpServer, proxy: FaultProxy, fault: Fault) -> None:
    """Arm ``fault`` the moment the server has the whole message (before it answers 250)."""
    smtp.on_message = lambda rcpts, raw: proxy.arm(fault)


@pytest.mark.parametrize("action", ["cut", "reset"])
def test_drop_after_the_final_dot_is_outcome_unknown_and_sent_once(
        mailbox: ImapMailbox, smtp: SmtpServer, proxy: FaultProxy, action: str) -> None:
    _strike_when_delivered(smtp, proxy, Fault(action))  # type: ignore[arg-type]
    message = OutgoingMessage(to=["bob@example.com"], subject="Offer", text="Hello")
    with pytest.raises(errors.SendOutcomeUnknown) as caught:
        mailbox.send(message)
    assert proxy.struck
    assert len(smtp.received) == 1  # delivered once, never repeated
    error = caught.value
    assert error.retryable is False
    assert error.message_id
    assert error.message_id.encode() in error.raw
    assert error.message_id.encode() in smtp.received[0].raw
    # Whether it was sent is unknown, so no Sent copy is invented: the error carries the
    # raw message for the application to decide (append_to_sent(error.raw) once it knows).
    assert _sent_copies(mailbox) == 0
    smtp.on_message = None
    result = mailbox.send(OutgoingMessage(to=["bob@example.com"], subject="Next", text="x"))
    assert result.sent_copy is SentCopy.APPENDED
    assert len(smtp.received) == 2
    assert _sent_copies(mailbox) == 1


def test_stall_after_the_final_dot_is_outcome_unknown_within_the_timeout(
        mailbox: ImapMailbox, smtp: SmtpServer, proxy: FaultProxy) -> None:
    _strike_when_delivered(smtp, proxy, Fault("stall", stall_for=10))
    started = time.monotonic()
    with pytest.raises(errors.SendOutcomeUnknown):
        mailbox.send(OutgoingMessage(to=["bob@example.com"], subject="Slow", text="x"))
    assert time.monotonic() - started < 2.0 + 1.5
    assert len(smtp.received) == 1
    proxy.clear()


def test_drop_before_the_message_is_handed_over_is_not_outcome_unknown(
        mailbox: ImapMailbox, smtp: SmtpServer, proxy: FaultProxy) -> None:
    proxy.arm(Fault("cut"))  # the greeting never arrives
    with pytest.raises(errors.InboxLinkError) as caught:
        mailbox.send(OutgoingMessage(to=["bob@example.com"], subject="Early", text="x"))
    assert not isinstance(caught.value, errors.SendOutcomeUnknown)
    assert isinstance(caught.value, errors.ConnectError | errors.TransientError)
    assert smtp.received == []
    assert _sent_copies(mailbox) == 0
    mailbox.send(OutgoingMessage(to=["bob@example.com"], subject="Again", text="x"))
    assert len(smtp.received) == 1


def test_drop_in_the_middle_of_the_data_is_not_delivered_nor_unknown(
        mailbox: ImapMailbox, smtp: SmtpServer, proxy: FaultProxy) -> None:
    # Cut the client's side while a large message is still being written: the final dot
    # never leaves, so the server cannot have it (the outcome is known: not sent).
    big = "x" * 24_000_000  # far more than the loopback socket buffers hold
    proxy.sever_after_upload(1_000_000)
    with pytest.raises(errors.InboxLinkError) as caught:
        mailbox.send(OutgoingMessage(to=["bob@example.com"], subject="Big", text=big))
    assert not isinstance(caught.value, errors.SendOutcomeUnknown)
    assert smtp.received == []


def test_drop_after_the_final_dot_of_a_streamed_message_is_outcome_unknown(
        mailbox: ImapMailbox, smtp: SmtpServer, proxy: FaultProxy) -> None:
    # Several pieces of stream_chunk (1 MiB): the hand-over is the write of the last one.
    _strike_when_delivered(smtp, proxy, Fault("reset"))
    text = "line of a long report\n" * 200_000  # 4.4 MB
    with pytest.raises(errors.SendOutcomeUnknown) as caught:
        mailbox.send(OutgoingMessage(to=["bob@example.com"], subject="Long", text=text))
    assert len(smtp.received) == 1  # delivered once, never repeated
    assert smtp.received[0].raw == caught.value.raw
    assert _sent_copies(mailbox) == 0
