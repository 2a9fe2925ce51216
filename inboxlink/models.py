"""Value types shared by every adapter: immutable, slotted, typed (attrs).

The leaf types (`Address`, `Attachment`, `OutgoingMessage`) live in
`inboxlink.values` and are re-exported here; `Message` parses with
`inboxlink.mime` and `inboxlink.headers`, which build on them — one direction,
no import cycle (``tests/test_layering.py``).
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import os
from collections.abc import Iterable, Iterator
from email.message import EmailMessage
from typing import IO, Generic, TypeVar

import attrs

from inboxlink import errors, headers, mime
from inboxlink.errors import InboxLinkError
from inboxlink.spool import Spool
from inboxlink.values import (
    Address,
    Attachment,
    OutgoingMessage,
    _addresses,
    _optional_address,
    _strings,
)

__all__ = [
    "Address",
    "Attachment",
    "AttachmentInfo",
    "Capability",
    "Folder",
    "FolderRef",
    "FolderRole",
    "Message",
    "MessageSummary",
    "OutgoingMessage",
    "Page",
    "RoleSource",
    "SendResult",
    "SentCopy",
]

T = TypeVar("T")


def _flags(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


class FolderRole(str, enum.Enum):
    """What a folder is for."""

    INBOX = "inbox"
    SENT = "sent"
    DRAFTS = "drafts"
    TRASH = "trash"
    JUNK = "junk"
    ARCHIVE = "archive"
    ALL = "all"
    FLAGGED = "flagged"
    IMPORTANT = "important"

    def __str__(self) -> str:
        return self.value


class RoleSource(str, enum.Enum):
    """How a folder's role was found."""

    SPECIAL_USE = "special-use"  #: RFC 6154 attribute (or XLIST)
    PROVIDER = "provider"  #: provider id: Graph well-known name, Gmail system label, EWS distinguished folder
    NAME = "name"  #: matched by name, English or localized
    OVERRIDE = "override"  #: the user named it

    def __str__(self) -> str:
        return self.value


class Capability(str, enum.Enum):
    """Optional features an adapter declares; the conformance suite skips what is absent."""

    SEND = "send"
    APPEND_TO_SENT = "append-to-sent"
    STREAM_TO_FILE = "stream-to-file"
    PROVIDER_SAVES_SENT = "provider-saves-sent"
    SYNC = "sync"  #: ``sync_token`` / ``changes``
    ACTIONS = "actions"  #: ``set_read``, ``set_flagged``, ``move``, ``delete``
    SEARCH = "search"  #: ``search``, ``find_replies``, ``thread``
    WATCH = "watch"  #: ``watch`` pushes (IDLE, streaming) rather than polls ``changes``

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class Folder:
    """A folder (IMAP mailbox, Graph mail folder, Gmail label, EWS folder)."""

    id: str  #: opaque id to pass back to the mailbox
    name: str  #: display name of the folder itself
    path: str = attrs.field()  #: full display path, levels joined with ``/``
    role: FolderRole | None = None
    role_source: RoleSource | None = None
    parent_id: str | None = None
    #: raw provider attributes (IMAP flags like ``\\Sent``, Gmail label type …)
    attributes: frozenset[str] = attrs.field(factory=frozenset, converter=_flags)
    total: int | None = None
    unread: int | None = None
    #: False for a folder in another user's or a shared namespace (IMAP NAMESPACE, RFC
    #: 2342): it can be read, but never takes a role by name (a colleague's "Sent" is
    #: never ours); only an explicit override can give it one
    personal: bool = True

    @path.default
    def _path_default(self) -> str:
        return self.name


@attrs.frozen
class MessageSummary:
    """What a listing returns for one message: envelope fields and threading headers."""

    id: str  #: opaque id, valid for `Mailbox.fetch`
    folder_id: str
    subject: str | None = None
    from_: Address | None = attrs.field(default=None, converter=_optional_address)
    to: tuple[Address, ...] = attrs.field(default=(), converter=_addresses)
    cc: tuple[Address, ...] = attrs.field(default=(), converter=_addresses)
    date: dt.datetime | None = None  #: the Date header
    received_at: dt.datetime | None = None  #: when the server stored it
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    flags: frozenset[str] = attrs.field(factory=frozenset, converter=_flags)
    size: int | None = None
    thread_id: str | None = None

    @property
    def seen(self) -> bool:
        """Whether the message is marked as read."""
        return "\\Seen" in self.flags


@attrs.frozen
class AttachmentInfo:
    """What `Mailbox.list_attachments()` tells about one attachment, without its content.

    ``part`` is opaque: pass it back to `Mailbox.save_attachment()` on the same mailbox.
    ``size`` is the decoded size in bytes when the adapter read the content (the default
    implementation); adapters that read it from the server's structure (IMAP BODYSTRUCTURE)
    estimate it from the encoded size (base64: 3/4 of it), so it may be off by a few bytes.
    """

    part: str
    filename: str | None
    content_type: str = "application/octet-stream"
    size: int | None = None
    content_id: str | None = None
    inline: bool = False


@attrs.frozen
class Message:
    """A fetched message: the exact raw bytes, parsed lazily.

    Parsing never raises: a broken message still gives `raw`, and the parsed
    view holds whatever the parser could recover (``email.defects`` lists the problems).
    Subject, addresses, date and threading headers are read with `inboxlink.headers`,
    the reader every listing uses, so a message and its summary agree on them.
    """

    id: str
    folder_id: str
    raw: bytes = attrs.field(repr=lambda r: f"<{len(r)} bytes>")
    flags: frozenset[str] = attrs.field(factory=frozenset, converter=_flags)
    thread_id: str | None = None

    @functools.cached_property
    def email(self) -> EmailMessage:
        """The parsed message (``email.policy.default``)."""
        return mime.parse(self.raw)

    @functools.cached_property
    def envelope(self) -> headers.Envelope:
        """The header fields a listing shows, read leniently from the raw header block."""
        return headers.envelope(self.raw)

    @property
    def subject(self) -> str | None:
        """Decoded Subject."""
        return self.envelope.subject

    @property
    def from_(self) -> Address | None:
        """The From address."""
        return self.envelope.from_

    @property
    def to(self) -> tuple[Address, ...]:
        """To recipients."""
        return self.envelope.to

    @property
    def cc(self) -> tuple[Address, ...]:
        """Cc recipients."""
        return self.envelope.cc

    @property
    def date(self) -> dt.datetime | None:
        """The Date header, or ``None`` when missing/unparsable."""
        return self.envelope.date

    @property
    def message_id(self) -> str | None:
        """The Message-ID as written (with angle brackets)."""
        return self.envelope.message_id

    @property
    def in_reply_to(self) -> str | None:
        """In-Reply-To."""
        return self.envelope.in_reply_to

    @property
    def references(self) -> tuple[str, ...]:
        """Message-IDs in References, oldest first."""
        return self.envelope.references

    @property
    def text(self) -> str | None:
        """The plain-text body, if any."""
        return mime.body_text(self.email, "plain")

    @property
    def html(self) -> str | None:
        """The HTML body, if any."""
        return mime.body_text(self.email, "html")

    @property
    def attachments(self) -> tuple[Attachment, ...]:
        """Attachments: every leaf part that is a file (see `inboxlink.mime.attachments`)."""
        return tuple(mime.attachments(self.email))

    def reply(self, *, text: str | None = None, html: str | None = None,
              reply_all: bool = False, from_: str | Address | None = None) -> OutgoingMessage:
        """An `OutgoingMessage` answering this one, with correct threading headers.

        Whatever the original holds, this raises nothing but
        `InvalidMessage` (nobody to reply to), and what it returns
        can be sent: line breaks in the subject and names become spaces, recipients that
        are not addresses are left out, and a malformed Message-ID is not threaded on.
        """
        subject = mime.normalize_header_text(self.subject or "")
        if not subject.lower().startswith("re:"):
            subject = f"Re: {subject}".rstrip()
        reply_to = _sendable(self.envelope.reply_to) or _sendable(
            (self.from_,) if self.from_ else ())
        if not reply_to:
            raise errors.InvalidMessage(
                "The message has no sender address to reply to.",
                remedy="Pass the recipients yourself: OutgoingMessage(to=..., in_reply_to=...).",
            )
        cc: tuple[Address, ...] = ()
        if reply_all:
            me = Address.parse(from_).email.lower() if from_ else None
            cc = tuple(a for a in _sendable((*self.to, *self.cc))
                       if a.email.lower() != me and a not in reply_to)
        own_id = next(iter(headers.split_msgids(self.message_id)), None)
        refs = tuple(dict.fromkeys(self.references + ((own_id,) if own_id else ())))
        return OutgoingMessage(
            to=reply_to, cc=cc, subject=subject, text=text, html=html, from_=from_,
            in_reply_to=own_id, references=refs,
        )


def _sendable(found: Iterable[Address]) -> tuple[Address, ...]:
    """The addresses a reply can go to (`inboxlink.mime.is_sendable`), names unfolded."""
    result: list[Address] = []
    for address in found:
        name = mime.normalize_header_text(address.name or "") or None
        candidate = Address(email=address.email.strip(), name=name)
        if mime.is_sendable(candidate):
            result.append(candidate)
        elif mime.is_sendable(unnamed := Address(email=candidate.email)):
            result.append(unnamed)  # a name the stdlib cannot write: the address alone
    return tuple(result)


class SentCopy(str, enum.Enum):
    """What happened to the copy of a sent message in the Sent folder."""

    SAVED_BY_PROVIDER = "saved-by-provider"  #: Gmail, Microsoft 365, EWS keep it themselves
    APPENDED = "appended"  #: inboxlink stored it (IMAP APPEND)
    SKIPPED = "skipped"  #: the caller asked not to keep a copy
    FAILED = "failed"  #: sent, but the copy failed: see `SendResult.error`

    def __str__(self) -> str:
        return self.value


def _to_spool(value: bytes | Spool) -> Spool:
    return Spool.of(value)


@attrs.frozen
class SendResult:
    """The outcome of a successful send, including an honest account of the sent copy.

    A failed copy never makes the send fail: ``sent_copy`` is ``FAILED``, ``error`` holds the
    typed error, and ``raw`` the exact bytes sent, to pass to ``append_to_sent`` later.
    """

    message_id: str
    _raw: Spool = attrs.field(alias="raw", converter=_to_spool,
                                      repr=lambda r: f"<{len(r)} bytes>")
    sent_copy: SentCopy
    sent_folder_id: str | None = None
    provider_id: str | None = None  #: the provider's id for the sent item, when known
    thread_id: str | None = None
    #: recipients the server refused while accepting others (address → server reply)
    refused: dict[str, str] = attrs.field(factory=dict)
    error: InboxLinkError | None = None

    @property
    def raw(self) -> bytes:
        """The exact bytes sent (read into memory: use `spool` to stream a large one)."""
        return self.spool.read()

    @property
    def spool(self) -> Spool:
        """The exact bytes sent, as a `Spool` (on disk for a large message)."""
        return self._raw

    @property
    def saved_by_provider(self) -> bool:
        """The provider stored the sent copy itself."""
        return self.sent_copy is SentCopy.SAVED_BY_PROVIDER

    @property
    def appended(self) -> bool:
        """inboxlink appended the copy into `sent_folder_id`."""
        return self.sent_copy is SentCopy.APPENDED

    @property
    def skipped(self) -> bool:
        """No copy was kept, as asked."""
        return self.sent_copy is SentCopy.SKIPPED

    @property
    def failed(self) -> bool:
        """The message went out but its copy could not be saved."""
        return self.sent_copy is SentCopy.FAILED


@attrs.frozen
class Page(Generic[T]):
    """One page of a listing. ``next_cursor`` is an opaque JSON-safe string, or ``None`` at the end."""

    items: tuple[T, ...] = attrs.field(converter=tuple)
    next_cursor: str | None = None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def save_stream(chunks: Iterable[bytes], target: str | os.PathLike[str] | IO[bytes]) -> int:
    """Write ``chunks`` to a path or binary file object; return the number of bytes."""
    total = 0
    if isinstance(target, (str, os.PathLike)):
        with open(target, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
                total += len(chunk)
        return total
    for chunk in chunks:
        target.write(chunk)
        total += len(chunk)
    return total


#: how a folder is named in calls: a `FolderRole`, a `Folder`, or its id/path
FolderRef = str | Folder | FolderRole
