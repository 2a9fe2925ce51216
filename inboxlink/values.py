"""The leaf value types: addresses, attachments and outgoing messages.

They depend on nothing in inboxlink but `inboxlink.errors`, so the MIME layer can build
on them and `inboxlink.models` (which parses with the MIME layer) can build on both:
``errors → values → headers → mime → models``, with no import cycle. Import them from
`inboxlink.models` or `inboxlink`; they are re-exported there.
"""

from __future__ import annotations

import io
import mimetypes
import os
import shutil
from collections.abc import Iterable, Mapping
from email.headerregistry import Address as _HeaderAddress
from email.utils import getaddresses
from typing import Any, BinaryIO

import attrs

from inboxlink import errors
from inboxlink.spool import CHUNK, Spool

__all__ = ["Address", "Attachment", "OutgoingMessage"]


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
        raise errors.InvalidMessage(
            f"The address {value!r} contains a line break (possible header injection).",
            code="header-injection", remedy="Remove line breaks (CR/LF) from addresses.",
        )


def _addresses(value: Any) -> tuple[Address, ...]:
    return Address.parse_list(value)


def _optional_address(value: Any) -> Address | None:
    return None if value is None else Address.parse(value)


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _size_repr(data: bytes) -> str:
    return f"<{len(data)} bytes>"


@attrs.frozen
class Attachment:
    """A file attached to a message (outgoing or fetched).

    The content is either ``data`` in memory or a `Spool` (``source``): `from_path` and
    `from_stream` never read a file into memory, so a 100 MB attachment is streamed to the
    wire by the adapter. Read it with `open` (any size) rather than `data` (all of it).
    """

    filename: str | None
    content_type: str = "application/octet-stream"
    _data: bytes = attrs.field(default=b"", alias="data", repr=_size_repr)
    content_id: str | None = None
    inline: bool = False
    #: the content on disk (or in memory) when it was not given as ``data``
    source: Spool | None = attrs.field(default=None, kw_only=True, repr=False)

    @property
    def data(self) -> bytes:
        """The whole content in memory (reads the file of a file-backed attachment)."""
        return self._data if self.source is None else self.source.read()

    @property
    def size(self) -> int:
        """Size of the decoded content in bytes."""
        return len(self._data) if self.source is None else self.source.size

    @property
    def path(self) -> str | None:
        """The file holding the content, for a file-backed attachment."""
        return self.source.path if self.source is not None else None

    def open(self) -> BinaryIO:
        """A new read handle on the content, at its start; the caller closes it."""
        return io.BytesIO(self._data) if self.source is None else self.source.open()

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], content_type: str | None = None, *,
                  filename: str | None = None, inline: bool = False,
                  content_id: str | None = None) -> Attachment:
        """A file on disk, read only when the message is sent (never all in memory).

        The content type is guessed from the name unless given. The file must stay in
        place, unchanged, until the message is sent.
        """
        name = filename or os.path.basename(os.fspath(path))
        guessed = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        try:
            source = Spool.from_path(path)
        except OSError as exc:
            raise errors.InvalidMessage(
                f"The attachment {name!r} cannot be read: {exc.strerror or exc}.",
                code="attachment-unreadable",
                remedy="Check that the file exists and is readable.") from None
        return cls(filename=name, content_type=guessed, source=source, inline=inline,
                   content_id=content_id)

    @classmethod
    def from_stream(cls, stream: BinaryIO, filename: str, content_type: str | None = None, *,
                    inline: bool = False, content_id: str | None = None) -> Attachment:
        """Everything ``stream`` has left, copied to a temporary file in 1 MiB steps."""
        guessed = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        with Spool.writer() as writer:
            writer.copy_from(stream)
            source = writer.finish()
        return cls(filename=filename, content_type=guessed, source=source, inline=inline,
                   content_id=content_id)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the content to ``path``."""
        with open(path, "wb") as fh, self.open() as content:
            shutil.copyfileobj(content, fh, CHUNK)


def _attachments(value: Iterable[Attachment]) -> tuple[Attachment, ...]:
    return tuple(value)


def _header_pairs(
    value: Mapping[str, str] | Iterable[tuple[str, str]],
) -> tuple[tuple[str, str], ...]:
    return tuple(value.items()) if isinstance(value, Mapping) else tuple(value)


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
