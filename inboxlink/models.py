"""Value types shared by every adapter: immutable, slotted, typed (attrs)."""

from __future__ import annotations

import datetime as dt
import enum
import functools
import os
from collections.abc import Iterable, Iterator, Mapping
from email.message import EmailMessage
from email.utils import getaddresses
from typing import IO, TYPE_CHECKING, Any, Generic, TypeVar

import attrs

if TYPE_CHECKING:
    from inboxlink.errors import InboxLinkError

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


@attrs.frozen(order=False)
class Address:
    """An e-mail address with an optional display name."""

    email: str
    name: str | None = None

    @classmethod
    def parse(cls, value: str | Address) -> Address:
        """Parse ``"Name <a@b>"`` or ``"a@b"``; an `Address` is returned as is."""
        if isinstance(value, Address):
            return value
        _refuse_line_breaks(value)
        pairs = getaddresses([value])
        name, email = pairs[0] if pairs else ("", value)
        return cls(email=email or value.strip(), name=name or None)

    @classmethod
    def parse_list(cls, values: str | Address | Iterable[str | Address] | None) -> tuple[Address, ...]:
        """Parse one address, a comma-separated string, or an iterable of them."""
        if values is None:
            return ()
        if isinstance(values, Address):
            return (values,)
        if isinstance(values, str):
            _refuse_line_breaks(values)
            return tuple(cls(email=e, name=n or None) for n, e in getaddresses([values]) if e)
        return tuple(cls.parse(v) for v in values)

    @property
    def domain(self) -> str:
        """The part after ``@`` (lower-cased)."""
        return self.email.rpartition("@")[2].lower()

    def __str__(self) -> str:
        from email.headerregistry import Address as _HeaderAddress

        if not self.name:
            return self.email
        try:
            return str(_HeaderAddress(display_name=self.name, addr_spec=self.email))
        except (ValueError, IndexError):
            return f"{self.name} <{self.email}>"


def _refuse_line_breaks(value: str) -> None:
    # An address with a line break is a header-injection attempt; parsing would silently
    # drop the rest, so refuse it instead.
    if "\r" in value or "\n" in value:
        from inboxlink.errors import InvalidMessage

        raise InvalidMessage(
            f"The address {value!r} contains a line break (possible header injection).",
            code="header-injection", remedy="Remove line breaks (CR/LF) from addresses.",
        )


def _addresses(value: Any) -> tuple[Address, ...]:
    return Address.parse_list(value)


def _optional_address(value: Any) -> Address | None:
    return None if value is None else Address.parse(value)


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _flags(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


def _attachments(value: Iterable[Attachment]) -> tuple[Attachment, ...]:
    return tuple(value)


def _header_pairs(
    value: Mapping[str, str] | Iterable[tuple[str, str]],
) -> tuple[tuple[str, str], ...]:
    return tuple(value.items()) if isinstance(value, Mapping) else tuple(value)


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

    @path.default
    def _path_default(self) -> str:
        return self.name


@attrs.frozen
class MessageSummary:
    """What a listing returns for one message: envelope fields and threading headers."""

    id: str  #: opaque id, valid for :meth:`Mailbox.fetch`
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
class Attachment:
    """A file attached to a message (outgoing or fetched)."""

    filename: str | None
    content_type: str = "application/octet-stream"
    data: bytes = attrs.field(default=b"", repr=lambda d: f"<{len(d)} bytes>")
    content_id: str | None = None
    inline: bool = False

    @property
    def size(self) -> int:
        """Size of the decoded content in bytes."""
        return len(self.data)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], content_type: str | None = None) -> Attachment:
        """Read a file from disk, guessing its content type from the name."""
        import mimetypes

        name = os.path.basename(os.fspath(path))
        guessed = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        with open(path, "rb") as fh:
            return cls(filename=name, content_type=guessed, data=fh.read())

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the content to ``path``."""
        with open(path, "wb") as fh:
            fh.write(self.data)


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
    """A fetched message: the exact raw bytes, parsed lazily with the stdlib ``email`` package.

    Parsing never raises: a broken message still gives `raw`, and the parsed
    view holds whatever the parser could recover (``email.defects`` lists the problems).
    """

    id: str
    folder_id: str
    raw: bytes = attrs.field(repr=lambda r: f"<{len(r)} bytes>")
    flags: frozenset[str] = attrs.field(factory=frozenset, converter=_flags)
    thread_id: str | None = None

    @functools.cached_property
    def email(self) -> EmailMessage:
        """The parsed message (``email.policy.default``)."""
        from inboxlink import mime

        return mime.parse(self.raw)

    def _header(self, name: str) -> str | None:
        from inboxlink import mime

        return mime.header_str(self.email, name)

    @property
    def subject(self) -> str | None:
        """Decoded Subject."""
        return self._header("Subject")

    def _addresses(self, name: str) -> tuple[Address, ...]:
        # Received mail is parsed leniently: a malformed header must not raise.
        from inboxlink import mime

        return mime.addresses(self._header(name))

    @property
    def from_(self) -> Address | None:
        """The From address."""
        found = self._addresses("From")
        return found[0] if found else None

    @property
    def to(self) -> tuple[Address, ...]:
        """To recipients."""
        return self._addresses("To")

    @property
    def cc(self) -> tuple[Address, ...]:
        """Cc recipients."""
        return self._addresses("Cc")

    @property
    def date(self) -> dt.datetime | None:
        """The Date header, or ``None`` when missing/unparsable."""
        from inboxlink import mime

        return mime.parse_date(self._header("Date"))

    @property
    def message_id(self) -> str | None:
        """The Message-ID (with angle brackets)."""
        value = self._header("Message-ID")
        return value.strip() if value else None

    @property
    def in_reply_to(self) -> str | None:
        """In-Reply-To."""
        value = self._header("In-Reply-To")
        return value.strip() if value else None

    @property
    def references(self) -> tuple[str, ...]:
        """Message-IDs in References, oldest first."""
        from inboxlink import mime

        return mime.split_msgids(self._header("References"))

    @property
    def text(self) -> str | None:
        """The plain-text body, if any."""
        from inboxlink import mime

        return mime.body_text(self.email, "plain")

    @property
    def html(self) -> str | None:
        """The HTML body, if any."""
        from inboxlink import mime

        return mime.body_text(self.email, "html")

    @property
    def attachments(self) -> tuple[Attachment, ...]:
        """Attachments (including inline parts with a filename or Content-ID)."""
        from inboxlink import mime

        return tuple(mime.attachments(self.email))

    def reply(self, *, text: str | None = None, html: str | None = None,
              reply_all: bool = False, from_: str | Address | None = None) -> OutgoingMessage:
        """An `OutgoingMessage` answering this one, with correct threading headers."""
        subject = self.subject or ""
        if not subject.lower().startswith("re:"):
            subject = f"Re: {subject}".rstrip()
        reply_to = self._addresses("Reply-To") or (
            (self.from_,) if self.from_ else ()
        )
        cc: tuple[Address, ...] = ()
        if reply_all:
            me = Address.parse(from_).email.lower() if from_ else None
            cc = tuple(a for a in (*self.to, *self.cc)
                       if a.email.lower() != me and a not in reply_to)
        refs = self.references + ((self.message_id,) if self.message_id else ())
        return OutgoingMessage(
            to=reply_to, cc=cc, subject=subject, text=text, html=html, from_=from_,
            in_reply_to=self.message_id, references=refs,
        )


@attrs.frozen
class OutgoingMessage:
    """A message to send. ``bcc`` recipients get it but never appear in any header."""

    to: tuple[Address, ...] = attrs.field(factory=tuple, converter=_addresses)
    subject: str = ""
    text: str | None = None
    html: str | None = None
    from_: Address | None = attrs.field(default=None, converter=_optional_address)
    cc: tuple[Address, ...] = attrs.field(factory=tuple, converter=_addresses)
    bcc: tuple[Address, ...] = attrs.field(factory=tuple, converter=_addresses)
    reply_to: tuple[Address, ...] = attrs.field(factory=tuple, converter=_addresses)
    attachments: tuple[Attachment, ...] = attrs.field(factory=tuple, converter=_attachments)
    in_reply_to: str | None = None
    references: tuple[str, ...] = attrs.field(factory=tuple, converter=_strings)
    message_id: str | None = None  #: generated on the sender's domain when omitted
    #: extra headers; names and values are checked for CR/LF like every other header
    headers: tuple[tuple[str, str], ...] = attrs.field(factory=tuple, converter=_header_pairs)

    @property
    def recipients(self) -> tuple[Address, ...]:
        """Every envelope recipient: To, Cc and Bcc."""
        return self.to + self.cc + self.bcc


class SentCopy(str, enum.Enum):
    """What happened to the copy of a sent message in the Sent folder."""

    SAVED_BY_PROVIDER = "saved-by-provider"  #: Gmail, Microsoft 365, EWS keep it themselves
    APPENDED = "appended"  #: inboxlink stored it (IMAP APPEND)
    SKIPPED = "skipped"  #: the caller asked not to keep a copy
    FAILED = "failed"  #: sent, but the copy failed: see :attr:`SendResult.error`

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class SendResult:
    """The outcome of a successful send, including an honest account of the sent copy.

    A failed copy never makes the send fail: ``sent_copy`` is ``FAILED``, ``error`` holds the
    typed error, and ``raw`` the exact bytes sent, to pass to ``append_to_sent`` later.
    """

    message_id: str
    raw: bytes = attrs.field(repr=lambda r: f"<{len(r)} bytes>")
    sent_copy: SentCopy
    sent_folder_id: str | None = None
    provider_id: str | None = None  #: the provider's id for the sent item, when known
    thread_id: str | None = None
    #: recipients the server refused while accepting others (address → server reply)
    refused: dict[str, str] = attrs.field(factory=dict)
    error: InboxLinkError | None = None

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


#: how a folder is named in calls: a :class:`FolderRole`, a :class:`Folder`, or its id/path
FolderRef = str | Folder | FolderRole
