"""Exchange (EWS) under a hostile network: the real exchangelib/requests against the EWS
emulator, through the fault proxy, with exchangelib's FaultTolerance retry policy on (the
one that re-sends requests). Deliveries are counted in the emulator's outbox."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from ews.emulator import EwsEmulator

from inboxlink import OutgoingMessage, errors
from inboxlink.adapters.ews import EwsMailbox, EwsSettings
from inboxlink.models import FolderRole, SentCopy
from inboxlink.retry import RetryPolicy
from inboxlink.values import Attachment

from .proxy import Fault, FaultProxy

ADDRESS = "alice@example.com"
PASSWORD = "s3cret-Pa55"
SEND = b"CreateItem"


@pytest.fixture
def emulator() -> Iterator[EwsEmulator]:
    server = EwsEmulator()
    server.start()
    server.add_user(ADDRESS, PASSWORD)
    yield server
    server.stop()


@pytest.fixture
def proxy(emulator: EwsEmulator) -> Iterator[FaultProxy]:
    port = int(emulator.base_url.rsplit(":", 1)[1])
    p = FaultProxy(("127.0.0.1", port)).start()
    yield p
    p.stop()


@pytest.fixture
def mailbox(emulator: EwsEmulator, proxy: FaultProxy) -> Iterator[EwsMailbox]:
    box = EwsMailbox(EwsSettings(
        address=ADDRESS, password=PASSWORD, url=f"http://127.0.0.1:{proxy.port}/EWS/Exchange.asmx",
        timeout=3.0, throttle_max_wait=5.0, retry=RetryPolicy(max_attempts=2)))
    box.folder(FolderRole.SENT)  # folders cached: the send itself is the next request
    yield box
    box.close()


def _message(n: int = 1) -> OutgoingMessage:
    return OutgoingMessage(to=["bob@example.com"], subject=f"Invoice {n}", text="Hello")


@pytest.mark.parametrize("fault", [Fault("cut", when=SEND), Fault("reset", when=SEND),
                                   Fault("cut", when=SEND, after=60)],
                         ids=["closed-unanswered", "reset", "cut-in-answer"])
def test_send_whose_answer_is_lost_goes_out_once_and_says_outcome_unknown(
        mailbox: EwsMailbox, emulator: EwsEmulator, proxy: FaultProxy, fault: Fault) -> None:
    proxy.arm(fault)
    with pytest.raises(errors.SendOutcomeUnknown) as caught:
        mailbox.send(_message())
    assert proxy.struck
    assert len(emulator.outbox) == 1
    assert emulator.count("CreateItem") == 1
    assert caught.value.retryable is False
    assert caught.value.message_id
    assert caught.value.message_id.encode() in caught.value.raw
    result = mailbox.send(_message(2))
    assert result.sent_copy is SentCopy.SAVED_BY_PROVIDER
    assert len(emulator.outbox) == 2


def test_exchangelib_never_repeats_a_send_the_server_called_busy(
        mailbox: EwsMailbox, emulator: EwsEmulator) -> None:
    # FaultTolerance would back off and send the CreateItem again.
    emulator.fail_next("CreateItem", "ErrorServerBusy", kind="fault", back_off_ms=10)
    with pytest.raises(errors.RateLimited):
        mailbox.send(_message())
    assert emulator.count("CreateItem") == 1
    assert emulator.outbox == []


def test_a_send_answered_with_a_web_page_is_outcome_unknown(
        mailbox: EwsMailbox, emulator: EwsEmulator) -> None:
    emulator.fail_next("http:CreateItem", kind="http", status=200,
                       body=b"<html><body>Proxy says hello</body></html>")
    with pytest.raises(errors.SendOutcomeUnknown):
        mailbox.send(_message())
    assert emulator.count("CreateItem") == 1


def test_a_send_that_cannot_connect_is_not_outcome_unknown(
        mailbox: EwsMailbox, emulator: EwsEmulator, proxy: FaultProxy) -> None:
    proxy.stop()
    with pytest.raises(errors.InboxLinkError) as caught:
        mailbox.send(_message())
    assert not isinstance(caught.value, errors.SendOutcomeUnknown)
    assert isinstance(caught.value, errors.ServerUnreachable | errors.OperationTimeout)
    assert emulator.outbox == []


def test_the_sent_copy_is_never_stored_twice(
        mailbox: EwsMailbox, emulator: EwsEmulator, proxy: FaultProxy) -> None:
    raw = (b"From: alice@example.com\r\nTo: bob@example.com\r\nSubject: copy\r\n"
           b"Message-ID: <copy@example.com>\r\nDate: Sun, 29 Nov 2026 10:00:00 +0000\r\n\r\nhi\r\n")
    proxy.arm(Fault("cut", when=SEND))
    with pytest.raises(errors.InboxLinkError):
        mailbox.append_to_sent(raw)
    assert emulator.count("CreateItem") == 1


def test_a_sent_copy_whose_answer_timed_out_is_never_stored_twice(
        emulator: EwsEmulator, proxy: FaultProxy) -> None:
    box = EwsMailbox(EwsSettings(
        address=ADDRESS, password=PASSWORD, url=f"http://127.0.0.1:{proxy.port}/EWS/Exchange.asmx",
        timeout=1.0, retry=RetryPolicy(max_attempts=4)))
    try:
        box.folder(FolderRole.SENT)
        proxy.arm(Fault("stall", when=SEND, stall_for=5))
        raw = (b"From: alice@example.com\r\nTo: bob@example.com\r\nSubject: copy\r\n"
               b"Message-ID: <copy2@example.com>\r\n\r\nhi\r\n")
        with pytest.raises(errors.InboxLinkError) as caught:
            box.append_to_sent(raw)
        assert caught.value.retryable is False
        assert emulator.count("CreateItem") == 1  # not once per policy attempt
    finally:
        proxy.clear()
        box.close()


@pytest.mark.parametrize("fault", [Fault("cut", when=b"SendItem"),
                                   Fault("reset", when=b"SendItem")],
                         ids=["closed-unanswered", "reset"])
def test_a_large_send_whose_send_item_answer_is_lost_goes_out_once_and_says_outcome_unknown(
        emulator: EwsEmulator, proxy: FaultProxy, fault: Fault, tmp_path: Any) -> None:
    # A draft, its attachment, then SendItem: only SendItem sends, so only its lost answer
    # is "outcome unknown" (and the draft, which may now be the Sent copy, is left alone).
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(600_000))
    box = EwsMailbox(EwsSettings(
        address=ADDRESS, password=PASSWORD, url=f"http://127.0.0.1:{proxy.port}/EWS/Exchange.asmx",
        timeout=3.0, throttle_max_wait=5.0, retry=RetryPolicy(max_attempts=2),
        max_request_size=1_000_000))
    try:
        box.folder(FolderRole.SENT)
        proxy.arm(fault)
        message = OutgoingMessage(to=["bob@example.com"], subject="Large",
                                  text="Attached.", attachments=[Attachment.from_path(big)])
        with pytest.raises(errors.SendOutcomeUnknown) as caught:
            box.send(message)
        assert proxy.struck
        assert caught.value.retryable is False
        assert emulator.count("SendItem") == 1
        assert emulator.count("DeleteItem") == 0
        assert len(emulator.outbox) == 1
    finally:
        box.close()
