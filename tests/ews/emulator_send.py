"""The EWS emulator's draft-then-send half: CreateAttachment and SendItem, and size limits.

A large message goes to Exchange in steps: ``CreateItem`` (``SaveOnly``) stores a draft from
its MIME content, ``CreateAttachment`` adds each large file to it, ``SendItem`` submits it
(``SaveItemToFolder="true"`` plus ``SavedItemFolderId``: the item moves there under a new id,
as Exchange does; otherwise it is deleted once sent). Shapes follow the operations' reference
pages:

- ``CreateAttachmentResponseMessage`` carries ``m:Attachments`` with one
  ``t:FileAttachment`` per attachment holding only ``t:AttachmentId`` (``Id``,
  ``RootItemId``, ``RootItemChangeKey``); the parent item gets a new ChangeKey.
- ``SendItemResponseMessage`` is a bare ``ResponseCode``; an ``ItemId`` whose ChangeKey is
  not the item's current one is ``ErrorStaleObject``.
- ``message_size_limit`` (bytes of MIME, like a mailbox's MaxSendSize): a submission above it
  is ``ErrorMessageSizeExceeded``; an attachment that alone exceeds it
  ``ErrorAttachmentSizeLimitExceeded``.
- ``request_size_limit`` (bytes of HTTP body, like IIS' maxAllowedContentLength / WCF's
  maxReceivedMessageSize): a bigger POST is answered ``413 Request Entity Too Large``
  without being read into memory (the handler checks it; see ``emulator._Handler``).

The attachment is added to the stored MIME (``multipart/mixed``), so GetItem's MimeContent,
GetAttachment and the outbox see the message Exchange would have built.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import xml.etree.ElementTree as ET
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .emulator import Folder, Item, User

M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"

SIZE_TEXT = {
    "ErrorMessageSizeExceeded": "The message exceeds the maximum supported size.",
    "ErrorAttachmentSizeLimitExceeded": "The attachment exceeds the allowed size limit.",
    "ErrorStaleObject": "The change key passed in the request does not match the current "
                        "change key for the item.",
}
REQUEST_TOO_LARGE = (b"<html><head><title>Request Entity Too Large</title></head><body>"
                     b"<h1>Request Entity Too Large</h1></body></html>")
_CHANGE_KEYS = itertools.count(1)


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _with_attachment(raw: bytes, name: str, content_type: str, data: bytes,
                     inline: bool, content_id: str | None) -> bytes:
    """``raw`` with one more attached file, as Exchange regenerates an item's MIME."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    maintype, _, subtype = content_type.partition("/")
    headers = [f"Content-ID: {content_id}"] if content_id else None
    message.add_attachment(data, maintype=maintype or "application",
                           subtype=subtype or "octet-stream", filename=name or None,
                           disposition="inline" if inline else "attachment", headers=headers)
    return message.as_bytes(policy=policy.SMTP)


class SendOps:
    """Mixed into :class:`~.emulator.EwsEmulator`."""

    #: bytes of MIME a submission may have (None: no limit)
    message_size_limit: int | None = None
    #: bytes an HTTP request body may have (None: no limit)
    request_size_limit: int | None = None

    if TYPE_CHECKING:
        items: dict[str, Item]
        outbox: list[tuple[bytes, list[str]]]

        @staticmethod
        def _message(operation: str, code: str, inner: str = "",
                     back_off_ms: int | None = None, text: str | None = None) -> str: ...
        @staticmethod
        def _wrap(operation: str, messages: list[str]) -> str: ...
        def _own_item(self, user: User, item_id: str) -> Item | str: ...
        def _resolve_folder(self, user: User, elem: ET.Element) -> Folder | str: ...
        def _relocate(self, item: Item, folder_id: str) -> Item: ...
        def _drop(self, item: Item) -> None: ...
        def _record(self, folder_id: str, kind: str, item_id: str) -> None: ...
        def send_refusal(self, user: User, raw: bytes) -> str | None: ...

    def drafts_of(self, user: User) -> list[Item]:
        """Items in the mailbox's Drafts folder."""
        drafts = next(f.id for f in user.folders.values() if f.distinguished == "drafts")
        return [i for i in self.items.values() if i.folder_id == drafts]

    def _error(self, operation: str, code: str, inner: str = "") -> str:
        return self._message(operation, code, inner, text=SIZE_TEXT.get(code))

    @staticmethod
    def _new_change_key() -> str:
        return base64.b64encode(b"CQAAAB" + next(_CHANGE_KEYS).to_bytes(8, "big")).decode()

    # ------------------------------------------------------------------ CreateAttachment
    def _attachments_in(self, body: ET.Element) -> Iterator[ET.Element]:
        found = body.find(_q(M, "Attachments"))
        yield from list(found) if found is not None else []

    def _op_CreateAttachment(self, user: User, body: ET.Element) -> str:
        parent = body.find(_q(M, "ParentItemId"))
        item = self._own_item(user, parent.get("Id", "") if parent is not None else "")
        messages = []
        for attachment in self._attachments_in(body):
            if isinstance(item, str):
                messages.append(self._error("CreateAttachment", item, "<m:Attachments/>"))
                continue
            if attachment.tag != _q(T, "FileAttachment"):
                messages.append(self._error("CreateAttachment", "ErrorInvalidAttachmentType",
                                            "<m:Attachments/>"))
                continue
            data = base64.b64decode(attachment.findtext(_q(T, "Content")) or "")
            limit = self.message_size_limit
            if limit is not None and len(data) > limit:
                messages.append(self._error("CreateAttachment",
                                            "ErrorAttachmentSizeLimitExceeded",
                                            "<m:Attachments/>"))
                continue
            item.mime = _with_attachment(
                item.mime, attachment.findtext(_q(T, "Name")) or "",
                attachment.findtext(_q(T, "ContentType")) or "application/octet-stream", data,
                (attachment.findtext(_q(T, "IsInline")) or "").lower() == "true",
                attachment.findtext(_q(T, "ContentId")))
            item._headers = None
            item.change_key = self._new_change_key()
            self._record(item.folder_id, "update", item.id)
            index = len(self._attachments_of(item)) - 1  # type: ignore[attr-defined]
            attachment_id = self._attachment_id(item, index)  # type: ignore[attr-defined]
            messages.append(self._message(
                "CreateAttachment", "NoError",
                f'<m:Attachments><t:FileAttachment><t:AttachmentId Id="{attachment_id}" '
                f'RootItemId="{item.id}" RootItemChangeKey="{item.change_key}"/>'
                "</t:FileAttachment></m:Attachments>"))
        return self._wrap("CreateAttachment", messages)

    # ------------------------------------------------------------------ SendItem
    def _op_SendItem(self, user: User, body: ET.Element) -> str:
        save = body.get("SaveItemToFolder", "true").lower() == "true"
        target: Folder | str | None = None
        if save:
            saved = body.find(_q(M, "SavedItemFolderId"))
            if saved is not None and len(saved):
                target = self._resolve_folder(user, saved[0])
            else:
                target = next(f for f in user.folders.values() if f.distinguished == "sentitems")
        messages = []
        for elem in body.iterfind(f"{_q(M, 'ItemIds')}/{_q(T, 'ItemId')}"):
            item = self._own_item(user, elem.get("Id", ""))
            if isinstance(item, str) or isinstance(target, str):
                messages.append(self._error("SendItem", item if isinstance(item, str)
                                            else str(target)))
                continue
            key = elem.get("ChangeKey")
            if key and key != item.change_key:
                messages.append(self._error("SendItem", "ErrorStaleObject"))
                continue
            limit = self.message_size_limit
            if limit is not None and len(item.mime) > limit:
                messages.append(self._error("SendItem", "ErrorMessageSizeExceeded"))
                continue
            refused = self.send_refusal(user, item.mime)
            if refused is not None:
                messages.append(self._error("SendItem", refused))
                continue
            self.outbox.append((item.mime, self._recipients(item)))
            if target is None:
                self._drop(item)
            else:
                moved = self._relocate(item, target.id)
                moved.is_draft, moved.is_read = False, True
                moved.received = dt.datetime.now(dt.timezone.utc)
            messages.append(self._message("SendItem", "NoError"))
        return self._wrap("SendItem", messages)

    @staticmethod
    def _recipients(item: Item) -> list[str]:
        from .emulator import _addresses

        found = [a for h in ("To", "Cc") for _, a in _addresses(item.header(h))]
        return found + list(item.bcc)
