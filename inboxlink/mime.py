"""Building and parsing RFC 5322 messages with the stdlib `email` package.

Building refuses header injection (CR/LF in a header value) with
`InvalidMessage` before anything reaches the network. Parsing
never raises: broken charsets and multiparts leave the raw bytes intact and the parsed
view as complete as the parser can make it.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.message import Message as _LegacyMessage
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses, make_msgid, parsedate_to_datetime

import attrs

from inboxlink import errors
from inboxlink.models import Address, Attachment, OutgoingMessage

__all__ = [
    "PreparedMessage",
    "body_text",
    "build",
    "check_header_value",
    "header_str",
    "new_message_id",
    "parse",
    "parse_date",
    "prepare",
    "split_msgids",
    "to_bytes",
]

_SMTP_POLICY = policy.SMTP.clone(linesep="\r\n")
_PARSER = BytesParser(policy=policy.default)
# A line break is fine only as folding: CRLF (or LF) followed by a space or a tab.
_BAD_BREAK = re.compile(r"\r(?!\n[ \t])|\n(?![ \t])")
_MSGID = re.compile(r"<[^<>\s]+>")


@attrs.frozen
class PreparedMessage:
    """A message ready for the wire: headers checked, Message-ID and Date set, Bcc split off.

    ``raw`` never contains a Bcc header; ``bcc`` lists the hidden recipients for adapters
    whose provider takes them in the envelope (SMTP) or a separate field.
    """

    email: EmailMessage
    raw: bytes = attrs.field(repr=lambda r: f"<{len(r)} bytes>")
    message_id: str
    sender: Address
    recipients: tuple[Address, ...]  #: To + Cc + Bcc, the SMTP envelope
    bcc: tuple[Address, ...]
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()


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
            remedy=f"Remove the line breaks (CR/LF) from the {name} value.",
        )


def new_message_id(sender: Address | str) -> str:
    """A unique Message-ID on the sender's domain, e.g. ``<…@example.com>``."""
    address = Address.parse(sender) if isinstance(sender, str) else sender
    domain = address.domain or "localhost"
    return make_msgid(domain=domain)


def _check_address(field: str, address: Address) -> None:
    check_header_value(field, address.email)
    if address.name:
        check_header_value(field, address.name)
    if "@" not in address.email:
        raise errors.InvalidMessage(f"{address.email!r} in {field} is not an e-mail address.",
                                    remedy="Use a full address such as alice@example.com.")


def build(message: OutgoingMessage, *, default_from: str) -> EmailMessage:
    """An `EmailMessage` for ``message`` (without Bcc), every header checked."""
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
    email["From"] = str(sender)
    if message.to:
        email["To"] = ", ".join(str(a) for a in message.to)
    if message.cc:
        email["Cc"] = ", ".join(str(a) for a in message.cc)
    if message.reply_to:
        email["Reply-To"] = ", ".join(str(a) for a in message.reply_to)
    email["Subject"] = message.subject
    email["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
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
    for attachment in message.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        email.add_attachment(
            attachment.data, maintype=maintype or "application",
            subtype=subtype or "octet-stream", filename=attachment.filename,
            disposition="inline" if attachment.inline else "attachment",
            cid=attachment.content_id,
        )
    return email


def _check_existing(email: _LegacyMessage) -> None:
    # raw_items: the values as set, before a policy unfolds (and so hides) a bare CR/LF.
    for name, value in email.raw_items():
        check_header_value(name, str(value))


def prepare(message: OutgoingMessage | EmailMessage, *, default_from: str) -> PreparedMessage:
    """Check and complete a message for sending; the Bcc header is removed from ``raw``."""
    if isinstance(message, OutgoingMessage):
        email = build(message, default_from=default_from)
        bcc = message.bcc
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
            email["Message-ID"] = new_message_id(Address.parse_list(str(email["From"]))[0])
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
    raw = email.as_bytes(policy=_SMTP_POLICY)
    return PreparedMessage(
        email=email, raw=raw, message_id=str(email["Message-ID"]).strip(),
        sender=sender_list[0], recipients=to + cc + tuple(bcc), bcc=tuple(bcc),
        in_reply_to=header_str(email, "In-Reply-To"),
        references=split_msgids(header_str(email, "References")),
    )


def _copy(message: _LegacyMessage) -> EmailMessage:
    # Re-parse so the caller's object is never modified and the default policy applies.
    return parse(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))


def to_bytes(message: bytes | EmailMessage | OutgoingMessage, *, default_from: str) -> bytes:
    """Raw bytes of an already-sent message (for ``append_to_sent``), Bcc removed."""
    if isinstance(message, bytes | bytearray | memoryview):
        return bytes(message)
    return prepare(message, default_from=default_from).raw


def parse(raw: bytes) -> EmailMessage:
    """Parse raw bytes; never raises (defects are recorded on the message)."""
    try:
        parsed = _PARSER.parsebytes(raw)
    except Exception:  # the stdlib parser is lenient, but a crash here must not lose mail
        parsed = EmailMessage(policy=policy.default)
        parsed.set_payload(raw.decode("utf-8", "replace"))
    assert isinstance(parsed, EmailMessage)
    return parsed


def header_str(email: _LegacyMessage, name: str) -> str | None:
    """A header's decoded value, tolerant of broken encodings; ``None`` when absent."""
    try:
        value = email.get(name)
    except Exception:
        value = None
        for key, raw_value in email.raw_items() if hasattr(email, "raw_items") else ():
            if key.lower() == name.lower():
                value = raw_value
                break
    if value is None:
        return None
    return str(value)


def parse_date(value: str | None) -> dt.datetime | None:
    """A Date header as an aware datetime (UTC when the zone is missing), or ``None``."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed


def split_msgids(value: str | None) -> tuple[str, ...]:
    """Message-IDs in a References / In-Reply-To value, in order."""
    if not value:
        return ()
    return tuple(_MSGID.findall(value))


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
    except (LookupError, UnicodeError, AttributeError, KeyError, ValueError):
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            return None
        return payload.decode("utf-8", "replace")


def attachments(email: EmailMessage) -> Iterator[Attachment]:
    """Attachment parts (with a filename, or inline with a Content-ID)."""
    try:
        parts = list(email.iter_attachments())
    except Exception:
        return
    for part in parts:
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        cid = part.get("Content-ID")
        yield Attachment(
            filename=part.get_filename(),
            content_type=part.get_content_type(),
            data=data,
            content_id=str(cid).strip("<> ") if cid else None,
            inline=part.get_content_disposition() == "inline",
        )


def addresses(value: str | None) -> tuple[Address, ...]:
    """Addresses from a header value."""
    if not value:
        return ()
    return tuple(Address(email=e, name=n or None) for n, e in getaddresses([value]) if e)


def internal_date(email: _LegacyMessage) -> float:
    """The message's Date as a POSIX timestamp (now when missing), for APPEND/insert."""
    parsed = parse_date(header_str(email, "Date"))
    return parsed.timestamp() if parsed else time.time()
