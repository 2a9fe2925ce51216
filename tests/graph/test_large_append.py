"""``append_to_sent`` of a message too large for one Graph request: the copy without its big
files, then one upload session per file; and the MIME splitter that takes them out."""

from __future__ import annotations

import io
import math
import random
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from inboxlink import FolderRole, OutgoingMessage, errors
from inboxlink.adapters.graph import GraphMailbox, _split
from inboxlink.spool import Spool
from inboxlink.values import Attachment

from .emulator import GraphEmulator

CHUNK = 10 * 320 * 1024
MiB = 1024 * 1024


def _bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _message(tmp_path: Path, big: int = 5 * MiB) -> tuple[OutgoingMessage, bytes]:
    data = _bytes(big, 7)
    path = tmp_path / "deck.pdf"
    path.write_bytes(data)
    message = OutgoingMessage(
        from_="alice@contoso.com", to=["carol@example.org"], subject="Deck",
        text="The deck.", attachments=[Attachment.from_path(path),
                                       Attachment(filename="a.txt", data=b"small one")])
    return message, data


def test_a_large_sent_copy_is_created_without_its_file_then_uploaded(
        emulator: GraphEmulator, mailbox: GraphMailbox, tmp_path: Path) -> None:
    message, data = _message(tmp_path)
    new_id = mailbox.append_to_sent(message)
    assert new_id is not None
    stored = emulator.messages[new_id]
    assert stored["folder"] == emulator.wellknown["sentitems"]
    assert stored["json"]["isDraft"] is False
    assert stored["json"]["isRead"] is True
    assert emulator.count("POST", r"/mailFolders/[^/]+/messages$") == 1
    assert emulator.count("POST", r"/attachments/createUploadSession$") == 1
    assert emulator.count("PUT", r"^/upload/") == math.ceil(len(data) / CHUNK)
    infos = {info.filename: info for info in mailbox.list_attachments(new_id)}
    assert set(infos) == {"deck.pdf", "a.txt"}
    sink = io.BytesIO()
    mailbox.save_attachment(new_id, infos["deck.pdf"].part, sink)
    assert sink.getvalue() == data
    (summary,) = mailbox.list_messages(FolderRole.SENT).items
    assert summary.seen


def test_a_failed_upload_removes_the_half_made_copy(
        emulator: GraphEmulator, mailbox: GraphMailbox, tmp_path: Path) -> None:
    message, _ = _message(tmp_path)
    emulator.fail(404, "ErrorItemNotFound", "The upload session was not found or has expired.",
                  path=r"^/upload/", method="PUT", times=10)
    with pytest.raises(errors.InboxLinkError):
        mailbox.append_to_sent(message)
    assert emulator.messages_in("sentitems") == []
    assert emulator.messages_in("deleteditems") == []


# ---------------------------------------------------------------------- the splitter
def _mime(parts: list[tuple[str, bytes]], *, nested: bool = False) -> bytes:
    message = EmailMessage()
    message["From"] = "alice@contoso.com"
    message["To"] = "carol@example.org"
    message["Subject"] = "Parts"
    message["Message-ID"] = "<parts@contoso.com>"
    message.set_content("Body text.\n")
    if nested:
        message.add_alternative("<p>Body</p>", subtype="html")
    for name, data in parts:
        message.add_attachment(data, maintype="application", subtype="octet-stream",
                               filename=name)
    return message.as_bytes(policy=policy.SMTP)


def _files(raw: bytes) -> dict[str, bytes]:
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    out = {}
    for part in parsed.iter_attachments():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        out[str(part.get_filename())] = payload
    return out


@pytest.mark.parametrize("order", ["large-first", "large-last", "large-middle"])
def test_the_splitter_takes_out_large_top_level_files_only(order: str) -> None:
    large_a, large_b, small = _bytes(300_000, 3), _bytes(250_001, 5), _bytes(1000, 11)
    parts = {"large-first": [("a.bin", large_a), ("b.bin", large_b), ("s.txt", small)],
             "large-last": [("s.txt", small), ("a.bin", large_a), ("b.bin", large_b)],
             "large-middle": [("a.bin", large_a), ("s.txt", small), ("b.bin", large_b)]}[order]
    raw = _mime(parts, nested=True)
    result = _split.split(Spool.of(raw), 200_000)
    assert [(p.filename, p.content.read()) for p in result.parts] == [
        (name, data) for name, data in parts if name != "s.txt"]
    assert _files(result.skeleton) == {"s.txt": small}
    skeleton = BytesParser(policy=policy.default).parsebytes(result.skeleton)
    assert not skeleton.defects
    assert skeleton["Message-ID"] == "<parts@contoso.com>"
    body = skeleton.get_body(preferencelist=("plain",))
    assert body is not None
    assert body.get_content().rstrip() == "Body text."
    assert len(result.skeleton) < 10_000


def test_a_message_without_large_files_is_left_whole() -> None:
    raw = _mime([("s.txt", b"tiny")])
    result = _split.split(Spool.of(raw), 200_000)
    assert result.parts == ()
    assert result.skeleton == raw
    single = b"From: a@example.com\r\nSubject: x\r\n\r\nhello\r\n"
    assert _split.split(Spool.of(single), 1).skeleton == single
