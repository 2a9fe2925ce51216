"""Large messages: resumable media uploads for send and insert, resumed after a dropped
chunk, never completed twice, refused above Gmail's 35 MB before anything is sent."""

from __future__ import annotations

import email.parser
import email.utils
import math
import os
import pathlib

import attrs
import pytest

from inboxlink import errors
from inboxlink.adapters.gmail.settings import MAX_INSERT_SIZE, MAX_MESSAGE_SIZE
from inboxlink.models import Attachment, OutgoingMessage, SentCopy

from . import emulator_upload
from .emulator import GmailEmulator
from .support import make_mailbox

MiB = 1024 * 1024
CHUNK = MiB


@pytest.fixture
def big_file(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "report.bin"
    path.write_bytes(os.urandom(6_000_000))
    return path


def _message(path: pathlib.Path, **extra: object) -> OutgoingMessage:
    return OutgoingMessage(to=["carol@example.org"], subject="Report", text="Attached.",
                           attachments=[Attachment.from_path(path)], **extra)  # type: ignore[arg-type]


def _chunks(emulator: GmailEmulator) -> list[str]:
    return [rng for op, rng in emulator.uploads.log if op == "upload.chunk"]


def _statuses(emulator: GmailEmulator) -> int:
    return sum(op == "upload.status" for op, _ in emulator.uploads.log)


def test_a_large_message_goes_up_in_chunks_once(emulator: GmailEmulator,
                                                big_file: pathlib.Path) -> None:
    mailbox = make_mailbox(emulator, upload_chunk_size=CHUNK)
    result = mailbox.send(_message(big_file, bcc=["dave@example.org"]))
    size = len(b"Bcc: dave@example.org\r\n") + result.spool.size
    # One POST opens the session, then one PUT per chunk; no JSON messages.send at all.
    assert emulator.requests == (
        [("POST", "/upload/gmail/v1/users/me/messages/send")]
        + [("PUT", "/upload/gmail/v1/users/me/messages/send")] * math.ceil(size / CHUNK))
    assert _chunks(emulator)[-1] == f"bytes {size // CHUNK * CHUNK}-{size - 1}/{size}"
    assert mailbox.requests_made == len(emulator.requests)
    assert mailbox.units_spent == 100  # one messages.send, however many chunks
    (sent,) = emulator.outbox
    assert sent.raw == result.spool.read()  # Bcc removed for recipients, byte-exact
    assert sorted(sent.recipients) == ["carol@example.org", "dave@example.org"]
    assert result.sent_copy is SentCopy.SAVED_BY_PROVIDER
    assert emulator.messages[result.provider_id or ""].labels == ["SENT"]


def test_up_to_the_simple_limit_it_is_one_json_request(emulator: GmailEmulator,
                                                       big_file: pathlib.Path) -> None:
    mailbox = make_mailbox(emulator, simple_upload_limit=10 * MiB)
    result = mailbox.send(_message(big_file))
    assert emulator.requests == [("POST", "/gmail/v1/users/me/messages/send")]
    assert emulator.uploads.log == []
    assert emulator.sent_raw() == [result.spool.read()]


def test_a_reply_keeps_its_thread_through_the_upload(emulator: GmailEmulator,
                                                     big_file: pathlib.Path) -> None:
    from inboxlink.testing.conformance import make_message

    original_id = emulator.deliver(make_message(1))
    mailbox = make_mailbox(emulator, upload_chunk_size=CHUNK)
    original = mailbox.fetch(original_id)
    reply = attrs.evolve(original.reply(text="Here it is."),
                         attachments=[Attachment.from_path(big_file)])
    result = mailbox.send(reply)
    assert result.thread_id == emulator.messages[original_id].thread_id


def test_the_upload_url_follows_api_endpoint(emulator: GmailEmulator,
                                             big_file: pathlib.Path) -> None:
    # googleapiclient alone would post to https://127.0.0.1:<port>/ (it swaps only the
    # host): the plain-http emulator receiving the session POST proves the URL was re-rooted.
    assert emulator.url.startswith("http://")
    make_mailbox(emulator, upload_chunk_size=CHUNK).send(_message(big_file))
    assert emulator.targets[0].startswith(
        "/upload/gmail/v1/users/me/messages/send?alt=json&uploadType=resumable")
    assert len(emulator.outbox) == 1


def test_a_dropped_chunk_resumes_where_the_server_stands(emulator: GmailEmulator,
                                                         big_file: pathlib.Path) -> None:
    # The first chunk's connection drops after the server kept half of it.
    mailbox = make_mailbox(emulator, upload_chunk_size=CHUNK)
    emulator.uploads.drop("upload.chunk", keep=0.5)
    result = mailbox.send(_message(big_file))
    assert len(emulator.outbox) == 1
    assert emulator.outbox[0].raw == result.spool.read()
    assert _statuses(emulator) == 1
    size = result.spool.size
    chunks = _chunks(emulator)
    # The status says half the first chunk is there: the upload goes on from that byte.
    assert chunks[0] == f"bytes 0-{CHUNK - 1}/{size}"
    assert chunks[1] == f"bytes {CHUNK // 2}-{CHUNK // 2 + CHUNK - 1}/{size}"
    assert len(chunks) == 1 + math.ceil((size - CHUNK // 2) / CHUNK)
    assert mailbox.requests_made == len(emulator.requests)


def test_a_final_answer_lost_after_completion_is_asked_not_resent(
        emulator: GmailEmulator, big_file: pathlib.Path) -> None:
    mailbox = make_mailbox(emulator, upload_chunk_size=CHUNK)
    emulator.uploads.drop("upload.chunk", keep=1.0, final_only=True)
    result = mailbox.send(_message(big_file))
    size = result.spool.size
    final = f"bytes {size // CHUNK * CHUNK}-{size - 1}/{size}"
    assert _chunks(emulator).count(final) == 1  # never repeated
    assert _statuses(emulator) == 1
    assert len(emulator.outbox) == 1
    assert result.provider_id in emulator.messages


def test_a_final_chunk_lost_before_completion_is_sent_again(
        emulator: GmailEmulator, big_file: pathlib.Path) -> None:
    # The status answers 308: the server lacks bytes, so it cannot have sent anything.
    mailbox = make_mailbox(emulator, upload_chunk_size=CHUNK)
    emulator.uploads.drop("upload.chunk", keep=0.0, final_only=True)
    result = mailbox.send(_message(big_file))
    size = result.spool.size
    final = f"bytes {size // CHUNK * CHUNK}-{size - 1}/{size}"
    assert _chunks(emulator).count(final) == 2
    assert len(emulator.outbox) == 1


def test_final_answer_and_status_both_lost_is_outcome_unknown(
        emulator: GmailEmulator, big_file: pathlib.Path) -> None:
    mailbox = make_mailbox(emulator, upload_chunk_size=CHUNK)
    emulator.uploads.drop("upload.chunk", keep=1.0, final_only=True)
    emulator.uploads.drop("upload.status")
    with pytest.raises(errors.SendOutcomeUnknown) as info:
        mailbox.send(_message(big_file))
    assert not info.value.retryable
    assert info.value.message_id
    assert info.value.spool.size > 6_000_000
    size = info.value.spool.size
    final = f"bytes {size // CHUNK * CHUNK}-{size - 1}/{size}"
    assert _chunks(emulator).count(final) == 1
    assert len(emulator.outbox) == 1  # the server did send it: resending would be a second


def test_a_lost_session_opening_is_not_an_unknown_outcome(
        emulator: GmailEmulator, big_file: pathlib.Path) -> None:
    # Gmail opened the session but its answer (the Location) was lost: no message byte
    # left, so this is a plain failure, not SendOutcomeUnknown.
    mailbox = make_mailbox(emulator, upload_chunk_size=CHUNK)
    emulator.uploads.drop("upload.start")
    with pytest.raises(errors.TransientError) as info:
        mailbox.send(_message(big_file))
    assert info.value.code == "uploadStopped"
    assert _chunks(emulator) == []
    assert emulator.outbox == []
    assert mailbox.requests_made == len(emulator.requests) == 1


def test_an_expired_session_is_a_typed_error_and_nothing_is_sent(
        emulator: GmailEmulator, big_file: pathlib.Path) -> None:
    # The session is gone when the first chunk arrives (Gmail answers 404).
    mailbox = make_mailbox(emulator, upload_chunk_size=CHUNK)
    emulator.fail("upload.put", 404, b'{"error": {"code": 404, "message": "Not Found"}}')
    with pytest.raises(errors.InboxLinkError) as info:
        mailbox.send(_message(big_file))
    assert not isinstance(info.value, errors.SendOutcomeUnknown)
    assert info.value.code == "uploadStopped"
    assert "nothing was sent" in (info.value.remedy or "")
    assert emulator.outbox == []


def test_chunk_failures_are_bounded(emulator: GmailEmulator, big_file: pathlib.Path) -> None:
    mailbox = make_mailbox(emulator, upload_chunk_size=CHUNK)
    emulator.uploads.drop("upload.chunk", keep=0.0, times=100)
    with pytest.raises(errors.TransientError) as info:
        mailbox.send(_message(big_file))
    assert info.value.code == "uploadStopped"
    assert len(_chunks(emulator)) == 3  # RetryPolicy(max_attempts=3) of the test mailbox
    assert emulator.outbox == []


def test_too_large_is_refused_before_anything_is_sent(emulator: GmailEmulator,
                                                      tmp_path: pathlib.Path) -> None:
    path = tmp_path / "huge.bin"
    with open(path, "wb") as fh:
        fh.truncate(28_000_000)  # about 37.8 MB once base64-encoded: over Gmail's 35 MB
    with pytest.raises(errors.MessageTooLarge) as info:
        make_mailbox(emulator).send(_message(path))
    assert "35" in (info.value.remedy or "")
    assert info.value.limit == MAX_MESSAGE_SIZE
    assert info.value.size is not None
    assert info.value.size > 28_000_000 * 4 // 3  # counted base64-encoded, as Gmail does
    assert emulator.requests == []


def test_files_alone_above_the_limit_are_refused_before_the_message_is_prepared(
        emulator: GmailEmulator, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "huge.bin"
    with open(path, "wb") as fh:
        fh.truncate(100 * MiB)  # sparse: costs no disk
    attachment = Attachment.from_path(path)
    path.unlink()  # preparing would have to read (and base64-encode) it: refused before
    with pytest.raises(errors.MessageTooLarge) as info:
        make_mailbox(emulator).send(OutgoingMessage(
            to=["carol@example.org"], subject="Huge", text="x", attachments=[attachment]))
    assert info.value.limit == MAX_MESSAGE_SIZE
    assert info.value.size == 4 * -(-100 * MiB // 3)  # the files' base64, a lower bound
    assert "at least" in info.value.message
    assert emulator.requests == []


def test_the_servers_413_is_message_too_large(emulator: GmailEmulator,
                                              big_file: pathlib.Path) -> None:
    emulator.fail("upload.start", 413, b'{"error": {"code": 413, "message": "Request payload '
                  b'size exceeds the limit: 36700160 bytes.", "errors": [{"reason": '
                  b'"uploadTooLarge"}]}}')
    with pytest.raises(errors.MessageTooLarge) as caught:
        make_mailbox(emulator).send(_message(big_file))
    assert emulator.outbox == []
    assert emulator.uploads.sessions == {}
    # Gmail's 413 names its limit only in words: the adapter's own limit and the size
    assert caught.value.limit == MAX_MESSAGE_SIZE
    assert caught.value.size is not None
    assert caught.value.size > os.path.getsize(big_file)


def test_a_large_sent_copy_is_inserted_through_an_upload(emulator: GmailEmulator,
                                                         big_file: pathlib.Path) -> None:
    mailbox = make_mailbox(emulator, upload_chunk_size=CHUNK)
    result = mailbox.send(_message(big_file))
    emulator.reset_counts()
    copy_id = mailbox.append_to_sent(result)
    stored = emulator.messages[copy_id or ""]
    assert stored.raw == result.spool.read()
    assert stored.labels == ["SENT"]
    headers = email.parser.BytesHeaderParser().parsebytes(result.spool.read_range(0, 4096))
    date = email.utils.parsedate_to_datetime(str(headers["Date"]))
    assert stored.internal_ms == int(date.timestamp() * 1000)  # internalDateSource kept
    uploads = [r for r in emulator.requests if r[1].startswith("/upload/")]
    assert uploads == ([("POST", "/upload/gmail/v1/users/me/messages")]
                       + [("PUT", "/upload/gmail/v1/users/me/messages")]
                       * math.ceil(result.spool.size / CHUNK))
    assert len(emulator.outbox) == 1  # inserting is not sending


def test_the_limits_are_gmails_own() -> None:
    # The limit the adapter checks is the one the emulator (and Gmail's discovery
    # document) enforces.
    from inboxlink.adapters.gmail.connection import discovery_document

    methods = discovery_document()["resources"]["users"]["resources"]["messages"]["methods"]
    assert int(methods["send"]["mediaUpload"]["maxSize"]) == MAX_MESSAGE_SIZE
    assert int(methods["insert"]["mediaUpload"]["maxSize"]) == MAX_INSERT_SIZE
    assert emulator_upload.MAX_SIZE == {"messages.send": MAX_MESSAGE_SIZE,
                                        "messages.insert": MAX_INSERT_SIZE,
                                        "messages.import": MAX_INSERT_SIZE}


def test_a_copy_over_inserts_limit_is_refused_before_uploading(
        emulator: GmailEmulator, tmp_path: pathlib.Path) -> None:
    from inboxlink.spool import Spool

    path = tmp_path / "huge.eml"
    with open(path, "wb") as fh:
        fh.write(b"From: alice@gmail.com\r\nTo: carol@example.org\r\n\r\n")
        fh.truncate(151 * MiB)  # sparse: costs no disk
    with pytest.raises(errors.MessageTooLarge) as caught:
        make_mailbox(emulator).append_to_sent(Spool.from_path(path))
    assert (caught.value.limit, caught.value.size) == (MAX_INSERT_SIZE, 151 * MiB)
    assert not [r for r in emulator.requests if r[1] != "/gmail/v1/users/me/labels"]


def test_a_file_over_30_mb_is_stored_and_read_back_byte_exact(
        emulator: GmailEmulator, tmp_path: pathlib.Path) -> None:
    # Gmail cannot *send* a 30 MB file (its 35 MB send limit counts the base64 message), but
    # it stores one: append_to_sent inserts the 41 MB message through the resumable upload,
    # and the file comes back byte-exact through attachments.get.
    import hashlib

    from inboxlink.testing.conformance._core import LARGE_ATTACHMENT_SIZE, large_attachment_payload

    payload = large_attachment_payload()
    assert len(payload) == LARGE_ATTACHMENT_SIZE > 30 * 1024 * 1024
    source = tmp_path / "measurements.bin"
    source.write_bytes(payload)
    mailbox = make_mailbox(emulator, upload_chunk_size=8 * MiB)
    message = OutgoingMessage(to=["carol@example.org"], subject="Archive", text="Stored.",
                              attachments=[Attachment.from_path(source)])
    copy_id = mailbox.append_to_sent(message)
    assert copy_id
    uploads = [r for r in emulator.requests if r[1].startswith("/upload/")]
    assert uploads[0] == ("POST", "/upload/gmail/v1/users/me/messages")
    assert len(uploads) > 5  # the message went up in 8 MiB chunks
    (info,) = mailbox.list_attachments(copy_id)
    target = tmp_path / "read-back.bin"
    assert mailbox.save_attachment(copy_id, info.part, target) == len(payload)
    with open(target, "rb") as fh:
        assert hashlib.file_digest(fh, "sha256").digest() == hashlib.sha256(payload).digest()
    assert emulator.outbox == []  # stored, never sent
