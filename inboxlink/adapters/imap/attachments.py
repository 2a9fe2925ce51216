"""Per-attachment reads: one BODYSTRUCTURE to list them, partial FETCHes of one section to save one.

The part id handed out is the IMAP section number (``"2"``, ``"1.2"``), so saving one
attachment fetches only that section, in ranges, and decodes it as it arrives (bounded
memory; ``BODY.PEEK`` never marks the message as read). What counts as an attachment is
decided in `convert.attachment_sections`.
"""

from __future__ import annotations

import binascii
import os
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from inboxlink import errors
from inboxlink.adapters.imap import _fetch, _ids, convert
from inboxlink.adapters.imap.connection import Session, select_checked
from inboxlink.models import AttachmentInfo, save_stream

__all__ = ["decoded", "list_attachments", "save_attachment", "sections_on"]

#: how the mailbox runs work on a pooled session inside its error boundary
Runner = Callable[[Callable[[Session], Any]], Any]


def sections_on(session: Session, ref: _ids.MessageRef) -> list[convert.Section]:
    """The attachment sections of one message, from one BODYSTRUCTURE fetch."""
    if not select_checked(session, ref.folder, ref.uidvalidity):
        raise _ids.gone(ref)
    data = _fetch.uid_fetch(session.client, str(ref.uid), ("UID", "BODYSTRUCTURE"))
    structure = data.get(ref.uid, {}).get(b"BODYSTRUCTURE")
    if structure is None:
        raise _ids.gone(ref)
    return convert.attachment_sections(structure)


def list_attachments(run: Runner, message_id: str) -> list[AttachmentInfo]:
    """Attachments read from one BODYSTRUCTURE fetch; ``part`` is the IMAP section."""
    ref = _ids.parse_message_id(message_id)
    found: list[convert.Section] = run(lambda s: sections_on(s, ref))
    return [convert.info(section) for section in found]


def save_attachment(run_once: Runner, message_id: str, part: str,
                    target: str | os.PathLike[str] | IO[bytes], step: int,
                    missing: Callable[[str, str], errors.InboxLinkError]) -> int:
    """Stream one attachment, decoded, to ``target`` in partial FETCHes of ``step`` bytes.

    ``run_once`` never repeats the work on a new connection: part of the file may be
    written already. ``missing(message_id, part)`` is the error for an unknown part.
    """
    ref = _ids.parse_message_id(message_id)

    def work(session: Session) -> int:
        chosen = {s.number: s for s in sections_on(session, ref)}.get(part)
        if chosen is None:
            raise missing(message_id, part)
        chunks = _fetch.section_chunks(session.client, ref.uid, part, step)
        return save_stream(decoded(chosen.encoding, chunks), target)

    saved: int = run_once(work)
    return saved


#: every byte outside the base64 alphabet: line breaks, and junk lenient decoders skip, which
#: would otherwise shift the 4-character alignment chunks are cut at
_NOT_BASE64 = bytes(sorted(set(range(256)) - set(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")))


def _base64(chunks: Iterable[bytes]) -> Iterator[bytes]:
    # The same bytes as mime.b64decode_lenient, wherever the chunks are cut: decoding ends
    # at the first padding, and a lone last character (no whole byte) is dropped.
    carry = b""
    ended = False
    for chunk in chunks:
        if ended:
            continue  # the rest of the section is read, but holds no more data
        clean = chunk.translate(None, _NOT_BASE64)
        padding = clean.find(b"=")
        if padding >= 0:
            clean, ended = clean[:padding], True
        carry += clean
        usable = len(carry) - len(carry) % 4
        if usable:
            yield binascii.a2b_base64(carry[:usable])
            carry = carry[usable:]
    if len(carry) % 4 == 1:
        carry = carry[:-1]
    if carry:
        yield binascii.a2b_base64(carry + b"=" * (-len(carry) % 4))


def _quoted_printable(chunks: Iterable[bytes]) -> Iterator[bytes]:
    # Only whole lines are decoded: an escape (=XX) or a soft break (=CRLF) may straddle
    # two chunks but never a line end.
    carry = b""
    for chunk in chunks:
        carry += chunk
        cut = carry.rfind(b"\n") + 1
        if cut:
            yield binascii.a2b_qp(carry[:cut])
            carry = carry[cut:]
    if carry:
        yield binascii.a2b_qp(carry)


def _identity(chunks: Iterable[bytes]) -> Iterator[bytes]:
    yield from chunks


_DECODERS: dict[str, Callable[[Iterable[bytes]], Iterator[bytes]]] = {
    "base64": _base64,
    "quoted-printable": _quoted_printable,
}


def decoded(encoding: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Decode a Content-Transfer-Encoding incrementally (7bit/8bit/binary pass through)."""
    for piece in _DECODERS.get(encoding.lower(), _identity)(chunks):
        if piece:
            yield piece
