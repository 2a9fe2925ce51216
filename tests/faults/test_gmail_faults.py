"""Gmail under a hostile network: the real google-api-python-client against the emulator,
through the fault proxy. Deliveries are counted in the emulator's outbox."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from gmail.emulator import GmailEmulator
from gmail.support import make_mailbox

from inboxlink import OutgoingMessage, errors
from inboxlink.adapters.gmail import GmailMailbox
from inboxlink.models import SentCopy
from inboxlink.retry import RetryPolicy

from .proxy import Fault, FaultProxy

SEND = b"/messages/send"


@pytest.fixture
def emulator() -> Iterator[GmailEmulator]:
    emu = GmailEmulator().start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def proxy(emulator: GmailEmulator) -> Iterator[FaultProxy]:
    p = FaultProxy(("127.0.0.1", int(emulator.url.rsplit(":", 1)[1].strip("/")))).start()
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture
def mailbox(emulator: GmailEmulator, proxy: FaultProxy) -> Iterator[GmailMailbox]:
    box = make_mailbox(emulator, api_endpoint=proxy.url, timeout=2.0)
    try:
        yield box
    finally:
        box.close()


def _message(n: int = 1) -> OutgoingMessage:
    return OutgoingMessage(to=["bob@example.com"], subject=f"Quote {n}", text="Hello")


@pytest.mark.parametrize("fault", [
    Fault("cut", when=SEND),               # read the POST, closed without a word
    Fault("reset", when=SEND),             # read the POST, then RST
    Fault("cut", when=SEND, after=40),     # answer cut inside the headers
    Fault("cut", when=SEND, after=-10),    # answer cut 10 bytes short (IncompleteRead)
], ids=["closed-unanswered", "reset", "cut-in-headers", "cut-in-body"])
def test_send_whose_answer_is_lost_goes_out_once_and_says_outcome_unknown(
        mailbox: GmailMailbox, emulator: GmailEmulator, proxy: FaultProxy, fault: Fault) -> None:
    if fault.after < 0:  # measure one real answer to cut just before its end
        before = proxy.bytes_down
        mailbox.send(_message(0))
        emulator.outbox.clear()
        emulator.reset_counts()
        fault = Fault(fault.action, when=fault.when, after=proxy.bytes_down - before + fault.after)
    proxy.arm(fault)
    with pytest.raises(errors.SendOutcomeUnknown) as caught:
        mailbox.send(_message())
    assert proxy.struck, "the fault never struck"
    # httplib2 would have repeated the POST on a new connection: two deliveries.
    assert len(emulator.outbox) == 1
    assert emulator.calls.count("messages.send") == 1
    error = caught.value
    assert error.retryable is False
    assert error.message_id
    assert error.message_id.encode() in error.raw
    assert "Sent" in error.remedy
    # The mailbox is usable afterwards, and the next send goes out exactly once more.
    result = mailbox.send(_message(2))
    assert result.sent_copy is SentCopy.SAVED_BY_PROVIDER
    assert len(emulator.outbox) == 2


def test_send_answered_200_with_a_broken_body_is_outcome_unknown(
        mailbox: GmailMailbox, emulator: GmailEmulator) -> None:
    emulator.fail("messages.send", 200, b"<html><body>Bad gateway</body></html>")
    with pytest.raises(errors.SendOutcomeUnknown) as caught:
        mailbox.send(_message())
    assert caught.value.code == "malformedResponse"
    assert emulator.calls.count("messages.send") == 1


def test_send_to_a_refused_connection_is_unreachable_and_delivers_nothing(
        mailbox: GmailMailbox, emulator: GmailEmulator, proxy: FaultProxy) -> None:
    proxy.stop()  # nothing listens any more: the request cannot be written at all
    with pytest.raises(errors.ServerUnreachable) as caught:
        mailbox.send(_message())
    assert not isinstance(caught.value, errors.SendOutcomeUnknown)
    assert emulator.outbox == []


def test_a_request_dropped_by_the_network_is_honestly_unknown(
        mailbox: GmailMailbox, emulator: GmailEmulator, proxy: FaultProxy) -> None:
    # The client wrote the whole request; a middlebox swallowed it. The client cannot tell
    # this from a server that acted and hung up, so "unknown" is the truth: never "sent",
    # never "retryable".
    proxy.arm(Fault("cut", when=SEND, forward=False))
    with pytest.raises(errors.SendOutcomeUnknown):
        mailbox.send(_message())
    assert emulator.outbox == []
    mailbox.send(_message(2))
    assert len(emulator.outbox) == 1


def test_sent_copy_insert_is_never_repeated(
        mailbox: GmailMailbox, emulator: GmailEmulator, proxy: FaultProxy) -> None:
    raw = b"From: alice@gmail.com\r\nTo: bob@example.com\r\nSubject: copy\r\n" \
          b"Message-ID: <copy@example.com>\r\nDate: Sun, 29 Nov 2026 10:00:00 +0000\r\n\r\nhi\r\n"
    proxy.arm(Fault("cut", when=b"POST /gmail/v1/users/me/messages?"))
    with pytest.raises(errors.InboxLinkError) as caught:
        mailbox.append_to_sent(raw)
    assert caught.value.retryable is False
    assert emulator.calls.count("messages.insert") == 1
    assert sum(1 for m in emulator.messages.values() if m.raw == raw) == 1


@pytest.mark.parametrize("body", [b"<html>Service Unavailable</html>", b'{"labels": [',
                                  b'["not", "an", "object"]'])
def test_read_answered_200_with_garbage_is_a_transient_error(
        mailbox: GmailMailbox, emulator: GmailEmulator, body: bytes) -> None:
    emulator.fail("labels.list", 200, body, times=10)
    with pytest.raises(errors.TransientError) as caught:
        mailbox.folders(refresh=True)
    assert caught.value.code == "malformedResponse"
    emulator.fail("labels.list", 200, b"", times=0)
    emulator._faults.clear()
    assert any(f.id == "INBOX" for f in mailbox.folders(refresh=True))


def test_batch_part_with_garbage_is_typed(mailbox: GmailMailbox, emulator: GmailEmulator) -> None:
    emulator.deliver(b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n")
    emulator.fail("messages.get", 200, b"<html>oops</html>", times=50)
    with pytest.raises(errors.TransientError):
        mailbox.list_messages("INBOX")


def test_reset_mid_body_drops_the_connection_and_the_next_call_works(
        mailbox: GmailMailbox, emulator: GmailEmulator, proxy: FaultProxy) -> None:
    for n in range(30):
        emulator.deliver(f"From: a@example.com\r\nSubject: m{n}\r\n\r\nbody\r\n".encode())
    mailbox.folders()
    opened = proxy.accepted
    fault = proxy.arm(Fault("reset", when=b"GET /gmail/v1/users/me/messages?", after=200))
    # A read that lost its connection is retried (ConnectionLost is retryable for reads):
    # on a NEW connection, never on the half-read one, which was dropped.
    page = mailbox.list_messages("INBOX")
    assert len(page.items) == 30
    assert proxy.accepted > opened
    assert fault.fired == 1


def test_a_stalled_read_is_bounded_by_one_deadline(
        emulator: GmailEmulator, proxy: FaultProxy) -> None:
    # timeout=1 per wait; retries would multiply it (OperationTimeout is retryable).
    box = make_mailbox(emulator, api_endpoint=proxy.url, timeout=1.0,
                       retry=RetryPolicy(max_attempts=10, deadline=2.5))
    try:
        proxy.arm(Fault("stall", when=b"/labels", times=20, stall_for=10))
        started = time.monotonic()
        with pytest.raises(errors.OperationTimeout):
            box.folders(refresh=True)
        elapsed = time.monotonic() - started
        assert elapsed < 2.5 + 1.0 + 0.5  # the deadline, plus at most one wait in flight
        assert emulator.calls.count("labels.list") <= 3
        proxy.clear()
        assert box.folders(refresh=True)
    finally:
        box.close()


def test_batch_calls_all_throttled_use_one_retry_budget(
        mailbox: GmailMailbox, emulator: GmailEmulator) -> None:
    ids = [emulator.deliver(f"From: a@example.com\r\nSubject: {n}\r\n\r\nx\r\n".encode())
           for n in range(3)]
    emulator.fail("messages.get", 429, {"error": {"code": 429, "message": "slow down",
                                                  "errors": [{"reason": "rateLimitExceeded"}]}},
                  times=1000, headers={"Retry-After": "0"})
    emulator.reset_counts()
    with pytest.raises(errors.RateLimited):
        mailbox.fetch_many(ids)
    # The mailbox's policy allows 3 tries: 3 batch requests, not 3 × 3.
    assert emulator.requests.count(("POST", "/batch/gmail/v1")) == 3
