"""Large messages through Graph: a draft, upload sessions in ranged PUTs, then ``/send``.

Against the emulator's upload-session endpoints, with the real msgraph-sdk and httpx; request
counts are asserted, not timings. Dropped chunks (through the fault proxy) are in
tests/faults/test_graph_faults.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from inboxlink import OutgoingMessage, errors
from inboxlink.adapters.graph import GraphMailbox
from inboxlink.models import SentCopy
from inboxlink.values import Attachment

from .conftest import make_mailbox
from .emulator import GraphEmulator

CHUNK = 10 * 320 * 1024
DRAFTS = r"^/v1\.0/me/messages$"
SESSIONS = r"/attachments/createUploadSession$"
UPLOADS = r"^/upload/"
SENDS = r"/messages/[^/]+/send$"


def _file(tmp_path: Path, name: str, size: int) -> Path:
    path = tmp_path / name
    with open(path, "wb") as fh:
        seed = name.encode()
        for start in range(0, size, 1 << 20):  # varied bytes, so a misplaced range shows
            block = hashlib.sha256(seed + str(start).encode()).digest() * 32768
            fh.write(block[:min(1 << 20, size - start)])
    return path


def _delivered(emulator: GraphEmulator) -> EmailMessage:
    (raw,) = emulator.outbox
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _files(message: EmailMessage) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        out[str(part.get_filename())] = payload
    return out


def _no_drafts_left(emulator: GraphEmulator) -> None:
    assert emulator.messages_in("drafts") == []
    assert emulator.messages_in("deleteditems") == []  # deleted for good, not moved


def test_a_large_attachment_goes_through_one_upload_session(
        emulator: GraphEmulator, mailbox: GraphMailbox, tmp_path: Path) -> None:
    big = _file(tmp_path, "report.pdf", 8 * 1024 * 1024 + 12345)
    mailbox.folders()
    result = mailbox.send(OutgoingMessage(
        to=["carol@example.org"], bcc=["dave@example.org"], subject="Quarterly",
        text="Numbers attached.",
        attachments=[Attachment.from_path(big),
                     Attachment(filename="note.txt", content_type="text/plain", data=b"small")]))
    assert result.sent_copy is SentCopy.SAVED_BY_PROVIDER
    assert result.sent_folder_id == emulator.wellknown["sentitems"]
    # one draft, one session, ceil(size / chunk) PUTs, one send; never sendMail
    assert emulator.count("POST", DRAFTS) == 1
    assert emulator.count("POST", SESSIONS) == 1
    assert emulator.count("PUT", UPLOADS) == math.ceil(big.stat().st_size / CHUNK)
    assert emulator.count("GET", UPLOADS) == 0
    assert emulator.count("POST", SENDS) == 1
    assert emulator.count("POST", r"/sendMail$") == 0
    uploads = [r for r in emulator.requests if r.method == "PUT"]
    assert all("authorization" not in r.headers for r in uploads)  # pre-authenticated URL
    assert [s for _, s, _ in emulator.uploads.chunks] == list(
        range(0, big.stat().st_size, CHUNK))
    delivered = _delivered(emulator)
    assert _files(delivered) == {"report.pdf": big.read_bytes(), "note.txt": b"small"}
    assert delivered["Message-ID"] == result.message_id
    assert "Bcc" not in delivered
    assert emulator.envelopes == [["carol@example.org", "dave@example.org"]]
    (copy,) = emulator.messages_in("sentitems")
    assert copy["json"]["internetMessageId"] == result.message_id
    _no_drafts_left(emulator)


def test_each_large_attachment_has_its_own_session_and_small_ones_stay_in_the_draft(
        emulator: GraphEmulator, mailbox: GraphMailbox, tmp_path: Path) -> None:
    first = _file(tmp_path, "a.bin", 4 * 1024 * 1024)
    second = _file(tmp_path, "b.bin", CHUNK * 2)  # exactly two chunks
    mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="Two", text="x",
                                 attachments=[Attachment.from_path(first),
                                              Attachment.from_path(second)]))
    assert emulator.count("POST", SESSIONS) == 2
    assert emulator.count("PUT", UPLOADS) == 2 + 2
    assert _files(_delivered(emulator)) == {"a.bin": first.read_bytes(),
                                            "b.bin": second.read_bytes()}


def test_medium_files_that_together_are_too_large_are_posted_one_by_one(
        emulator: GraphEmulator, mailbox: GraphMailbox, tmp_path: Path) -> None:
    paths = [_file(tmp_path, f"m{n}.bin", 1_500_000) for n in range(3)]
    mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="Three", text="x",
                                 attachments=[Attachment.from_path(p) for p in paths]))
    posted = emulator.count("POST", r"/messages/[^/]+/attachments$")
    assert 1 <= posted <= 3
    assert emulator.count("POST", SESSIONS) == 0
    assert _files(_delivered(emulator)) == {p.name: p.read_bytes() for p in paths}
    _no_drafts_left(emulator)


def test_an_inline_file_keeps_its_content_id(
        emulator: GraphEmulator, mailbox: GraphMailbox, tmp_path: Path) -> None:
    logo = _file(tmp_path, "logo.png", 4 * 1024 * 1024)
    mailbox.send(OutgoingMessage(
        to=["carol@example.org"], subject="Logo", html='<img src="cid:logo@contoso.com">',
        attachments=[Attachment.from_path(logo, content_type="image/png", inline=True,
                                          content_id="<logo@contoso.com>")]))
    (session,) = [r for r in emulator.requests if r.path.endswith("/createUploadSession")]
    (part,) = [p for p in _delivered(emulator).walk() if p.get_content_type() == "image/png"]
    assert part.get_content_disposition() == "inline"
    assert part["Content-ID"] == "<logo@contoso.com>"
    assert part.get_payload(decode=True) == logo.read_bytes()
    assert session.method == "POST"


def test_an_expired_upload_session_deletes_the_draft(
        emulator: GraphEmulator, mailbox: GraphMailbox, tmp_path: Path) -> None:
    emulator.uploads.lifetime = dt.timedelta(0)  # expired before the first chunk
    with pytest.raises(errors.TransientError) as caught:
        mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="Late", text="x",
                                     attachments=[Attachment.from_path(
                                         _file(tmp_path, "big.bin", 4 * 1024 * 1024))]))
    assert caught.value.code == "uploadSessionGone"
    assert "nothing was sent" in caught.value.remedy
    assert emulator.count("PUT", UPLOADS) == 1
    assert emulator.count("POST", SENDS) == 0
    _no_drafts_left(emulator)


def test_a_range_mismatch_resumes_from_what_the_server_expects(
        emulator: GraphEmulator, mailbox: GraphMailbox, tmp_path: Path) -> None:
    big = _file(tmp_path, "big.bin", 5 * 1024 * 1024)
    emulator.fail(416, "ErrorInvalidRange", "InvalidRange", path=UPLOADS, method="PUT")
    mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="Resume", text="x",
                                 attachments=[Attachment.from_path(big)]))
    assert emulator.count("GET", UPLOADS) == 1
    assert emulator.count("PUT", UPLOADS) == math.ceil(big.stat().st_size / CHUNK) + 1
    assert _files(_delivered(emulator)) == {"big.bin": big.read_bytes()}


@pytest.mark.parametrize(("status", "code", "path", "method"), [
    (500, "ErrorInternalServerError", SESSIONS, "POST"),
    (404, "ErrorItemNotFound", UPLOADS, "PUT"),  # the session expired mid-upload
    (413, "RequestEntityTooLarge", UPLOADS, "PUT"),
])
def test_a_failure_before_the_send_deletes_the_draft_and_sends_nothing(
        emulator: GraphEmulator, mailbox: GraphMailbox, tmp_path: Path, status: int,
        code: str, path: str, method: str) -> None:
    big = _file(tmp_path, "big.bin", 4 * 1024 * 1024)
    emulator.fail(status, code, "refused", path=path, method=method, times=10)
    with pytest.raises(errors.InboxLinkError) as caught:
        mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="No", text="x",
                                     attachments=[Attachment.from_path(big)]))
    assert not isinstance(caught.value, errors.SendOutcomeUnknown)
    assert emulator.count("POST", SENDS) == 0
    assert emulator.outbox == []
    assert emulator.count("POST", r"/permanentDelete$") == 1
    _no_drafts_left(emulator)


def test_a_refused_send_of_the_draft_deletes_it(
        emulator: GraphEmulator, mailbox: GraphMailbox, tmp_path: Path) -> None:
    big = _file(tmp_path, "big.bin", 4 * 1024 * 1024)
    emulator.fail(400, "ErrorInvalidRecipients", "At least one recipient isn't valid.",
                  path=SENDS)
    with pytest.raises(errors.InboxLinkError) as caught:
        mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="No", text="x",
                                     attachments=[Attachment.from_path(big)]))
    assert not isinstance(caught.value, errors.SendOutcomeUnknown)
    assert emulator.count("POST", SENDS) == 1
    assert emulator.outbox == []
    _no_drafts_left(emulator)


def test_above_the_limit_is_refused_before_any_request(
        emulator: GraphEmulator, tmp_path: Path) -> None:
    huge = tmp_path / "huge.bin"
    with open(huge, "wb") as fh:
        fh.truncate(6 * 1024 * 1024)
    box = make_mailbox(emulator, max_message_size=5 * 1024 * 1024)
    try:
        before = len(emulator.requests)
        with pytest.raises(errors.MessageTooLarge) as caught:
            box.send(OutgoingMessage(to=["carol@example.org"], subject="Huge", text="x",
                                     attachments=[Attachment.from_path(huge)]))
    finally:
        box.close()
    assert "5 MB" in caught.value.message
    assert caught.value.limit == 5 * 1024 * 1024
    assert caught.value.size is not None
    assert caught.value.size >= 6 * 1024 * 1024
    assert len(emulator.requests) == before
    assert emulator.outbox == []


def test_files_that_fit_alone_but_not_with_the_body_are_refused_by_the_plan(
        emulator: GraphEmulator, tmp_path: Path) -> None:
    near = tmp_path / "near.bin"
    with open(near, "wb") as fh:
        fh.truncate(5 * 1024 * 1024 - 1000)  # passes the early check, the body tips it over
    box = make_mailbox(emulator, max_message_size=5 * 1024 * 1024)
    try:
        with pytest.raises(errors.MessageTooLarge) as caught:
            box.send(OutgoingMessage(to=["carol@example.org"], subject="Near", text="y" * 50_000,
                                     attachments=[Attachment.from_path(near)]))
    finally:
        box.close()
    assert caught.value.limit == 5 * 1024 * 1024
    assert caught.value.size is not None
    assert caught.value.size > 5 * 1024 * 1024
    assert emulator.outbox == []


def test_files_alone_above_the_limit_are_refused_before_the_message_is_prepared(
        emulator: GraphEmulator, tmp_path: Path) -> None:
    huge = tmp_path / "huge.bin"
    with open(huge, "wb") as fh:
        fh.truncate(151 * 1024 * 1024)  # sparse: costs no disk
    attachment = Attachment.from_path(huge)
    huge.unlink()  # preparing would have to read it: refused before that
    box = make_mailbox(emulator)
    try:
        before = len(emulator.requests)
        with pytest.raises(errors.MessageTooLarge) as caught:
            box.send(OutgoingMessage(to=["carol@example.org"], subject="Huge", text="x",
                                     attachments=[attachment]))
    finally:
        box.close()
    assert (caught.value.limit, caught.value.size) == (150 * 1024 * 1024, 151 * 1024 * 1024)
    assert len(emulator.requests) == before


def test_the_default_limit_is_graphs_150_mb(emulator: GraphEmulator) -> None:
    box = make_mailbox(emulator)
    try:
        assert box.settings.max_message_size == 150 * 1024 * 1024
        assert box.settings.upload_chunk_size % (320 * 1024) == 0
    finally:
        box.close()


@pytest.mark.parametrize("chunk", [1000, 320 * 1024 * 13, 0, True])
def test_a_chunk_size_that_graph_would_refuse_is_a_configuration_error(
        emulator: GraphEmulator, chunk: object) -> None:
    with pytest.raises(errors.ConfigurationError, match="upload_chunk_size"):
        make_mailbox(emulator, upload_chunk_size=chunk)


def test_a_small_message_is_still_one_sendmail(emulator: GraphEmulator,
                                               mailbox: GraphMailbox) -> None:
    mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="Small", text="x",
                                 attachments=[Attachment(filename="a.txt", data=os.urandom(1000))]))
    assert emulator.count("POST", r"/sendMail$") == 1
    assert emulator.count("POST", DRAFTS) == 0
