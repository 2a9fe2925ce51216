"""Attachments through EWS (mixed into `EwsMailbox`).

- list: one ``GetItem`` asking only for ``item:Attachments`` — names, types, sizes, inline
  flags and content ids, no content;
- save: ``GetAttachment`` for that one attachment, read with exchangelib's own streaming
  parser (``GetAttachment.stream_file_content``, what ``FileAttachment.fp`` uses): the
  base64 ``t:Content`` is decoded as the response arrives, in 64 KiB reads, so neither the
  message nor the attachment is ever held whole.

``AttachmentInfo.part`` is Exchange's ``AttachmentId``: opaque and stable while the item is
not edited. An attached message (``t:ItemAttachment``) is listed as ``message/rfc822`` and
saved as its MIME content (``IncludeMimeContent``; one buffer, as exchangelib parses it).
"""

from __future__ import annotations

import os
from typing import IO, TYPE_CHECKING, Any

from exchangelib.attachments import AttachmentId
from exchangelib.errors import (
    ErrorInvalidAttachmentId,
    ErrorInvalidIdMalformed,
    ErrorItemNotFound,
)
from exchangelib.fields import FieldPath
from exchangelib.items import ID_ONLY
from exchangelib.items import Message as EwsMessage
from exchangelib.properties import ItemId
from exchangelib.services import GetAttachment
from exchangelib.util import ElementNotFound

from inboxlink import errors
from inboxlink.adapters.ews._exchangelib_shim import GetItemAttachments
from inboxlink.adapters.ews.convert import attachment_info
from inboxlink.models import AttachmentInfo

if TYPE_CHECKING:
    from exchangelib import Account

    from inboxlink.retry import RetryPolicy

__all__ = ["EwsAttachments"]

#: what Exchange answers for an attachment id that names nothing (any more)
_MISSING = (ErrorItemNotFound, ErrorInvalidIdMalformed, ErrorInvalidAttachmentId)


class EwsAttachments:
    """``list_attachments`` / ``save_attachment`` on GetItem and GetAttachment."""

    if TYPE_CHECKING:
        _retry: RetryPolicy

        @property
        def account(self) -> Account: ...
        def _boundary(self) -> Any: ...

    def list_attachments(self, message_id: str) -> list[AttachmentInfo]:
        """The item's attachments from one GetItem (metadata only)."""
        return self._retry.call(self._list_attachments, message_id)

    def _list_attachments(self, message_id: str) -> list[AttachmentInfo]:
        with self._boundary():
            field = FieldPath(field=EwsMessage.get_field_by_fieldname("attachments"))
            (found,) = list(GetItemAttachments(account=self.account).call(
                items=[ItemId(id=message_id)], additional_fields=[field], shape=ID_ONLY))
            if isinstance(found, Exception):
                raise found
            return [attachment_info(a) for a in found]

    def save_attachment(self, message_id: str, part: str,
                        target: str | os.PathLike[str] | IO[bytes]) -> int:
        """Stream the attachment's decoded content into ``target``; returns the byte count.

        A path is opened afresh for each attempt, so a retried read never appends to a
        partial file; a file object is written once (its position is the caller's).
        """
        if not part:
            raise _no_attachment_part(message_id, part)
        if isinstance(target, (str, os.PathLike)):
            def to_path() -> int:
                with open(target, "wb") as fh:
                    return self._stream_attachment(message_id, part, fh)

            return self._retry.call(to_path)
        return self._stream_attachment(message_id, part, target)

    def _stream_attachment(self, message_id: str, part: str, sink: IO[bytes]) -> int:
        written = 0
        with self._boundary():
            try:
                stream = GetAttachment(account=self.account).stream_file_content(
                    AttachmentId(id=part))
                for chunk in stream:
                    sink.write(chunk)
                    written += len(chunk)
            except _MISSING as missing:
                raise _no_attachment_part(message_id, part) from missing
            except ElementNotFound:
                # No t:Content: an item attachment (an attached message). Ask for its MIME.
                return self._save_item_attachment(message_id, part, sink)
        return written

    def _save_item_attachment(self, message_id: str, part: str, sink: IO[bytes]) -> int:
        try:
            (found,) = list(GetAttachment(account=self.account).call(
                items=[AttachmentId(id=part)], include_mime_content=True, body_type=None,
                filter_html_content=None, additional_fields=None))
        except _MISSING as missing:
            raise _no_attachment_part(message_id, part) from missing
        if isinstance(found, _MISSING):
            raise _no_attachment_part(message_id, part) from found
        if isinstance(found, Exception):
            raise found
        mime = getattr(getattr(found, "item", None), "mime_content", None) or b""
        data = mime.encode() if isinstance(mime, str) else bytes(mime)
        sink.write(data)
        return len(data)


def _no_attachment_part(message_id: str, part: str) -> errors.NotFound:
    return errors.NotFound(
        f"Message {message_id!r} has no attachment {part!r} (or the message is gone).",
        provider="ews", code="attachment-not-found",
        remedy="Use a part id from mailbox.list_attachments(message_id); list the folder "
               "again if the message was moved or deleted.",
    )
