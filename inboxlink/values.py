"""The leaf value types: addresses, attachments and outgoing messages.

They depend on nothing in inboxlink but `inboxlink.errors`, so the MIME layer can build
on them and `inboxlink.models` (which parses with the MIME layer) can build on both:
``errors → values → headers → mime → models``, with no import cycle. Import them from
`inboxlink.models` or `inboxlink`; they are re-exported there.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Iterable, Mapping
from email.headerregistry import Address as _HeaderAddress
from email.utils import getaddresses
from typing import Any

import attrs

from inboxlink import errors

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
        name = os.path.basename(os.fspath(path))
        guessed = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        with open(path, "rb") as fh:
            return cls(filename=name, content_type=guessed, data=fh.read())

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the content to ``path``."""
        with open(path, "wb") as fh:
            fh.write(self.data)


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
