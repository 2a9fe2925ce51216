"""Request bodies whose one large base64 value is written from a file as they are sent.

exchangelib needs ``bytes`` for ``mime_content`` and ``FileAttachment.content`` and
serialises a request at once: for a 100 MB file that is the bytes, their base64 and the
serialised envelope — several copies in memory. Here exchangelib builds the envelope around
a unique placeholder (the shim's `StreamedCreateItem` / `StreamedCreateAttachment` split it
there), and `StreamedBody` sends prefix, the base64 of the file read 768 KiB at a time,
and suffix, with a ``Content-Length`` (requests sends an iterable with a length as it is;
a repeated request — NTLM's handshake — iterates it afresh). The answer is parsed by
exchangelib's own services, and none of these requests is ever repeated.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Generator, Iterator
from typing import IO, TYPE_CHECKING, Any, Protocol

from exchangelib.attachments import FileAttachment
from exchangelib.items import SEND_TO_NONE
from exchangelib.properties import ItemId, ParentItemId

from inboxlink import errors
from inboxlink.adapters.ews._exchangelib_shim import (
    SendItemOnce,
    StreamedCreateAttachment,
    StreamedCreateItem,
)

if TYPE_CHECKING:
    from inboxlink.spool import Spool

__all__ = ["AttachmentSource", "StreamedBody", "create_item", "encoded_size", "placeholder",
           "send_draft", "upload_attachment"]

#: bytes read per step: a multiple of 3, so each step's base64 has no padding in the middle
_STEP = 3 * 256 * 1024


class AttachmentSource(Protocol):
    """What is uploaded: a name, a type, a size and a way to read it from the start."""

    @property
    def filename(self) -> str | None: ...
    @property
    def content_type(self) -> str: ...
    @property
    def content_id(self) -> str | None: ...
    @property
    def inline(self) -> bool: ...
    @property
    def size(self) -> int: ...

    def open(self) -> IO[bytes]: ...


def encoded_size(size: int) -> int:
    """Length of the base64 of ``size`` bytes."""
    return (size + 2) // 3 * 4


class StreamedBody:
    """A request body: ``prefix``, base64 of what ``opener`` reads (``size`` bytes), ``suffix``."""

    def __init__(self, prefix: bytes, opener: Callable[[], IO[bytes]], size: int,
                 suffix: bytes) -> None:
        self._prefix, self._opener, self._size, self._suffix = prefix, opener, size, suffix

    def __len__(self) -> int:
        return len(self._prefix) + encoded_size(self._size) + len(self._suffix)

    def __iter__(self) -> Iterator[bytes]:
        yield self._prefix
        try:
            sent = yield from self._content()
        except OSError as exc:
            raise errors.InvalidMessage(
                f"A file of the message could not be read while it was sent ({exc}).",
                provider="ews", code="file-unreadable",
                remedy="Keep attached files in place until send() returns, then send again.",
            ) from exc
        if sent != self._size:
            # The Content-Length already promised another size: stop rather than send garbage.
            raise errors.InvalidMessage(
                f"A file of the message changed while it was sent ({sent:,} bytes, "
                f"{self._size:,} expected).", provider="ews", code="file-changed",
                remedy="Do not change attached files until send() returns, then send again.")
        yield self._suffix

    def _content(self) -> Generator[bytes, None, int]:
        sent = 0
        with self._opener() as source:
            carry = b""
            while block := source.read(_STEP - len(carry)):
                carry += block
                if len(carry) == _STEP:
                    sent += len(carry)
                    yield base64.b64encode(carry)
                    carry = b""
            sent += len(carry)
            if carry:
                yield base64.b64encode(carry)
        return sent

    def __repr__(self) -> str:
        # exchangelib logs the request body it was given when a request fails.
        return f"<streamed EWS request, {len(self)} bytes>"

    __str__ = __repr__


def placeholder() -> bytes:
    """Bytes that stand for streamed content in the request exchangelib builds."""
    return b"inboxlink-stream-" + secrets.token_hex(12).encode()


def create_item(account: Any, item: Any, content: Spool, folder: Any,
                disposition: str) -> list[Any]:
    """One CreateItem of ``item`` (whose ``mime_content`` is a `placeholder`) with
    ``content`` as its MIME, streamed; the results (items or exceptions)."""
    service = StreamedCreateItem(
        account=account, placeholder=item.mime_content,
        body=lambda prefix, suffix: StreamedBody(prefix, content.open, content.size, suffix))
    return list(service.call(items=[item], folder=folder, message_disposition=disposition,
                             send_meeting_invitations=SEND_TO_NONE))


def upload_attachment(account: Any, item_id: str, changekey: str | None,
                      source: AttachmentSource) -> Any:
    """Attach ``source`` to the item with one CreateAttachment; the answer's result (an
    exchangelib ``FileAttachment`` whose ``attachment_id`` has the item's new ChangeKey, or
    the exception exchangelib returned for it)."""
    marker = placeholder()
    attachment = FileAttachment(name=source.filename or "attachment",
                                content_type=source.content_type, content=marker,
                                content_id=source.content_id, is_inline=source.inline)
    service = StreamedCreateAttachment(
        account=account, placeholder=marker,
        body=lambda prefix, suffix: StreamedBody(prefix, source.open, source.size, suffix))
    results = list(service.call(parent_item=ParentItemId(id=item_id, changekey=changekey),
                                items=[attachment]))
    return results[0] if results else None


def send_draft(account: Any, item_id: str, changekey: str | None, saved_folder: Any) -> Any:
    """Submit the draft with one SendItem, moving it to ``saved_folder`` (an exchangelib
    folder; ``None`` deletes it once sent). Returns the result: ``True`` or the exception
    exchangelib returned for it."""
    results = list(SendItemOnce(account=account).call(
        items=[ItemId(id=item_id, changekey=changekey)], saved_item_folder=saved_folder))
    return results[0] if results else True
