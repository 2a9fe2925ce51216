"""Microsoft Graph under a hostile network: the real msgraph-sdk/kiota/httpx against the Graph
emulator, through the fault proxy. Deliveries are counted in the emulator's outbox."""

from __future__ import annotations

import time
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from graph.emulator import GraphEmulator

from inboxlink import OutgoingMessage, aio, errors
from inboxlink.adapters.graph import GraphMailbox, GraphSettings
from inboxlink.models import FolderRole
from inboxlink.retry import RetryPolicy
from inboxlink.testing.conformance.aio import blocking
from inboxlink.values import Attachment

from .proxy import Fault, FaultProxy

SEND = b"/sendMail"


@pytest.fixture
def emulator() -> Iterator[GraphEmulator]:
    emu = GraphEmulator().start()
    yield emu
    emu.stop()


@pytest.fixture
def proxy(emulator: GraphEmulator) -> Iterator[FaultProxy]:
    p = FaultProxy(("127.0.0.1", emulator.server.server_address[1])).start()
    yield p
    p.stop()


def _mailbox(emulator: GraphEmulator, proxy: FaultProxy, **options: object) -> GraphMailbox:
    settings: dict[str, object] = {
        "address": emulator.address, "access_token": emulator.token,
        "base_url": f"http://127.0.0.1:{proxy.port}/v1.0", "timeout": 3.0,
        "retry": RetryPolicy(max_attempts=4), **options}
    return GraphMailbox(GraphSettings(**settings))  # type: ignore[arg-type]


@pytest.fixture(params=["sync", "native-async"])
def mailbox(request: pytest.FixtureRequest, emulator: GraphEmulator,
            proxy: FaultProxy) -> Iterator[GraphMailbox]:
    """Each fault twice: through the synchronous face and through the async face, whose
    requests run natively on an event loop (`inboxlink.aio.native`, driven here through
    `conformance.aio.blocking`) — the one implementation must keep its promises on both."""
    box = _mailbox(emulator, proxy)
    if request.param == "sync":
        yield box
        box.close()
        return
    with blocking(aio.wrap(box)) as face:
        yield face  # type: ignore[misc]  # the same public methods, run on the loop


def _message(n: int = 1) -> OutgoingMessage:
    return OutgoingMessage(to=["bob@example.com"], subject=f"Offer {n}", text="Hello")


def _sends(emulator: GraphEmulator) -> int:
    return emulator.count("POST", r"/sendMail$")


@pytest.mark.parametrize("fault", [Fault("cut", when=SEND), Fault("reset", when=SEND),
                                   Fault("cut", when=SEND, after=20)],
                         ids=["closed-unanswered", "reset", "cut-in-headers"])
def test_send_whose_answer_is_lost_goes_out_once_and_says_outcome_unknown(
        mailbox: GraphMailbox, emulator: GraphEmulator, proxy: FaultProxy, fault: Fault) -> None:
    proxy.arm(fault)
    with pytest.raises(errors.SendOutcomeUnknown) as caught:
        mailbox.send(_message())
    assert proxy.struck
    assert len(emulator.outbox) == 1
    assert _sends(emulator) == 1
    assert caught.value.retryable is False
    assert caught.value.message_id
    assert caught.value.message_id.encode() in caught.value.raw
    mailbox.send(_message(2))
    assert len(emulator.outbox) == 2


@pytest.mark.parametrize(("status", "expected"), [
    (429, errors.RateLimited), (503, errors.TransientError), (500, errors.TransientError),
])
def test_kiota_never_repeats_a_refused_send(
        mailbox: GraphMailbox, emulator: GraphEmulator, status: int,
        expected: type[errors.InboxLinkError]) -> None:
    # kiota's RetryHandler would repeat 429/503/504 three times.
    emulator.fail(status, "ServiceUnavailable" if status != 429 else "TooManyRequests",
                  "busy", path=r"/sendMail$", times=5, headers={"Retry-After": "0"})
    with pytest.raises(expected) as caught:
        mailbox.send(_message())
    assert not isinstance(caught.value, errors.SendOutcomeUnknown)
    assert _sends(emulator) == 1
    assert emulator.outbox == []


def test_a_gateway_timeout_on_send_is_outcome_unknown(
        mailbox: GraphMailbox, emulator: GraphEmulator) -> None:
    emulator.fail(504, raw_body=b"<html><body>504 Gateway Time-out</body></html>",
                  path=r"/sendMail$")
    with pytest.raises(errors.SendOutcomeUnknown):
        mailbox.send(_message())
    assert _sends(emulator) == 1


def test_send_to_a_refused_connection_is_not_outcome_unknown(
        mailbox: GraphMailbox, emulator: GraphEmulator, proxy: FaultProxy) -> None:
    proxy.stop()
    fresh = _mailbox(emulator, proxy)  # no pooled keep-alive connection: it must connect
    try:
        with pytest.raises(errors.InboxLinkError) as caught:
            fresh.send(_message())
    finally:
        fresh.close()
    assert not isinstance(caught.value, errors.SendOutcomeUnknown)
    assert isinstance(caught.value, errors.ServerUnreachable)
    assert emulator.outbox == []


@pytest.mark.parametrize("body", [b"<html><body>Proxy error</body></html>", b'{"value": [',
                                  b"[1, 2]"])
def test_read_answered_200_with_garbage_is_a_transient_error(
        mailbox: GraphMailbox, emulator: GraphEmulator, body: bytes) -> None:
    emulator.deliver(b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n")
    mailbox.folders()
    emulator.fail(200, raw_body=body, path=r"/messages$", times=10,
                  headers={"Content-Type": "application/json"})
    with pytest.raises(errors.TransientError) as caught:
        mailbox.list_messages("inbox")
    assert caught.value.code == "malformedResponse"
    emulator.failures.clear()
    assert len(mailbox.list_messages("inbox").items) == 1


def test_batch_items_all_throttled_use_one_retry_budget(
        mailbox: GraphMailbox, emulator: GraphEmulator) -> None:
    ids = [emulator.deliver(f"From: a@example.com\r\nSubject: {n}\r\n\r\nx\r\n".encode())
           for n in range(3)]
    emulator.fail(429, "TooManyRequests", "slow down", path=r"/\$value$", times=1000,
                  headers={"Retry-After": "0"})
    before = emulator.count("POST", r"/\$batch$")
    with pytest.raises(errors.RateLimited):
        mailbox.fetch_many(ids)
    # max_attempts=4 is four $batch requests in all, not 4 (policy) × 4 (batch loop) = 16.
    assert emulator.count("POST", r"/\$batch$") - before == 4


def test_a_stalled_read_is_bounded_by_one_deadline(
        emulator: GraphEmulator, proxy: FaultProxy) -> None:
    box = _mailbox(emulator, proxy, timeout=1.0,
                   retry=RetryPolicy(max_attempts=10, deadline=2.5))
    try:
        box.folders()
        emulator.stall = (r"/messages$", 5.0)
        started = time.monotonic()
        with pytest.raises(errors.OperationTimeout):
            box.list_messages("inbox")
        assert time.monotonic() - started < 2.5 + 1.0 + 0.5
        emulator.stall = None
        assert box.list_messages("inbox").items == ()
    finally:
        box.close()


@pytest.mark.parametrize("fault", ["stall", "garbage"])
def test_a_sent_copy_whose_answer_was_lost_is_never_stored_twice(
        emulator: GraphEmulator, proxy: FaultProxy, fault: str) -> None:
    box = _mailbox(emulator, proxy, timeout=1.0, retry=RetryPolicy(max_attempts=4))
    try:
        sent = box.folder(FolderRole.SENT)
        if fault == "stall":  # answered after the client gave up: stored all the same
            emulator.stall = (r"/mailFolders/[^/]+/messages$", 1.5)
        else:
            emulator.fail(201, raw_body=b"<html>created</html>", method="POST",
                          path=r"/mailFolders/[^/]+/messages$")
        raw = (b"From: alice@contoso.com\r\nTo: bob@example.com\r\nSubject: copy\r\n"
               b"Message-ID: <copy@example.com>\r\n\r\nhi\r\n")
        with pytest.raises(errors.InboxLinkError) as caught:
            box.append_to_sent(raw)
        assert caught.value.retryable is False
        # The policy (4 tries) would have posted it four times.
        assert emulator.count("POST", r"/mailFolders/[^/]+/messages$") == 1
        assert sent.id
    finally:
        emulator.stall = None
        box.close()


# ---------------------------------------------------------------------- large messages
_CHUNK = 10 * 320 * 1024


@pytest.fixture
def large_mailbox(emulator: GraphEmulator, proxy: FaultProxy) -> Iterator[GraphMailbox]:
    # A 10 MB upload through the proxy can outlast the 3 s of the other tests on a loaded
    # machine; a timed-out chunk is not the fault under test here (the proxy's faults are).
    box = _mailbox(emulator, proxy, timeout=30.0)
    yield box
    box.close()


def _large(tmp_path: Path, size: int = 3 * _CHUNK + 1000) -> tuple[OutgoingMessage, bytes]:
    data = bytes(range(256)) * (size // 256) + b"\x07" * (size % 256)
    path = tmp_path / "large.bin"
    path.write_bytes(data)
    return OutgoingMessage(to=["bob@example.com"], subject="Large", text="see attached",
                           attachments=[Attachment.from_path(path)]), data


def _attachment_of(raw: bytes) -> bytes:
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    (part,) = parsed.iter_attachments()
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload


@pytest.mark.parametrize("fault", [
    Fault("reset", when=f"bytes {_CHUNK}-".encode(), forward=False),  # chunk never arrived
    Fault("cut", when=f"bytes {_CHUNK}-".encode()),  # chunk stored, its answer lost
    # the last chunk stored and its answer lost: the finished session is gone (404), the
    # draft's attachments show the file arrived
    Fault("cut", when=f"bytes {3 * _CHUNK}-".encode()),
], ids=["dropped-before-server", "answer-lost", "last-answer-lost"])
def test_a_dropped_upload_chunk_resumes_and_one_message_is_delivered(
        large_mailbox: GraphMailbox, emulator: GraphEmulator, proxy: FaultProxy, fault: Fault,
        tmp_path: Path) -> None:
    message, data = _large(tmp_path)
    proxy.arm(fault)
    result = large_mailbox.send(message)
    assert proxy.struck
    assert emulator.count("GET", r"^/upload/") == 1  # asked where to resume, once
    # only a vanished finished session sends the client to the draft's attachments
    last = fault.when == f"bytes {3 * _CHUNK}-".encode()
    assert emulator.count("GET", r"/attachments") == (1 if last else 0)
    # each byte range reached the server exactly once
    assert [start for _, start, _ in emulator.uploads.chunks] == [0, _CHUNK, 2 * _CHUNK,
                                                                  3 * _CHUNK]
    assert emulator.count("POST", r"/messages/[^/]+/send$") == 1
    (delivered,) = emulator.outbox
    assert _attachment_of(delivered) == data
    assert result.saved_by_provider
    assert emulator.messages_in("drafts") == []


def test_a_lost_answer_to_the_drafts_send_is_outcome_unknown_and_sent_once(
        large_mailbox: GraphMailbox, emulator: GraphEmulator, proxy: FaultProxy,
        tmp_path: Path) -> None:
    message, data = _large(tmp_path)
    proxy.arm(Fault("cut", when=b"/send HTTP/1.1"))
    with pytest.raises(errors.SendOutcomeUnknown) as caught:
        large_mailbox.send(message)
    assert caught.value.retryable is False
    assert caught.value.message_id
    assert emulator.count("POST", r"/messages/[^/]+/send$") == 1
    assert emulator.count("POST", r"/permanentDelete$") == 0  # a sent item is never touched
    (delivered,) = emulator.outbox
    assert _attachment_of(delivered) == data


def test_an_upload_that_keeps_dropping_gives_up_and_deletes_the_draft(
        large_mailbox: GraphMailbox, emulator: GraphEmulator, proxy: FaultProxy,
        tmp_path: Path) -> None:
    message, _ = _large(tmp_path)
    proxy.arm(Fault("reset", when=b"PUT /upload/", forward=False, times=100))
    with pytest.raises(errors.InboxLinkError) as caught:
        large_mailbox.send(message)
    assert not isinstance(caught.value, errors.SendOutcomeUnknown)
    assert emulator.count("POST", r"/messages/[^/]+/send$") == 0
    assert emulator.outbox == []
    assert emulator.messages_in("drafts") == []
