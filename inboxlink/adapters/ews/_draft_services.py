"""The exchangelib services of a draft sent in steps: CreateAttachment streamed, SendItem once.

CreateAttachment's file content is base64-encoded from a stream while the request is
written, so a large attachment is never held in memory (exchangelib's ``FileAttachment``
needs its whole content as ``bytes``, and the request is serialised at once: for a 100 MB
file that is the bytes, their base64 and the serialised envelope — several copies).

exchangelib builds and parses everything as usual: the envelope comes from its own
``wrap()`` around a ``FileAttachment`` whose content is a unique placeholder, and the answer
is parsed by its own ``CreateAttachment``. This module touches exchangelib in two places
only, both checked by ``tests/ews/test_upload_canary.py``:

- ``EWSService.wrap(content, api_version)`` returns the serialised request (``bytes``); the
  override splits it around the placeholder's base64 and returns a re-iterable body with a
  length (requests sends it with that ``Content-Length``, chunk by chunk; a repeat of the
  request — NTLM's handshake — iterates it afresh).
- ``EWSService._handle_backoff``: raising there stops exchangelib from re-sending the request
  after a busy server or a lost answer (a repeat would attach the file twice, or send the
  message twice).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterator
from typing import IO, Any, Protocol

from exchangelib.attachments import FileAttachment
from exchangelib.properties import ItemId, ParentItemId
from exchangelib.services import CreateAttachment, SendItem

__all__ = ["AttachmentSource", "StreamedBody", "encoded_size", "send_draft", "upload_attachment"]

#: bytes read per step: a multiple of 3, so each step's base64 has no padding in the middle
_STEP = 3 * 256 * 1024


class AttachmentSource(Protocol):
    """What is uploaded: a name, a type, a size and a way to read it from the start."""

    filename: str | None
    content_type: str
    content_id: str | None
    inline: bool

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
        sent = 0
        with self._opener() as source:
            carry = b""
            while True:
                block = source.read(_STEP - len(carry))
                if not block:
                    break
                carry += block
                if len(carry) == _STEP:
                    sent += len(carry)
                    yield base64.b64encode(carry)
                    carry = b""
            sent += len(carry)
            if carry:
                yield base64.b64encode(carry)
        if sent != self._size:
            # The Content-Length already promised another size: fail rather than send garbage.
            raise OSError(f"the attachment changed while it was sent ({sent} bytes, "
                          f"{self._size} expected)")
        yield self._suffix

    def __repr__(self) -> str:
        # exchangelib logs the request body it was given when a request fails.
        return f"<streamed CreateAttachment request, {len(self)} bytes>"

    __str__ = __repr__


class _StreamedCreateAttachment(CreateAttachment):  # type: ignore[misc]
    """CreateAttachment of one FileAttachment whose content is streamed from ``source``."""

    def __init__(self, *args: Any, source: AttachmentSource, placeholder: bytes,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._source = source
        self._marker = base64.b64encode(placeholder)

    def wrap(self, content: Any, api_version: Any = None) -> Any:
        data: bytes = super().wrap(content=content, api_version=api_version)
        at = data.find(self._marker)
        if at < 0 or data.find(self._marker, at + 1) >= 0:
            raise RuntimeError("exchangelib no longer serialises FileAttachment content as "
                               "base64 text in one place")
        return StreamedBody(data[:at], self._source.open, self._source.size,
                            data[at + len(self._marker):])

    def _handle_backoff(self, e: Exception) -> None:
        raise e


def upload_attachment(account: Any, item_id: str, changekey: str | None,
                      source: AttachmentSource) -> Any:
    """Attach ``source`` to the item with one CreateAttachment; the answer's result (an
    exchangelib ``FileAttachment`` whose ``attachment_id`` has the item's new ChangeKey, or
    the exception exchangelib returned for it)."""
    placeholder = b"inboxlink-upload-" + secrets.token_hex(12).encode()
    attachment = FileAttachment(name=source.filename or "attachment",
                                content_type=source.content_type, content=placeholder,
                                content_id=source.content_id, is_inline=source.inline)
    service = _StreamedCreateAttachment(account=account, source=source, placeholder=placeholder)
    results = list(service.call(parent_item=ParentItemId(id=item_id, changekey=changekey),
                                items=[attachment]))
    return results[0] if results else None


class _SendItemOnce(SendItem):  # type: ignore[misc]
    """SendItem that exchangelib never repeats."""

    def _handle_backoff(self, e: Exception) -> None:
        raise e


def send_draft(account: Any, item_id: str, changekey: str | None, saved_folder: Any) -> Any:
    """Submit the draft with one SendItem, moving it to ``saved_folder`` (an exchangelib
    folder; ``None`` deletes it once sent). Returns the result: ``True`` or the exception
    exchangelib returned for it."""
    results = list(_SendItemOnce(account=account).call(
        items=[ItemId(id=item_id, changekey=changekey)], saved_item_folder=saved_folder))
    return results[0] if results else True
