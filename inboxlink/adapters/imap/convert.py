"""IMAP responses → inboxlink models: LIST rows → `Folder`, FETCH data → `MessageSummary` /
`Message`, BODYSTRUCTURE → attachment sections and `AttachmentInfo`.

Summaries come from the header fields of one UID FETCH, parsed on a fast path: listing must
cost little more than reading the bytes (DESIGN §4): no ENVELOPE, no
``email.policy.default`` per message. Header values that are plain ASCII take a few string
operations; only encoded words, quoted names or address lists fall back to the stdlib.

Folders get a role only from what the server states about the user's own folders: the
special-use attributes (RFC 6154) of folders in the personal namespace (RFC 2342). Folders in
another user's or the shared namespace are marked ``personal=False`` and never take a role,
so a colleague's shared ``Sent`` is never ours (name matching in `inboxlink.folders` skips
them too).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from email.utils import collapse_rfc2231_value, decode_params, unquote
from typing import Any

import attrs
from imapclient.imap_utf7 import decode as decode_utf7
from imapclient.response_parser import parse_response

from inboxlink import mime
from inboxlink.folders import role_from_attributes
from inboxlink.headers import decode_words, parse_addresses, parse_date
from inboxlink.models import (
    AttachmentInfo,
    Folder,
    FolderRole,
    Message,
    MessageSummary,
    RoleSource,
)

__all__ = ["HEADER_FIELDS", "SUMMARY_ITEMS", "Section", "attachment_sections", "flags",
           "folder", "info", "is_personal", "list_rows", "message", "summary"]

HEADER_FIELDS = ("SUBJECT", "FROM", "TO", "CC", "DATE", "MESSAGE-ID", "IN-REPLY-TO", "REFERENCES")
_SECTION = "BODY.PEEK[HEADER.FIELDS (" + " ".join(HEADER_FIELDS) + ")]"
_RESPONSE_KEY = _SECTION.replace(".PEEK", "").encode()
#: the FETCH items of one summary
SUMMARY_ITEMS = ("UID", "FLAGS", "RFC822.SIZE", "INTERNALDATE", _SECTION)

_FOLD = re.compile(rb"\r?\n[ \t]")


def _fields(block: bytes) -> dict[str, str]:
    """Unfolded header fields (lower-case names → raw values, first occurrence wins)."""
    result: dict[str, str] = {}
    for line in _FOLD.sub(b" ", block).split(b"\n"):
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        key = name.strip().lower().decode("ascii", "replace")
        if key not in result:
            result[key] = value.strip().decode("utf-8", "replace")
    return result


def _header_block(data: dict[bytes, Any]) -> bytes:
    block = data.get(_RESPONSE_KEY)
    if block is None:
        # Servers may echo the section spec differently (case, quoting): find it by prefix.
        block = next((v for k, v in data.items()
                      if k.upper().startswith(b"BODY[HEADER.FIELDS")), None)
    return block if isinstance(block, bytes) else b""


def summary(message_id: str, folder_id: str, data: dict[bytes, Any]) -> MessageSummary:
    """A `MessageSummary` from one message's FETCH data."""
    fields = _fields(_header_block(data))
    get = fields.get
    subject = get("subject")
    msgid = get("message-id")
    reply_to = get("in-reply-to")
    internal = data.get(b"INTERNALDATE")
    return MessageSummary(
        id=message_id,
        folder_id=folder_id,
        subject=decode_words(subject) if subject is not None else None,
        from_=next(iter(parse_addresses(get("from"))), None),
        to=parse_addresses(get("to")),
        cc=parse_addresses(get("cc")),
        date=parse_date(get("date")),
        received_at=internal if isinstance(internal, dt.datetime) else None,
        message_id=msgid or None,
        in_reply_to=(mime.split_msgids(reply_to) or (reply_to,))[0] if reply_to else None,
        references=mime.split_msgids(get("references")),
        flags=flags(data.get(b"FLAGS", ())),
        size=data.get(b"RFC822.SIZE"),
    )


def flags(values: Iterable[Any]) -> frozenset[str]:
    """IMAP flags (bytes or text) as strings."""
    return frozenset(f.decode("utf-8", "replace") if isinstance(f, bytes) else str(f)
                     for f in values)


def message(message_id: str, folder_id: str, data: dict[bytes, Any]) -> Message | None:
    """A `Message` from one ``UID FETCH (FLAGS BODY.PEEK[])`` answer; None without a body."""
    raw = data.get(b"BODY[]")
    if raw is None:
        return None
    return Message(id=message_id, folder_id=folder_id, raw=bytes(raw),
                   flags=flags(data.get(b"FLAGS", ())))


# ---------------------------------------------------------------------- folders
def folder(attributes: Iterable[Any], delimiter: Any, name: str, *,
           personal: bool = True) -> Folder:
    """A `Folder` from one LIST row (attributes, hierarchy delimiter, decoded name).

    ``personal=False`` (another user's or a shared namespace) drops any stated role: the
    user's Sent or Trash is never someone else's folder.
    """
    names = frozenset(a.decode("ascii", "replace") if isinstance(a, bytes) else str(a)
                      for a in attributes)
    delim = delimiter.decode() if isinstance(delimiter, bytes) else delimiter
    levels = name.split(delim) if delim else [name]
    role = role_from_attributes(names) if personal else None
    source = RoleSource.SPECIAL_USE if role else None
    if name.upper() == "INBOX" or role is FolderRole.INBOX:
        # RFC 3501 reserves the name INBOX: the server states this role.
        role, source = FolderRole.INBOX, RoleSource.PROVIDER
    return Folder(
        id=name, name=levels[-1], path="/".join(levels), role=role, role_source=source,
        parent_id=delim.join(levels[:-1]) if delim and len(levels) > 1 else None,
        attributes=names, personal=personal,
    )


def list_rows(data: Sequence[Any], folder_encode: bool = True) -> list[tuple[Any, Any, str]]:
    """The (attributes, delimiter, name) of each untagged LIST response, as imaplib keeps them.

    A name sent as a literal arrives as ``(line, literal)`` followed by the rest of its line;
    anything after the name (RFC 5258 extended data) is ignored.
    """
    rows: list[list[Any]] = []
    pending: list[Any] | None = None
    for item in data:
        if item in (b"", None) and pending is None:
            continue
        if pending is not None:
            pending.append(item)  # the rest of the line after a literal name
            rows.append(pending)
            pending = None
        elif isinstance(item, tuple):
            pending = [item]
        else:
            rows.append([item])
    if pending is not None:
        rows.append(pending)
    result: list[tuple[Any, Any, str]] = []
    for row in rows:
        parsed = parse_response([piece for piece in row if piece not in (b"", None)])
        if len(parsed) < 3:
            continue
        attributes, delimiter, name = parsed[0], parsed[1], parsed[2]
        if isinstance(name, int):
            name = str(name)  # a quoted numeric name is parsed as a number
        elif isinstance(name, bytes):
            name = decode_utf7(name) if folder_encode else name.decode("utf-8", "replace")
        result.append((attributes, delimiter, str(name)))
    return result


#: an RFC 2342 namespace: (prefix, hierarchy delimiter)
Namespace = tuple[str, "str | None"]


def _match_length(name: str, namespace: Namespace) -> int:
    """How much of ``name`` the namespace's prefix covers (-1: not in it).

    A prefix normally ends with its delimiter (``"Other Users/"``, ``"user."``); the
    namespace's root itself (``"Other Users"``, ``"INBOX"`` for ``"INBOX."``) belongs to it.
    """
    prefix, delimiter = namespace
    if name.startswith(prefix):
        return len(prefix)
    if delimiter and prefix.endswith(delimiter) and name == prefix[:-len(delimiter)]:
        return len(prefix)
    return -1


def is_personal(name: str, personal: Sequence[Namespace], foreign: Sequence[Namespace]) -> bool:
    """Whether a folder lies in the user's own namespace (NAMESPACE, RFC 2342).

    The longest matching prefix decides, so Cyrus' shared namespace with an empty prefix
    does not swallow ``INBOX.Sent``, and Dovecot's personal ``""`` does not swallow
    ``Other Users/bob/Sent``. On a tie the personal namespace wins; a name in no namespace
    at all is the user's (servers without NAMESPACE list only their own folders).
    """
    best_foreign = max((_match_length(name, n) for n in foreign), default=-1)
    best_personal = max((_match_length(name, n) for n in personal), default=-1)
    return best_foreign < 0 or best_personal >= best_foreign


# ---------------------------------------------------------------------- BODYSTRUCTURE



#: leaf types that are the message's text unless they are named or marked as attachments
_BODY_TYPES = frozenset({"text/plain", "text/html"})
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
