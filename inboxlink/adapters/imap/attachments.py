"""Attachments from IMAP BODYSTRUCTURE, and incremental decoders for partial section fetches.

The part id handed out is the IMAP section number (``"2"``, ``"1.2"``), so saving one
attachment fetches only that section, in ranges, and decodes it as it arrives.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Iterable, Iterator
from email.utils import collapse_rfc2231_value, decode_params, unquote
from typing import Any

import attrs

from inboxlink.headers import decode_words
from inboxlink.models import AttachmentInfo

__all__ = ["Section", "attachment_sections", "decoded", "info"]

#: leaf types that are the message's text unless they are named or marked as attachments
_BODY_TYPES = frozenset({"text/plain", "text/html"})
#: every byte outside the base64 alphabet: line breaks, and junk lenient decoders skip, which
#: would otherwise shift the 4-character alignment chunks are cut at
_NOT_BASE64 = bytes(sorted(set(range(256)) - set(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")))


@attrs.frozen
class Section:
    """One leaf of a BODYSTRUCTURE, with what saving and describing it needs."""

    number: str
    content_type: str
    encoding: str
    octets: int
    filename: str | None
    content_id: str | None
    disposition: str | None


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _pairs(params: Any) -> list[tuple[str, str]]:
    """A BODYSTRUCTURE parameter list ``(k1, v1, k2, v2 …)`` as (lower-case name, value)."""
    if not isinstance(params, (tuple, list)):
        return []
    items = [_text(p) for p in params]
    return [(items[i].lower(), items[i + 1]) for i in range(0, len(items) - 1, 2)]


def _param(pairs: list[tuple[str, str]], name: str) -> str | None:
    """A parameter, with RFC 2231 continuations/charsets and RFC 2047 words decoded."""
    if not any(key == name or key.startswith(name + "*") for key, _ in pairs):
        return None
    # decode_params keeps its first entry as is (it expects the main value there).
    for key, value in decode_params([("", ""), *pairs])[1:]:
        if key != name:
            continue
        # decode_params quotes every value; RFC 2231 ones keep the quotes when collapsed.
        return decode_words(unquote(collapse_rfc2231_value(value)))
    return None


def _disposition(extension: Any) -> tuple[str | None, list[tuple[str, str]]]:
    if isinstance(extension, (tuple, list)) and extension:
        return _text(extension[0]).lower(), _pairs(extension[1] if len(extension) > 1 else None)
    return None, []


def _leaf(number: str, body: Any) -> Section:
    maintype, subtype = _text(body[0]).lower(), _text(body[1]).lower()
    if not maintype or not subtype:
        # Dovecot reports an unparsable Content-Type as "/"; RFC 2045 §5.2 reads it as
        # text/plain, as the stdlib does, so both paths describe the part alike.
        maintype, subtype = "text", "plain"
    content_type = f"{maintype}/{subtype}"
    # Extension data starts after the type-specific fields: text has a line count,
    # message/rfc822 has envelope, body and line count; then MD5, then disposition.
    first_extension = {"text": 8, "message": 10}.get(maintype, 7)
    if content_type != "message/rfc822" and maintype == "message":
        first_extension = 7
    position = first_extension + 1
    disposition, disposition_params = _disposition(body[position] if len(body) > position
                                                   else None)
    filename = _param(disposition_params, "filename") or _param(_pairs(body[2]), "name")
    cid = _text(body[3]).strip("<> ") or None
    return Section(number=number, content_type=content_type, encoding=_text(body[5]).lower(),
                   octets=int(body[6] or 0), filename=filename, content_id=cid,
                   disposition=disposition)


def _leaves(body: Any, prefix: str) -> Iterator[Section]:
    if body.is_multipart:
        for n, child in enumerate(body[0], 1):
            yield from _leaves(child, f"{prefix}.{n}" if prefix else str(n))
        return
    yield _leaf(prefix or "1", body)


def _is_attachment(section: Section) -> bool:
    if section.disposition == "attachment" or section.filename:
        return True
    return section.content_type not in _BODY_TYPES


def attachment_sections(structure: Any) -> list[Section]:
    """The attachment leaves of a BODYSTRUCTURE, in section order (the text body excluded)."""
    return [s for s in _leaves(structure, "") if _is_attachment(s)]


def _decoded_size(section: Section) -> int:
    if section.encoding == "base64":
        # IMAP counts octets with CRLF line ends; encoders wrap at 76 characters, so
        # 78 octets on the wire carry 57 bytes.
        return section.octets * 57 // 78
    return section.octets


def info(section: Section) -> AttachmentInfo:
    """The public description of one attachment section."""
    return AttachmentInfo(
        part=section.number, filename=section.filename, content_type=section.content_type,
        size=_decoded_size(section), content_id=section.content_id,
        inline=section.disposition == "inline",
    )


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
