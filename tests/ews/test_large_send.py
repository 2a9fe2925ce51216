"""Large messages on EWS: a draft, one CreateAttachment per large attachment, one SendItem.

Through unmodified exchangelib against the emulator; requests are counted there. A small
``max_request_size`` makes a few-MB message "large", as 35 MB does on a real server.
"""

from __future__ import annotations

import email
import hashlib
import io
import os
import re
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from inboxlink import OutgoingMessage, errors
from inboxlink.adapters.ews._mime_parts import file_parts, without_parts
from inboxlink.adapters.ews._upload import StreamedBody
from inboxlink.adapters.ews.send import plan_uploads
from inboxlink.models import FolderRole, SentCopy
from inboxlink.spool import Spool
from inboxlink.values import Attachment

from .conftest import ADDRESS
from .emulator import EwsEmulator

#: max_request_size for these tests: a 600 kB file fits one request, a message with it does
#: not (base64 twice: in the MIME, and the MIME in the request)
LIMIT = 1_000_000


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "report.bin"
    path.write_bytes(os.urandom(600_000))
    return path


def _message(*attachments: Attachment, bcc: tuple[str, ...] = ()) -> OutgoingMessage:
    return OutgoingMessage(to=["bob@example.net"], bcc=list(bcc), subject="Quarterly report",
                           text="The report is attached.\n", attachments=list(attachments))


def _attachments(raw: bytes) -> dict[str, bytes]:
    parsed = email.message_from_bytes(raw, policy=policy.default)
    found = {}
    for part in parsed.iter_attachments():  # type: ignore[attr-defined]
        payload = part.get_payload(decode=True)
        found[part.get_filename()] = payload
    return found


def _steps(emulator: EwsEmulator) -> dict[str, int]:
    return {op: emulator.count(op) for op in
            ("CreateItem", "CreateAttachment", "SendItem", "DeleteItem", "413")}


def test_a_large_message_is_a_draft_then_its_attachment_then_one_send(
        connect: Callable[..., Any], emulator: EwsEmulator, big_file: Path) -> None:
    mailbox = connect(max_request_size=LIMIT)
    mailbox.folders()
    small = Attachment(filename="notes.txt", content_type="text/plain", data=b"small notes\n")
    before = _steps(emulator)
    result = mailbox.send(_message(Attachment.from_path(big_file), small,
                                   bcc=("carol@example.org",)))
    after = _steps(emulator)
    assert {k: after[k] - before[k] for k in after} == {
        "CreateItem": 1, "CreateAttachment": 1, "SendItem": 1, "DeleteItem": 0, "413": 0}
    assert result.sent_copy is SentCopy.SAVED_BY_PROVIDER
    assert len(emulator.outbox) == 1
    raw, recipients = emulator.outbox[0]
    assert sorted(recipients) == ["bob@example.net", "carol@example.org"]
    assert b"carol@example.org" not in raw
    found = _attachments(raw)
    assert hashlib.sha256(found["report.bin"]).digest() == \
        hashlib.sha256(big_file.read_bytes()).digest()
    assert found["notes.txt"] == b"small notes\n"
    # The draft became the one Sent copy: nothing stays in Drafts.
    user = emulator.users[ADDRESS]
    assert emulator.drafts_of(user) == []
    sent_id = mailbox.folder(FolderRole.SENT).id
    copies = [i for i in emulator.items.values() if i.folder_id == sent_id]
    assert len(copies) == 1
    assert not copies[0].is_draft
    assert result.message_id.encode() in copies[0].mime
    # The Sent copy reads back through the adapter (GetItem, GetAttachment).
    (summary,) = [s for s in mailbox.iter_messages(FolderRole.SENT)
                  if s.message_id == result.message_id]
    infos = {i.filename: i for i in mailbox.list_attachments(summary.id)}
    target = big_file.with_name("read-back.bin")
    assert mailbox.save_attachment(summary.id, infos["report.bin"].part, target) == 600_000
    assert target.read_bytes() == big_file.read_bytes()


def test_a_message_that_fits_is_one_create_item(
        connect: Callable[..., Any], emulator: EwsEmulator, big_file: Path) -> None:
    mailbox = connect()  # 35,000,000 bytes: fits
    mailbox.folders()
    before = _steps(emulator)
    mailbox.send(_message(Attachment.from_path(big_file)))
    after = _steps(emulator)
    assert {k: after[k] - before[k] for k in after} == {
        "CreateItem": 1, "CreateAttachment": 0, "SendItem": 0, "DeleteItem": 0, "413": 0}
    assert _attachments(emulator.outbox[0][0])["report.bin"] == big_file.read_bytes()


def test_a_refused_attachment_leaves_no_draft_and_sends_nothing(
        connect: Callable[..., Any], emulator: EwsEmulator, big_file: Path) -> None:
    mailbox = connect(max_request_size=LIMIT)
    emulator.fail_next("CreateAttachment", "ErrorMailboxStoreUnavailable")
    with pytest.raises(errors.TransientError):
        mailbox.send(_message(Attachment.from_path(big_file)))
    assert emulator.count("SendItem") == 0
    assert emulator.count("DeleteItem") == 1
    assert emulator.outbox == []
    assert emulator.drafts_of(emulator.users[ADDRESS]) == []


def test_a_refused_send_item_leaves_no_draft(
        connect: Callable[..., Any], emulator: EwsEmulator, big_file: Path) -> None:
    mailbox = connect(max_request_size=LIMIT)
    emulator.fail_next("SendItem", "ErrorSendAsDenied")
    with pytest.raises(errors.SendAsDenied):
        mailbox.send(_message(Attachment.from_path(big_file)))
    assert emulator.outbox == []
    assert emulator.drafts_of(emulator.users[ADDRESS]) == []


def test_the_server_refusing_the_message_size_is_message_too_large(
        connect: Callable[..., Any], emulator: EwsEmulator, big_file: Path) -> None:
    mailbox = connect(max_request_size=LIMIT)
    # The file alone is allowed, the message with it is not (a mailbox's MaxSendSize).
    emulator.message_size_limit = 700_000
    with pytest.raises(errors.MessageTooLarge) as caught:
        mailbox.send(_message(Attachment.from_path(big_file)))
    assert caught.value.code == "ErrorMessageSizeExceeded"
    assert "150 MB" in caught.value.message
    shown = re.search(r"\((\d{3},\d{3}) bytes\)", caught.value.message)  # the message's size
    assert shown is not None
    # Exchange's refusal names no number: the size is known, the limit is not
    assert caught.value.size == int(shown.group(1).replace(",", ""))
    assert caught.value.limit is None
    assert emulator.count("SendItem") == 1
    assert emulator.outbox == []
    assert emulator.drafts_of(emulator.users[ADDRESS]) == []


def test_http_413_is_message_too_large_naming_the_assumed_limit(
        connect: Callable[..., Any], emulator: EwsEmulator, big_file: Path) -> None:
    mailbox = connect()  # assumes 150 MiB; this server takes 1,000,000
    mailbox.folders()
    emulator.request_size_limit = LIMIT
    with pytest.raises(errors.MessageTooLarge) as caught:
        mailbox.send(_message(Attachment.from_path(big_file)))
    assert caught.value.code == "RequestEntityTooLarge"
    assert "157,286,400" in caught.value.message
    # a 413 only proves the limit is below the assumed one: not claimed as the limit
    assert caught.value.limit is None
    assert caught.value.size is not None
    assert caught.value.size > os.path.getsize(big_file)
    assert "max_request_size" in caught.value.remedy
    assert emulator.count("413") == 1
    assert emulator.outbox == []
    # Told the server's limit, the same message goes in steps.
    emulator.request_size_limit = LIMIT + 100_000
    retry = connect(max_request_size=LIMIT)
    retry.send(_message(Attachment.from_path(big_file)))
    assert len(emulator.outbox) == 1


def test_an_attachment_that_no_request_can_carry_is_refused_before_anything_is_sent(
        connect: Callable[..., Any], emulator: EwsEmulator, big_file: Path) -> None:
    mailbox = connect(max_request_size=500_000)
    mailbox.folders()
    with pytest.raises(errors.MessageTooLarge) as caught:
        mailbox.send(_message(Attachment.from_path(big_file)))
    assert "500,000" in caught.value.message
    assert caught.value.limit == 500_000  # max_request_size: no request may be larger
    assert caught.value.size is not None
    assert caught.value.size > os.path.getsize(big_file)
    assert _steps(emulator)["CreateItem"] == 0


@pytest.mark.parametrize(("size", "sizes", "limit", "expected"), [
    (900_000, [600_000, 200_000], 2_000_000, ()),
    (4_300_000, [3_000_000, 100_000, 100_000], 1_500_000, None),  # 3 MB alone is too large
    (4_300_000, [1_000_000, 2_000_000, 100_000], 2_900_000, (1,)),
    (3_000_000, [1_000_000, 1_000_000, 100_000], 1_500_000, (0, 1)),
])
def test_plan_uploads_takes_the_largest_attachments_first(
        size: int, sizes: list[int], limit: int, expected: tuple[int, ...] | None) -> None:
    if expected is None:
        with pytest.raises(errors.MessageTooLarge):
            plan_uploads(size, sizes, limit)
    else:
        assert plan_uploads(size, sizes, limit) == expected


def _built(*files: tuple[str, bytes]) -> bytes:
    message = EmailMessage()
    message["From"] = ADDRESS
    message["To"] = "bob@example.net"
    message["Subject"] = "Copy"
    message["Message-ID"] = "<copy-large@example.com>"
    message.set_content("Body text.\n")
    for name, data in files:
        message.add_attachment(data, maintype="application", subtype="octet-stream",
                               filename=name)
    return message.as_bytes(policy=policy.SMTP)


def test_file_parts_finds_decodes_and_cuts_out_the_base64_files() -> None:
    big, small = os.urandom(300_001), b"tiny"
    spool = Spool.of(_built(("big.bin", big), ("small.txt", small)))
    parts = file_parts(spool)
    assert [(p.filename, p.size) for p in parts] == [("big.bin", len(big)),
                                                      ("small.txt", len(small))]
    with parts[0].open() as fh:
        assert fh.read() == big
    rest = without_parts(spool, [parts[0]])
    parsed = email.message_from_bytes(rest.read(), policy=policy.default)
    assert parsed["Message-ID"] == "<copy-large@example.com>"
    assert _attachments(rest.read()) == {"small.txt": small}
    original = email.message_from_bytes(spool.read(), policy=policy.default)
    assert parsed.get_body(preferencelist=("plain",)).get_content() == \
        original.get_body(preferencelist=("plain",)).get_content()


def test_a_large_sent_copy_is_stored_in_steps_as_a_sent_message(
        connect: Callable[..., Any], emulator: EwsEmulator) -> None:
    mailbox = connect(max_request_size=LIMIT)
    mailbox.folders()
    big = os.urandom(600_000)
    before = _steps(emulator)
    mailbox.append_to_sent(_built(("big.bin", big), ("small.txt", b"tiny")))
    after = _steps(emulator)
    assert {k: after[k] - before[k] for k in after} == {
        "CreateItem": 1, "CreateAttachment": 1, "SendItem": 0, "DeleteItem": 0, "413": 0}
    assert emulator.outbox == []
    sent_id = mailbox.folder(FolderRole.SENT).id
    (copy,) = [i for i in emulator.items.values() if i.folder_id == sent_id]
    assert not copy.is_draft
    assert copy.is_read
    assert _attachments(copy.mime) == {"small.txt": b"tiny", "big.bin": big}


def test_a_sent_copy_whose_attachment_is_refused_is_removed_again(
        connect: Callable[..., Any], emulator: EwsEmulator) -> None:
    mailbox = connect(max_request_size=LIMIT)
    sent_id = mailbox.folder(FolderRole.SENT).id
    emulator.fail_next("CreateAttachment", "ErrorQuotaExceeded")
    with pytest.raises(errors.QuotaExceeded):
        mailbox.append_to_sent(_built(("big.bin", os.urandom(600_000))))
    assert [i for i in emulator.items.values() if i.folder_id == sent_id] == []


def test_a_large_stdlib_message_goes_in_steps_from_its_own_parts(
        connect: Callable[..., Any], emulator: EwsEmulator) -> None:
    mailbox = connect(max_request_size=LIMIT)
    mailbox.folders()
    big = os.urandom(600_000)
    message = email.message_from_bytes(_built(("big.bin", big), ("small.txt", b"tiny")),
                                       policy=policy.default)
    before = _steps(emulator)
    mailbox.send(message)
    after = _steps(emulator)
    assert {k: after[k] - before[k] for k in after} == {
        "CreateItem": 1, "CreateAttachment": 1, "SendItem": 1, "DeleteItem": 0, "413": 0}
    (delivered,) = emulator.sent_raw()
    assert b"<copy-large@example.com>" in delivered
    assert _attachments(delivered) == {"small.txt": b"tiny", "big.bin": big}


def test_a_file_that_changed_size_stops_the_request_with_a_typed_error() -> None:
    body = StreamedBody(b"<a>", lambda: io.BytesIO(b"x" * 10), 11, b"</a>")
    assert len(body) == 3 + 16 + 4
    with pytest.raises(errors.InvalidMessage, match="changed"):
        b"".join(body)
    missing = StreamedBody(b"<a>", Path("/nonexistent/inboxlink").open, 1, b"</a>")
    with pytest.raises(errors.InvalidMessage, match="could not be read"):
        b"".join(missing)


def test_an_upload_refused_by_its_length_removes_the_draft(
        connect: Callable[..., Any], emulator: EwsEmulator, big_file: Path) -> None:
    mailbox = connect(max_request_size=LIMIT)  # the server's real limit is lower still
    mailbox.folders()
    emulator.request_size_limit = 700_000
    with pytest.raises(errors.MessageTooLarge) as caught:
        mailbox.send(_message(Attachment.from_path(big_file)))
    assert caught.value.code == "RequestEntityTooLarge"
    assert _steps(emulator) == {"CreateItem": 1, "CreateAttachment": 0, "SendItem": 0,
                                "DeleteItem": 1, "413": 1}
    assert emulator.outbox == []
    assert emulator.drafts_of(emulator.users[ADDRESS]) == []
