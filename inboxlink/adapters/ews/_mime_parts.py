"""The attachments of a spooled MIME message, found and cut out without reading it whole.

`append_to_sent` receives the message as bytes on disk (a `Spool`), not as an
`OutgoingMessage`: to store a large one in steps (the message without its large files, then
``CreateAttachment`` per file) the top-level parts of its ``multipart/*`` body are located
by one pass over the lines, and each file is decoded from its base64 lines while it is
uploaded. Only top-level, base64-encoded parts that are files (marked ``attachment`` or
named) are candidates; anything else stays in the message as it is.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from typing import IO, TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from inboxlink.spool import Spool

__all__ = ["FilePart", "file_parts", "without_parts"]

_HEADERS = BytesHeaderParser(policy=policy.default)
_WHITESPACE = b" \t\r\n"


@attrs.frozen
class FilePart:
    """One top-level base64 file part of a spooled message (offsets into the spool)."""

    spool: Spool = attrs.field(repr=False)
    cut_start: int  #: where its delimiter line starts: what ``without_parts`` removes ...
    cut_end: int  #: ... up to the next delimiter line
    body_start: int  #: the base64 lines: from here ...
    body_end: int  #: ... to here
    size: int  #: decoded bytes
    filename: str | None
    content_type: str
    content_id: str | None
    inline: bool

    def open(self) -> IO[bytes]:
        """The decoded content, read from the spool as it is consumed."""
        return io.BufferedReader(_Base64Range(self.spool, self.body_start, self.body_end),
                                 buffer_size=1 << 20)


class _Base64Range(io.RawIOBase):
    """Decodes the base64 lines of ``spool[start:end]``."""

    def __init__(self, spool: Spool, start: int, end: int) -> None:
        self._source = spool.open()
        self._source.seek(start)
        self._left = end - start
        self._pending = b""  #: base64 characters not yet decoded (fewer than 4)
        self._decoded = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._decoded and self._left > 0:
            raw = self._source.read(min(self._left, 1 << 20))
            if not raw:
                self._left = 0
                break
            self._left -= len(raw)
            text = self._pending + raw.translate(None, _WHITESPACE)
            usable = len(text) // 4 * 4
            self._pending = text[usable:]
            self._decoded = base64.b64decode(text[:usable])
        taken = self._decoded[:len(buffer)]
        buffer[:len(taken)] = taken
        self._decoded = self._decoded[len(taken):]
        return len(taken)

    def close(self) -> None:
        self._source.close()
        super().close()


@attrs.define
class _Reading:
    """The part being scanned."""

    cut_start: int
    head: bytearray = attrs.Factory(bytearray)
    headers: EmailMessage | None = None  #: once the blank line after the headers is read
    is_file: bool = False
    body_start: int = 0
    body_end: int = 0
    chars: int = 0  #: base64 characters
    padding: int = 0

    def finish(self, spool: Spool, cut_end: int) -> FilePart:
        assert self.headers is not None
        cid = self.headers.get("Content-ID")
        return FilePart(
            spool=spool, cut_start=self.cut_start, cut_end=cut_end, body_start=self.body_start,
            body_end=self.body_end, size=self.chars // 4 * 3 - self.padding,
            filename=self.headers.get_filename(), content_type=self.headers.get_content_type(),
            content_id=str(cid).strip() if cid else None,
            inline=self.headers.get_content_disposition() == "inline")


def file_parts(spool: Spool) -> list[FilePart]:
    """The top-level base64 file parts of ``spool``, in order (none if it is not multipart)."""
    with spool.open() as source:
        head = bytearray()
        for line in source:
            head += line
            if line in (b"\r\n", b"\n"):
                break
        top = _HEADERS.parsebytes(bytes(head))
        boundary = top.get_boundary() if isinstance(top, EmailMessage) else None
        if top.get_content_maintype() != "multipart" or not boundary:
            return []
        return _scan(spool, source, len(head), ("--" + boundary).encode())


def _scan(spool: Spool, source: IO[bytes], offset: int, delimiter: bytes) -> list[FilePart]:
    found: list[FilePart] = []
    part: _Reading | None = None
    for line in source:
        start, offset = offset, offset + len(line)
        stripped = line.rstrip(b"\r\n")
        if stripped in (delimiter, delimiter + b"--"):
            if part is not None and part.is_file:
                found.append(part.finish(spool, cut_end=start))
            if stripped != delimiter:
                break  # the close delimiter: the epilogue follows
            part = _Reading(cut_start=start)
        elif part is None:
            continue  # the preamble
        elif part.headers is None:
            part.head += line
            if not stripped:
                _read_head(part, offset)
        elif part.is_file and (text := stripped.strip()):
            part.chars += len(text)
            part.padding = len(text) - len(text.rstrip(b"="))
            part.body_end = start + len(stripped)
    return found


def _read_head(part: _Reading, body_start: int) -> None:
    headers = _HEADERS.parsebytes(bytes(part.head))
    assert isinstance(headers, EmailMessage)
    encoding = str(headers.get("Content-Transfer-Encoding", "")).strip().lower()
    named = headers.get_content_disposition() == "attachment" or bool(headers.get_filename())
    part.headers = headers
    part.is_file = encoding == "base64" and named and headers.get_content_maintype() != "multipart"
    part.body_start = part.body_end = body_start


def without_parts(spool: Spool, parts: Sequence[FilePart]) -> Spool:
    """``spool`` with ``parts`` (and their delimiter lines) left out, as a new spool."""
    from inboxlink.spool import Spool

    cuts = sorted((p.cut_start, p.cut_end) for p in parts)
    with spool.open() as source, Spool.writer() as writer:
        position = 0
        for cut_start, cut_end in [*cuts, (spool.size, spool.size)]:
            length = cut_start - position
            while length > 0:
                block = source.read(min(length, 1 << 20))
                if not block:
                    break
                writer.write(block)
                length -= len(block)
            source.seek(cut_end)
            position = cut_end
        return writer.finish()
