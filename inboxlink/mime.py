"""Building and parsing RFC 5322 messages with the stdlib `email` package.

Building refuses header injection (any line break in a header value: CR, LF, and the
ones Python's ``str.splitlines`` also breaks at, such as U+0085, U+2028 or a form feed)
with `InvalidMessage` before anything reaches the network.
Parsing never raises: broken charsets and multiparts leave the raw bytes intact and the
parsed view as complete as the parser can make it.

What an attachment is has one definition for every adapter, the one the IMAP adapter
reads from BODYSTRUCTURE: every leaf part (``multipart/*`` containers are walked, never
reported; ``message/rfc822`` is one leaf) that is marked ``attachment``, has a file name,
or is not a ``text/plain`` / ``text/html`` body.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import re
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from email import policy
from email.header import Header
from email.headerregistry import Address as _HeaderAddress
from email.message import EmailMessage
from email.message import Message as _LegacyMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid

import attrs

from inboxlink import errors, headers
from inboxlink.spool import PrefixedSpool, Spool
from inboxlink.values import Address, Attachment, OutgoingMessage

__all__ = [
    "PreparedMessage",
    "addresses",
    "attachments",
    "b64decode_lenient",
    "body_text",
    "build",
    "check_header_value",
    "header_str",
    "is_sendable",
    "new_message_id",
    "normalize_header_text",
    "parse",
    "parse_date",
    "prepare",
    "size_floor",
    "split_msgids",
    "to_spool",
]

_SMTP_POLICY = policy.SMTP.clone(linesep="\r\n")
_PARSER = BytesParser(policy=policy.default)
# A line break is fine only as folding: CRLF (or LF) followed by a space or a tab. The
# other characters str.splitlines() breaks at (VT, FF, FS, GS, RS, NEL, U+2028, U+2029)
# would make the stdlib's header folding raise or start a new line on the wire.
_BAD_BREAK = re.compile(r"\r(?!\n[ \t])|\n(?![ \t])|[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
# A header line as the stdlib parser accepts it, and the obsolete "Name  :" form.
_HEADER_LINE = re.compile(rb"[\x21-\x39\x3b-\x7e]+:")
_OBS_HEADER_LINE = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]+:")
#: leaf types that are the message's text unless named or marked as attachments (as IMAP)
_BODY_TYPES = frozenset({"text/plain", "text/html"})
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")


@attrs.frozen
class PreparedMessage:
    """A message ready for the wire: headers checked, Message-ID and Date set, Bcc split off.

    ``spool`` holds the wire bytes (CRLF, never a Bcc header): in memory for an ordinary
    message, in a temporary file as soon as an attachment is file-backed
    (`Attachment.from_path`), written with the file's base64 streamed in chunks. Adapters
    stream ``spool``; ``raw`` reads it whole. ``bcc`` lists the hidden recipients for
    adapters whose provider takes them in the envelope (SMTP) or a separate field.
    """

    email: EmailMessage  #: the headers and small parts (file-backed parts are placeholders)
    spool: Spool
    message_id: str
    sender: Address
    recipients: tuple[Address, ...]  #: To + Cc + Bcc, the SMTP envelope
    bcc: tuple[Address, ...]
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    #: the OutgoingMessage's attachments in order; () for a stdlib message
    attachments: tuple[Attachment, ...] = ()
    _rebuild: Callable[[frozenset[int]], Spool] | None = attrs.field(default=None, repr=False,
                                                                    eq=False, alias="rebuild")

    @property
    def raw(self) -> bytes:
        """All the wire bytes in memory: prefer streaming `spool` for large messages."""
        return self.spool.read()

    @property
    def size(self) -> int:
        """Size of the wire bytes."""
        return self.spool.size

    def without_attachments(self, indexes: Collection[int]) -> Spool:
        """The same message (Message-ID, Date, headers) without the attachments at ``indexes``.

        For draft-then-upload sends: the provider gets the small parts as MIME and each
        large attachment through its own upload.
        """
        leave_out = frozenset(indexes)
        if not leave_out:
            return self.spool
        if self._rebuild is None or not leave_out <= set(range(len(self.attachments))):
            raise ValueError(f"no attachments at {sorted(leave_out)} in this message")
        return self._rebuild(leave_out)

    def with_bcc_header(self, body: Spool | None = None) -> PrefixedSpool:
        """``body`` (default: `spool`) with a ``Bcc:`` header line in front, not copied.

        For providers that take every recipient from the headers, Bcc included, and drop
        the Bcc header from what they deliver (Microsoft Graph, Gmail). Without Bcc
        recipients the prefix is empty. `raw` and `spool` never carry the header.
        """
        # not ``body or``: an empty spool is falsy
        body = self.spool if body is None else body
        if not self.bcc:
            return PrefixedSpool(b"", body)
        for address in self.bcc:
            check_header_value("Bcc", address.email)
        line = "Bcc: " + ", ".join(a.email for a in self.bcc) + "\r\n"
        return PrefixedSpool(line.encode("utf-8"), body)


def check_header_value(name: str, value: str) -> None:
    """Refuse a header name or value that would start a new header line."""
    if not name or any(c in name for c in ":\r\n \t"):
        raise errors.InvalidMessage(
            f"Invalid header name {name!r}.",
            remedy="Header names may not contain colons, spaces or line breaks.",
        )
    if _BAD_BREAK.search(value):
        raise errors.InvalidMessage(
            f"The {name} header contains a line break (possible header injection).",
            code="header-injection",
            remedy=(f"Remove the line breaks (CR/LF, and U+0085, U+2028, form feed and the "
                    f"like) from the {name} value."),
        )


def new_message_id(sender: Address | str) -> str:
    """A unique Message-ID on the sender's domain, e.g. ``<…@example.com>``."""
    address = Address.parse(sender) if isinstance(sender, str) else sender
    domain = address.domain or "localhost"
    return make_msgid(domain=domain)


def is_sendable(address: Address) -> bool:
    """Whether ``address`` can go in a header and be read back as itself.

    The stdlib must accept the addr-spec (it raises ``HeaderParseError`` on ``a@b@c``), and
    the address as written (``Name <a@b>``) must parse back to the same e-mail, so the
    envelope built from the headers is the one the caller asked for.
    """
    if "@" not in address.email or _BAD_BREAK.search(address.email + (address.name or "")):
        return False
    try:
        _HeaderAddress(addr_spec=address.email)
        written = str(address)
        probe = EmailMessage(policy=policy.default)
        probe["To"] = written  # the stdlib re-parses and folds it when writing: try it now
        probe.as_bytes(policy=_SMTP_POLICY)
    except Exception:  # HeaderParseError, ValueError, IndexError from the stdlib parser
        return False
    return [a.email for a in headers.parse_addresses(written)] == [address.email]


def _check_address(field: str, address: Address) -> None:
    check_header_value(field, address.email)
    if address.name:
        check_header_value(field, address.name)
    if not is_sendable(address):
        raise errors.InvalidMessage(f"{address.email!r} in {field} is not an e-mail address.",
                                    remedy="Use a full address such as alice@example.com.")


def _subject(subject: str) -> str:
    """The Subject value to store: text that looks like an encoded word is encoded.

    The stdlib parses "=?utf-8?q?…" in a str value as an encoded word and may then fail to
    write the header back; encoding it ourselves keeps the text. Header.encode() folds long
    values with a line break, which a header value may not hold: the encoded words are
    joined with spaces instead (white space between encoded words is not displayed).
    """
    if "=?" not in subject:
        return subject
    return " ".join(line.strip() for line in Header(subject, "utf-8").encode().splitlines())


def build(message: OutgoingMessage, *, default_from: str) -> EmailMessage:
    """An `EmailMessage` for ``message`` (without Bcc), every header checked.

    File-backed attachments are read into the message here; `prepare` streams them instead.
    """
    return _build(message, default_from=default_from, stream_files=False)[0]


def _build(message: OutgoingMessage, *, default_from: str, stream_files: bool,
           leave_out: frozenset[int] = frozenset(), date: str | None = None,
           ) -> tuple[EmailMessage, dict[bytes, Attachment]]:
    """The message and, when ``stream_files``, its placeholder lines → file-backed parts."""
    sender = message.from_ or Address.parse(default_from)
    for field, group in (("From", (sender,)), ("To", message.to), ("Cc", message.cc),
                         ("Bcc", message.bcc), ("Reply-To", message.reply_to)):
        for address in group:
            _check_address(field, address)
    if not message.recipients:
        raise errors.InvalidMessage("The message has no recipients.",
                                    remedy="Add at least one To, Cc or Bcc address.")
    check_header_value("Subject", message.subject)
    for name, value in message.headers:
        check_header_value(name, value)
    for ref in (message.in_reply_to or "", message.message_id or "", *message.references):
        check_header_value("References", ref)

    email = EmailMessage(policy=policy.default)
    files: dict[bytes, Attachment] = {}
    try:
        email["From"] = str(sender)
        if message.to:
            email["To"] = ", ".join(str(a) for a in message.to)
        if message.cc:
            email["Cc"] = ", ".join(str(a) for a in message.cc)
        if message.reply_to:
            email["Reply-To"] = ", ".join(str(a) for a in message.reply_to)
        email["Subject"] = _subject(message.subject)
        email["Date"] = date or format_datetime(dt.datetime.now(dt.timezone.utc))
        email["Message-ID"] = message.message_id or new_message_id(sender)
        if message.in_reply_to:
            email["In-Reply-To"] = message.in_reply_to
        refs = list(message.references)
        if message.in_reply_to and message.in_reply_to not in refs:
            refs.append(message.in_reply_to)
        if refs:
            email["References"] = " ".join(refs)
        for name, value in message.headers:
            email[name] = value
        if message.text is not None or message.html is None:
            email.set_content(message.text or "")
            if message.html is not None:
                email.add_alternative(message.html, subtype="html")
        else:
            email.set_content(message.html, subtype="html")
        for index, attachment in enumerate(message.attachments):
            if index in leave_out:
                continue
            streamed = stream_files and attachment.source is not None
            maintype, _, subtype = attachment.content_type.partition("/")
            email.add_attachment(
                b"" if streamed else attachment.data, maintype=maintype or "application",
                subtype=subtype or "octet-stream", filename=attachment.filename,
                disposition="inline" if attachment.inline else "attachment",
                cid=attachment.content_id,
            )
            if streamed:
                # A one-line marker the base64 of the file replaces while the spool is written.
                token = f"inboxlink-spool-{uuid.uuid4().hex}"
                parts = email.get_payload()
                assert isinstance(parts, list)
                part = parts[-1]
                assert isinstance(part, _LegacyMessage)
                part.set_payload(token)
                files[token.encode()] = attachment
    except errors.InboxLinkError:
        raise
    except Exception as exc:  # a value the stdlib rejects (header, file name, content type)
        raise errors.InvalidMessage(f"The message cannot be written: {exc}",
                                    code="unencodable",
                                    remedy="Check the subject, names and extra headers.") from exc
    return email, files


def _check_existing(email: _LegacyMessage) -> None:
    # raw_items: the values as set, before a policy unfolds (and so hides) a bare CR/LF.
    for name, value in email.raw_items():
        check_header_value(name, str(value))


def prepare(message: OutgoingMessage | EmailMessage, *, default_from: str) -> PreparedMessage:
    """Check and complete a message for sending; the Bcc header is removed from ``raw``."""
    files: dict[bytes, Attachment] = {}
    attachments: tuple[Attachment, ...] = ()
    rebuild: Callable[[frozenset[int]], Spool] | None = None
    if isinstance(message, OutgoingMessage):
        email, files = _build(message, default_from=default_from, stream_files=True)
        bcc = message.bcc
        attachments = message.attachments
        rebuild = functools.partial(
            _rebuild, attrs.evolve(message, message_id=str(email["Message-ID"])),
            default_from=default_from, date=str(email["Date"]))
    elif isinstance(message, _LegacyMessage):
        _check_existing(message)
        email = _copy(message)
        bcc = Address.parse_list(", ".join(str(v) for v in email.get_all("Bcc", [])))
        del email["Bcc"]
        if email["From"] is None:
            email["From"] = default_from
        if email["Date"] is None:
            email["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
        if email["Message-ID"] is None:
            # "From: <>" names nobody: that is refused below; the id needs a domain now.
            senders = Address.parse_list(str(email["From"]))
            email["Message-ID"] = new_message_id(senders[0] if senders else default_from)
        to = Address.parse_list(", ".join(str(v) for v in email.get_all("To", [])))
        cc = Address.parse_list(", ".join(str(v) for v in email.get_all("Cc", [])))
        if not (to or cc or bcc):
            raise errors.InvalidMessage("The message has no recipients.",
                                        remedy="Add at least one To, Cc or Bcc address.")
    else:
        raise TypeError(f"cannot send {type(message).__name__}; pass OutgoingMessage or EmailMessage")

    sender_list = Address.parse_list(str(email["From"]))
    if not sender_list:
        raise errors.InvalidMessage("The From header has no address.",
                                    remedy="Set from_= to the mailbox's address.")
    to = Address.parse_list(", ".join(str(v) for v in email.get_all("To", [])))
    cc = Address.parse_list(", ".join(str(v) for v in email.get_all("Cc", [])))
    try:
        raw = email.as_bytes(policy=_SMTP_POLICY)
    except Exception as exc:  # a header value the stdlib can parse but not write back
        raise errors.InvalidMessage(
            f"The message cannot be encoded for sending: {exc}", code="unencodable",
            remedy="Check the subject, names and extra headers for unusual text.",
        ) from exc
    return PreparedMessage(
        email=email, spool=_spool(raw, files), message_id=str(email["Message-ID"]).strip(),
        sender=sender_list[0], recipients=to + cc + tuple(bcc), bcc=tuple(bcc),
        in_reply_to=header_str(email, "In-Reply-To"),
        references=split_msgids(header_str(email, "References")),
        attachments=attachments, rebuild=rebuild,
    )


def _rebuild(message: OutgoingMessage, leave_out: frozenset[int], *, default_from: str,
             date: str) -> Spool:
    email, files = _build(message, default_from=default_from, stream_files=True,
                          leave_out=leave_out, date=date)
    return _spool(email.as_bytes(policy=_SMTP_POLICY), files)


#: bytes of file read per base64 step: a multiple of 57, so each step ends a 76-column line
_B64_STEP = 57 * 16384


def _spool(raw: bytes, files: dict[bytes, Attachment]) -> Spool:
    """The wire bytes: ``raw`` with each placeholder line replaced by its file's base64."""
    if not files:
        return Spool.of(raw)
    pattern = re.compile(b"(" + b"|".join(re.escape(token) for token in files) + rb")\r\n")
    with Spool.writer() as writer:
        position = 0
        for found in pattern.finditer(raw):
            writer.write(raw[position:found.start()])
            with files[found.group(1)].open() as content:
                while step := content.read(_B64_STEP):
                    writer.write(_base64_lines(step))
            position = found.end()
        writer.write(raw[position:])
        return writer.finish()


def _base64_lines(data: bytes) -> bytes:
    # encodebytes writes 76-column lines ending in LF; the wire wants CRLF.
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def size_floor(message: OutgoingMessage, *, encoded: bool = True) -> int:
    """A lower bound of ``message``'s size once prepared, from its files' sizes alone
    (nothing is read or encoded): each attachment base64-encoded, as `prepare` writes every
    one, without its line breaks; with ``encoded=False`` the files' own sizes. Above a
    limit it proves the message too large before any work, and never refuses one that fits.
    """
    sizes = [attachment.size for attachment in message.attachments]
    return sum(4 * -(-size // 3) for size in sizes) if encoded else sum(sizes)


def _copy(message: _LegacyMessage) -> EmailMessage:
    # Re-parse so the caller's object is never modified and the default policy applies.
    try:
        return parse(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))
    except Exception as exc:  # the stdlib cannot write the caller's message back
        raise errors.InvalidMessage(
            f"The message cannot be encoded for sending: {exc}", code="unencodable",
            remedy="Check the subject, names and extra headers for unusual text.",
        ) from exc


def to_spool(message: bytes | Spool | EmailMessage | OutgoingMessage, *,
             default_from: str) -> Spool:
    """The wire bytes of an already-sent message (for ``append_to_sent``), Bcc removed."""
    if isinstance(message, bytes | bytearray | memoryview | Spool):
        return Spool.of(message)
    return prepare(message, default_from=default_from).spool


def _repair_header_block(raw: bytes) -> bytes:
    """``raw`` with lines the stdlib would take for the end of the headers made harmless.

    The stdlib parser ends the header block at the first line that is not a header (one
    stray line, or ``From  :`` with a space before the colon, which RFC 5322 §4.5 says to
    accept) and reads every later header as body. Such a line is dropped, and the obsolete
    form rewritten ``Name:``, so the parsed view keeps the headers every server shows.
    """
    block = headers.header_block(raw)
    lines = block.split(b"\n")
    repaired: list[bytes] = []
    changed = False
    for n, line in enumerate(lines):
        obsolete = _OBS_HEADER_LINE.match(line)
        if obsolete:
            changed = True
            repaired.append(obsolete.group(1) + b":" + line[obsolete.end():])
        elif (line[:1] in b" \t" and line) or _HEADER_LINE.match(line) or (
                n == 0 and line.startswith(b"From ")):  # an mbox "From " line: the stdlib's
            repaired.append(line)
        else:
            changed = True  # not a header: dropped from the parsed view (raw keeps it)
    if not changed:
        return raw
    return b"\n".join(repaired) + raw[len(block):]


def parse(raw: bytes) -> EmailMessage:
    """Parse raw bytes; never raises (defects are recorded on the message)."""
    try:
        parsed = _PARSER.parsebytes(_repair_header_block(raw))
    except Exception:  # the stdlib parser is lenient, but a crash here must not lose mail
        parsed = EmailMessage(policy=policy.default)
        parsed.set_payload(raw.decode("utf-8", "replace"))
    assert isinstance(parsed, EmailMessage)
    return parsed


def header_str(email: _LegacyMessage, name: str) -> str | None:
    """A header's decoded value, tolerant of broken encodings; ``None`` when absent."""
    try:
        value = email.get(name)
        return None if value is None else str(value)
    except Exception:  # a header class choking on hostile input: read the raw value
        pass
    for key, raw_value in email.raw_items() if hasattr(email, "raw_items") else ():
        if key.lower() == name.lower():
            return headers.decode_words(" ".join(str(raw_value).split()))
    return None


def parse_date(value: str | None) -> dt.datetime | None:
    """A Date header as an aware datetime (UTC when the zone is missing), or ``None``."""
    return headers.parse_date(value)


def split_msgids(value: str | None) -> tuple[str, ...]:
    """Message-IDs in a References / In-Reply-To value, in order."""
    return headers.split_msgids(value)


def body_text(email: EmailMessage, subtype: str) -> str | None:
    """The first ``text/<subtype>`` body part, decoded (bad charsets replaced)."""
    try:
        part = email.get_body(preferencelist=(subtype,))
    except Exception:
        part = None
    if part is None:
        return None
    try:
        content = part.get_content()
        return content if isinstance(content, str) else None
    except Exception:  # unknown charset, broken encoding: the bytes, decoded leniently
        try:
            payload = part.get_payload(decode=True)
        except Exception:
            return None
        if not isinstance(payload, bytes):
            return None
        return payload.decode("utf-8", "replace")


def b64decode_lenient(data: bytes) -> bytes:
    """Base64 decoded as lenient readers do; never raises.

    Bytes outside the alphabet (line breaks, junk) are skipped, decoding stops at the first
    padding, a missing padding is supplied, and a last lone character (six bits, no whole
    byte) is dropped — where ``binascii`` raises and the stdlib ``email`` package returns
    the undecoded text.
    """
    clean = _NOT_BASE64.sub(b"", data.split(b"=", 1)[0])
    clean = clean[:len(clean) - len(clean) % 4] if len(clean) % 4 == 1 else clean
    try:
        return binascii.a2b_base64(clean + b"=" * (-len(clean) % 4))
    except binascii.Error:  # unreachable for a cleaned input; kept so reads never raise
        return b""


def _leaves(part: _LegacyMessage) -> Iterator[_LegacyMessage]:
    """Leaf parts in IMAP section order: multiparts walked, message/rfc822 kept whole."""
    payload = part.get_payload()
    if part.get_content_maintype() == "multipart" and isinstance(payload, list):
        for child in payload:
            if isinstance(child, _LegacyMessage):
                yield from _leaves(child)
        return
    yield part


def _leaf_data(part: _LegacyMessage) -> bytes:
    """A leaf's decoded content; never raises."""
    try:
        if part.get_content_type() == "message/rfc822" or part.is_multipart():
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, _LegacyMessage):
                return inner.as_bytes(policy=inner.policy.clone(linesep="\r\n"))
            return str(inner).encode("utf-8", "surrogateescape")
        if part.get("Content-Transfer-Encoding", "").strip().lower() == "base64":
            text = part.get_payload(decode=False)
            raw = text.encode("ascii", "replace") if isinstance(text, str) else b""
            return b64decode_lenient(raw)
        payload = part.get_payload(decode=True)
        return payload if isinstance(payload, bytes) else b""
    except Exception:
        return b""


def _safe(read: Callable[[], object]) -> object:
    try:
        return read()
    except Exception:  # a header too broken for the stdlib's parameter parser
        return None


def _is_attachment(part: _LegacyMessage, filename: str | None, disposition: str | None) -> bool:
    content_type = part.get_content_type()
    if content_type.startswith("multipart/"):
        return False  # a container (or one missing its boundary): never a file
    return disposition == "attachment" or bool(filename) or content_type not in _BODY_TYPES


def attachments(email: _LegacyMessage) -> Iterator[Attachment]:
    """Attachment leaves, in IMAP section order (see the module docstring); never raises."""
    try:
        leaves = list(_leaves(email))
    except Exception:  # a part tree too deep or too broken to walk: no attachments
        return
    for part in leaves:
        filename = _safe(part.get_filename)
        disposition = _safe(part.get_content_disposition)
        name = headers.decode_words(filename) if isinstance(filename, str) else None
        kind = disposition if isinstance(disposition, str) else None
        try:
            if not _is_attachment(part, name, kind):
                continue
            content_type = part.get_content_type()
        except Exception:
            content_type = "application/octet-stream"
        cid = _safe(functools.partial(part.get, "Content-ID"))
        yield Attachment(
            filename=name,
            content_type=content_type,
            data=_leaf_data(part),
            content_id=str(cid).strip("<> ") or None if cid else None,
            inline=kind == "inline",
        )


def addresses(value: str | None) -> tuple[Address, ...]:
    """Addresses from a header value (see `inboxlink.headers.parse_addresses`)."""
    return headers.parse_addresses(value)


def normalize_header_text(value: str) -> str:
    """``value`` with every line break (CR, LF, U+0085, U+2028 …) turned into a space."""
    # str.split() breaks at every Unicode line break and space, so this unfolds them all.
    return " ".join(value.split())


def internal_date(email: _LegacyMessage) -> float:
    """The message's Date as a POSIX timestamp (now when missing), for APPEND/insert."""
    parsed = parse_date(header_str(email, "Date"))
    return parsed.timestamp() if parsed else time.time()
