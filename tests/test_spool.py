"""Spools, file-backed attachments and the streamed MIME writer (issue 15's core)."""

from __future__ import annotations

import gc
import io
import os
import pickle
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxlink import errors, mime
from inboxlink.models import SendResult, SentCopy
from inboxlink.spool import Prefixed, Spool
from inboxlink.values import Attachment, OutgoingMessage

STEP = mime._B64_STEP  # the writer's base64 step: sizes around it cross a step boundary


def _message(*attachments: Attachment) -> OutgoingMessage:
    return OutgoingMessage(to=["bob@example.net"], bcc=["hidden@example.net"], subject="Files",
                           text="See attached.", attachments=attachments)


def _payload(size: int, seed: int = 7) -> bytes:
    import random

    return random.Random(seed).randbytes(size)


def test_spool_in_memory_and_on_disk_read_alike(tmp_path: Path) -> None:
    data = _payload(3 * 1024 * 1024 + 17)
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    for spool in (Spool.of(data), Spool.from_path(path)):
        assert spool.size == len(spool) == len(data)
        assert spool.read() == data
        assert b"".join(spool.chunks(100_000)) == data
        assert spool.read_range(1_000_000, 10) == data[1_000_000:1_000_010]
        with spool.open() as first, spool.open() as second:  # independent handles
            assert first.read(5) == data[:5]
            assert second.read(5) == data[:5]
        assert spool == data
    assert not Spool.of(data).on_disk
    assert Spool.from_path(path).on_disk
    assert Spool.of(b"x") != Spool.of(b"y")


def test_written_spool_is_removed_with_its_last_reference() -> None:
    with Spool.writer() as writer:
        writer.write(b"hello ")
        writer.copy_from(io.BytesIO(b"world"))
        spool = writer.finish()
    path = spool.path
    assert path is not None
    assert os.path.exists(path)
    assert spool.read() == b"hello world"
    del spool
    gc.collect()
    assert not os.path.exists(path)


def test_a_failed_write_leaves_no_file() -> None:
    writer = Spool.writer()
    writer.write(b"partial")
    with pytest.raises(RuntimeError, match="disk full"), writer:
        raise RuntimeError("disk full")
    assert not os.path.exists(writer._path)


def test_a_file_given_by_the_caller_is_never_removed(tmp_path: Path) -> None:
    path = tmp_path / "keep.bin"
    path.write_bytes(b"mine")
    spool = Spool.from_path(path)
    del spool
    gc.collect()
    assert path.read_bytes() == b"mine"


def test_spool_pickles_its_bytes_not_a_temporary_path() -> None:
    with Spool.writer() as writer:
        writer.write(b"carried across a process")
        spool = writer.finish()
    copy = pickle.loads(pickle.dumps(spool))
    del spool
    gc.collect()
    assert copy.read() == b"carried across a process"
    error = errors.SendOutcomeUnknown(raw=copy, message_id="<m@x>")
    again = pickle.loads(pickle.dumps(error))
    assert again.raw == b"carried across a process"
    assert again.message_id == "<m@x>"


def test_file_attachment_is_lazy(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.7 first")
    attachment = Attachment.from_path(path)
    assert attachment.content_type == "application/pdf"
    assert attachment.path == str(path)
    path.write_bytes(b"%PDF-1.7 second")  # read at send time, not when attached
    assert attachment.data == b"%PDF-1.7 second"
    with attachment.open() as fh:
        assert fh.read() == b"%PDF-1.7 second"
    target = tmp_path / "copy.pdf"
    attachment.save(target)
    assert target.read_bytes() == b"%PDF-1.7 second"


def test_missing_file_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(errors.InvalidMessage) as info:
        Attachment.from_path(tmp_path / "nowhere.bin")
    assert info.value.code == "attachment-unreadable"


def test_stream_attachment_is_copied_to_disk() -> None:
    attachment = Attachment.from_stream(io.BytesIO(b"streamed content"), "notes.txt")
    assert attachment.content_type == "text/plain"
    assert attachment.size == 16
    assert attachment.source is not None
    assert attachment.source.on_disk
    assert attachment.data == b"streamed content"


@pytest.mark.parametrize("size", [0, 1, 56, 57, 58, STEP - 1, STEP, STEP + 1, 2 * STEP + 5])
def test_streamed_attachment_is_byte_exact_at_step_boundaries(tmp_path: Path, size: int) -> None:
    data = _payload(size)
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    prepared = mime.prepare(_message(Attachment.from_path(path)),
                            default_from="alice@example.com")
    assert prepared.spool.on_disk
    raw = prepared.raw
    (attachment,) = mime.attachments(mime.parse(raw))
    assert attachment.data == data
    assert b"Bcc" not in raw.split(b"\r\n\r\n", 1)[0]
    assert re.search(rb"(?<!\r)\n", raw) is None  # CRLF only
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78


@settings(max_examples=40, deadline=None, derandomize=True)
@given(sizes=st.lists(st.integers(min_value=0, max_value=4000), min_size=1, max_size=3),
       inline_first=st.booleans())
def test_streamed_message_reads_like_the_in_memory_one(
    sizes: list[int], inline_first: bool, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("files")
    on_disk, in_memory = [], []
    for n, size in enumerate(sizes):
        data = _payload(size, seed=n)
        path = folder / f"file{n}.bin"
        path.write_bytes(data)
        inline = inline_first and n == 0
        on_disk.append(Attachment.from_path(path, inline=inline))
        in_memory.append(Attachment(filename=f"file{n}.bin", data=data, inline=inline,
                                    content_type="application/octet-stream"))
    streamed = mime.parse(mime.prepare(_message(*on_disk), default_from="a@example.com").raw)
    built = mime.parse(mime.prepare(_message(*in_memory), default_from="a@example.com").raw)
    assert list(mime.attachments(streamed)) == list(mime.attachments(built))
    assert mime.body_text(streamed, "plain") == mime.body_text(built, "plain")


def test_without_attachments_keeps_the_headers(tmp_path: Path) -> None:
    big, small = tmp_path / "big.bin", tmp_path / "small.txt"
    big.write_bytes(_payload(200_000))
    small.write_bytes(b"small file")
    prepared = mime.prepare(_message(Attachment.from_path(big), Attachment.from_path(small)),
                            default_from="alice@example.com")
    assert len(prepared.attachments) == 2
    rest = mime.parse(prepared.without_attachments([0]).read())
    full = mime.parse(prepared.raw)
    assert [a.filename for a in mime.attachments(rest)] == ["small.txt"]
    for name in ("Message-ID", "Date", "From", "To", "Subject"):
        assert rest[name] == full[name]
    assert rest["Bcc"] is None
    assert prepared.without_attachments([]) is prepared.spool
    with pytest.raises(ValueError, match="no attachments"):
        prepared.without_attachments([5])


def test_a_stdlib_message_has_no_separable_attachments() -> None:
    email = mime.build(_message(Attachment(filename="a.txt", data=b"a")),
                       default_from="alice@example.com")
    prepared = mime.prepare(email, default_from="alice@example.com")
    assert prepared.attachments == ()
    with pytest.raises(ValueError, match="no attachments"):
        prepared.without_attachments([0])


def test_send_result_reads_its_spool_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(_payload(10_000))
    prepared = mime.prepare(_message(Attachment.from_path(path)), default_from="a@example.com")
    result = SendResult(message_id=prepared.message_id, raw=prepared.spool,
                        sent_copy=SentCopy.SKIPPED)
    assert result.spool is prepared.spool
    assert result.raw == prepared.raw
    assert SendResult(message_id="<m@x>", raw=b"abc", sent_copy=SentCopy.SKIPPED).raw == b"abc"


@pytest.mark.parametrize("step", [1, 7, 4096, 10_000])
def test_the_prefixed_stream_reads_and_seeks_like_one_file(step: int) -> None:
    prefix, body = b"Bcc: dave@example.org\r\n", os.urandom(9_000)
    stream = Prefixed(prefix, io.BytesIO(body), len(body))
    assert stream.seek(0, os.SEEK_END) == len(prefix) + len(body)
    stream.seek(0)
    pieces = []
    while piece := stream.read(step):
        pieces.append(piece)
    assert b"".join(pieces) == prefix + body
    stream.seek(len(prefix) - 3)
    assert stream.read(10) == (prefix + body)[len(prefix) - 3:len(prefix) + 7]
    assert stream.tell() == len(prefix) + 7


def test_the_bcc_header_goes_before_a_file_backed_message_without_copying_it(
        tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(_payload(3 * STEP + 5))
    prepared = mime.prepare(_message(Attachment.from_path(big)), default_from="a@example.com")
    assert prepared.spool.on_disk
    wire = prepared.with_bcc_header()
    assert wire.body is prepared.spool, "the spooled message is not copied"
    assert wire.prefix == b"Bcc: hidden@example.net\r\n"
    assert wire.size == len(wire.prefix) + prepared.size
    with wire.open() as stream:
        assert stream.read() == wire.prefix + prepared.raw
    assert b"hidden@example.net" not in prepared.raw

