"""fetch_to_file keeps memory bounded by what the API forces on us (the encoded response)."""

from __future__ import annotations

import io
import pathlib
import tracemalloc

from inboxlink.adapters.gmail.convert import b64encode, write_raw_field
from inboxlink.testing.conformance import make_message

from .emulator import GmailEmulator
from .support import make_mailbox

SIZE = 6 * 1024 * 1024


def _peak(fn: object) -> int:
    tracemalloc.start()
    try:
        fn()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_large_message_streams_to_file(emulator: GmailEmulator, tmp_path: pathlib.Path) -> None:
    raw = make_message(1, body="y" * SIZE + "\n")
    message_id = emulator.deliver(raw)
    mailbox = make_mailbox(emulator)
    target = tmp_path / "big.eml"
    mailbox.fetch_to_file(message_id, io.BytesIO())  # warm the emulator's response cache
    mailbox.fetch(message_id)
    written = 0

    def stream() -> None:
        nonlocal written
        written = mailbox.fetch_to_file(message_id, target)

    streamed = _peak(stream)
    assert written == len(raw)
    assert target.read_bytes() == raw
    fetched = _peak(lambda: mailbox.fetch(message_id))
    # The encoded JSON (4/3 of the message) is held once; nothing else grows with the size.
    assert streamed < len(raw) * 4 / 3 + 2 * 1024 * 1024, streamed
    assert streamed < fetched / 2, (streamed, fetched)


def test_stream_into_a_file_object(emulator: GmailEmulator) -> None:
    raw = make_message(2)
    message_id = emulator.deliver(raw)
    sink = io.BytesIO()
    assert make_mailbox(emulator).fetch_to_file(message_id, sink) == len(raw)
    assert sink.getvalue() == raw


def test_decoder_handles_padding_and_chunk_edges() -> None:
    for size in (0, 1, 2, 3, 192 * 1024 - 1, 192 * 1024, 192 * 1024 + 1, 600_001):
        data = bytes(range(256)) * (size // 256) + bytes(size % 256)
        for encoded in (b64encode(data), b64encode(data).rstrip("=")):
            sink = io.BytesIO()
            body = ('{\n  "raw": "' + encoded + '"\n}\n').encode()
            assert write_raw_field(body, sink) == len(data)
            assert sink.getvalue() == data
