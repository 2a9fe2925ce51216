"""Taking a large message's big attachments out of its MIME, without reading it into memory.

For a Sent copy (``append_to_sent``) of a message too large for one Graph request: the item is
created from the rest of the message (its *skeleton*) and each big file is then attached
through an upload session. The message arrives as finished MIME bytes (a `Spool`), so the
files are found by reading it line by line: the top-level ``multipart/*`` parts that are
base64-encoded files of at least ``threshold`` decoded bytes are decoded, a line at a time,
into spools of their own; every other part is kept verbatim in the skeleton. Parts nested
deeper (an attachment inside ``multipart/related``) stay in the skeleton.
"""

from __future__ import annotations

import base64
import binascii
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from typing import BinaryIO

import attrs

from inboxlink.spool import Spool

__all__ = ["LargePart", "Split", "split"]

#: the longest line read at once; MIME lines are at most 998 bytes, base64 lines 76
_LINE = 1 << 16
#: bytes of a file's body read at a time
_BLOCK = 1 << 20
#: a header block larger than this is not a message we can split
_MAX_HEADERS = 1 << 20


@attrs.frozen
class LargePart:
    """One file taken out of the message: its decoded bytes and how it was attached."""

    content: Spool
    filename: str
    content_type: str
    inline: bool
    content_id: str | None


@attrs.frozen
class Split:
    """The message without its large files (``skeleton``), and those files, in order."""

    skeleton: bytes
    parts: tuple[LargePart, ...]


def split(raw: Spool, threshold: int) -> Split:
    """Take the top-level base64 files of at least ``threshold`` bytes out of ``raw``."""
    with raw.open() as source:
        head = _header_block(source)
        top = BytesHeaderParser(policy=policy.default).parsebytes(head)
        assert isinstance(top, EmailMessage)
        boundary = top.get_boundary() if top.get_content_maintype() == "multipart" else None
        if boundary is None:
            return Split(head + source.read(), ())  # one part: nothing to take out
        return _split_parts(source, head, boundary.encode("ascii", "replace"), threshold)


def _split_parts(source: BinaryIO, head: bytes, boundary: bytes, threshold: int) -> Split:
    skeleton = bytearray(head)
    parts: list[LargePart] = []
    delimiter, closing = b"--" + boundary, b"--" + boundary + b"--"
    line = source.readline(_LINE)
    while line:  # the preamble, up to the first delimiter
        skeleton += line
        if line.rstrip() == delimiter:
            break
        line = source.readline(_LINE)
    opened = bytes(line)  # the delimiter line that opened the part being read
    while line and line.rstrip() != closing:
        part_head = _header_block(source)
        headers = BytesHeaderParser(policy=policy.default).parsebytes(part_head)
        assert isinstance(headers, EmailMessage)
        if _is_file(headers):
            large, body, line = _read_file(source, delimiter, closing, threshold)
        else:
            large, (body, line) = None, _copy_body(source, delimiter, closing)
        if large is not None:
            parts.append(_large_part(headers, large))
            # the part leaves with the delimiter that opened it; the next one reuses that
            del skeleton[len(skeleton) - len(opened):]
        else:
            skeleton += part_head + body
        skeleton += line
        opened = bytes(line)
    if line:
        skeleton += source.read()  # the epilogue after the closing delimiter
    return Split(bytes(skeleton), tuple(parts))


def _read_file(source: BinaryIO, delimiter: bytes, closing: bytes,
               threshold: int) -> tuple[Spool | None, bytes, bytes]:
    """Decode a base64 body into a spool, keeping the raw bytes only while it may be small.

    Returns the spool if the file reached ``threshold`` (else ``None`` and its raw body)
    and the delimiter line that ended it. Read in blocks, not lines: ``-`` is no base64
    character, so the first ``\n--boundary`` ends the body.
    """
    marker = b"\n" + delimiter
    raw = bytearray()
    pending = b""
    size = 0
    with Spool.writer() as writer:
        at = source.tell()
        tail = b""
        while True:
            block = source.read(_BLOCK)
            data = tail + block
            found = 0 if not raw and data.startswith(delimiter) else data.find(marker)
            if found > 0:
                found += 1  # the line break before the delimiter stays with the body
            if found >= 0:
                body, tail = data[:found], b""
            elif block:
                keep_back = min(len(data), len(marker))  # a marker may straddle two blocks
                body, tail = data[:len(data) - keep_back], data[len(data) - keep_back:]
            else:
                body, tail = data, b""
            at += len(body)
            if len(raw) <= 2 * threshold:  # base64 is 4/3: past this it is surely large
                raw += body
            pending += body.translate(None, b" \t\r\n")
            usable = len(pending) - len(pending) % 4
            if usable:
                decoded = _b64(pending[:usable])
                writer.write(decoded)
                size += len(decoded)
                pending = pending[usable:]
            if found >= 0 or not block:
                break
        if pending:
            decoded = _b64(pending + b"=" * (-len(pending) % 4))
            writer.write(decoded)
            size += len(decoded)
        spool = writer.finish()
    source.seek(at)
    line = source.readline(_LINE)
    if size >= threshold:
        return spool, b"", line
    return None, bytes(raw), line


def _header_block(source: BinaryIO) -> bytes:
    block = bytearray()
    while len(block) < _MAX_HEADERS:
        line = source.readline(_LINE)
        block += line
        if not line or line in (b"\r\n", b"\n"):
            break
    return bytes(block)


def _is_file(headers: EmailMessage) -> bool:
    return (headers.get_content_maintype() not in ("multipart", "message")
            and str(headers.get("Content-Transfer-Encoding", "")).strip().lower() == "base64"
            and bool(headers.get_filename() or headers.get_content_disposition()))


def _copy_body(source: BinaryIO, delimiter: bytes, closing: bytes) -> tuple[bytes, bytes]:
    """The part's body verbatim, and the delimiter line that ended it (``b""`` at EOF)."""
    body = bytearray()
    line = source.readline(_LINE)
    while line and line.rstrip() not in (delimiter, closing):
        body += line
        line = source.readline(_LINE)
    return bytes(body), line


def _large_part(headers: EmailMessage, content: Spool) -> LargePart:
    cid = headers.get("Content-ID")
    return LargePart(content=content, filename=headers.get_filename() or "attachment",
                     content_type=headers.get_content_type(),
                     inline=headers.get_content_disposition() == "inline",
                     content_id=str(cid).strip().strip("<>") if cid else None)


def _b64(text: bytes) -> bytes:
    try:
        return base64.b64decode(text)
    except binascii.Error:
        return b""
