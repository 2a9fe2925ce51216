"""The EWS emulator's attachments: ``item:Attachments`` in GetItem, and GetAttachment.

Both are derived from the MIME each item stores, with the rule every emulator shares
(``_emulator_mime``); an attached ``message/rfc822`` is one ``t:ItemAttachment`` (its
content is the item's ``t:MimeContent`` when ``IncludeMimeContent`` is asked for), every other
leaf a ``t:FileAttachment`` whose ``t:Content`` is the base64 of the decoded bytes.

Element order follows the EWS schema (AttachmentType: AttachmentId, Name, ContentType,
ContentId, ContentLocation, Size, LastModifiedTime, IsInline; FileAttachment adds
IsContactPhoto, Content). An id that is not base64 of one of the emulator's blobs answers
``ErrorInvalidIdMalformed``; a well-formed id of no attachment ``ErrorItemNotFound`` (an
item deleted since, or another mailbox's).
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from _emulator_mime import AttachmentCache

if TYPE_CHECKING:
    from .emulator import Item, User

M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
_PREFIX = b"\x00\x00inboxlink-emu-att\x00"


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


class AttachmentOps:
    """Mixed into :class:`~.emulator.EwsEmulator`."""

    if TYPE_CHECKING:
        items: dict[str, Item]

        @staticmethod
        def _message(operation: str, code: str, inner: str = "",
                     back_off_ms: int | None = None, text: str | None = None) -> str: ...
        @staticmethod
        def _wrap(operation: str, messages: list[str]) -> str: ...

    #: [(part, decoded content)] per item, parsed once per message
    _attachment_cache: AttachmentCache

    def _attachments_of(self, item: Item) -> list[tuple[EmailMessage, bytes]]:
        if not hasattr(self, "_attachment_cache"):
            self._attachment_cache = AttachmentCache()
        return self._attachment_cache.parts(item.id, item.mime)

    @staticmethod
    def _attachment_id(item: Item, index: int) -> str:
        return base64.b64encode(_PREFIX + f"{item.id}/{index}".encode()).decode()

    def _attachment_xml(self, item: Item, index: int, part: EmailMessage, data: bytes,
                        with_content: bool, with_mime: bool) -> str:
        is_item = part.get_content_type() == "message/rfc822"
        tag = "ItemAttachment" if is_item else "FileAttachment"
        cid = part.get("Content-ID")
        name = part.get_filename() or ("Attached message" if is_item else "")
        fields = [
            f'<t:AttachmentId Id="{self._attachment_id(item, index)}" RootItemId="{item.id}" '
            f'RootItemChangeKey="{item.change_key}"/>',
            f"<t:Name>{escape(name)}</t:Name>",
            f"<t:ContentType>{escape(part.get_content_type())}</t:ContentType>",
            f"<t:ContentId>{escape(str(cid).strip())}</t:ContentId>" if cid else "",
            f"<t:Size>{len(data)}</t:Size>",
            "<t:LastModifiedTime>2026-11-25T02:00:00</t:LastModifiedTime>",
            f"<t:IsInline>{str(part.get_content_disposition() == 'inline').lower()}"
            "</t:IsInline>",
        ]
        if not is_item:
            fields.append("<t:IsContactPhoto>false</t:IsContactPhoto>")
            if with_content:
                fields.append(f"<t:Content>{base64.b64encode(data).decode()}</t:Content>")
        elif with_content:
            mime = (f"<t:MimeContent CharacterSet=\"UTF-8\">{base64.b64encode(data).decode()}"
                    "</t:MimeContent>") if with_mime else ""
            fields.append(f'<t:Message>{mime}<t:ItemId Id="{item.id}" '
                          f'ChangeKey="{item.change_key}"/></t:Message>')
        return f"<t:{tag}>{''.join(fields)}</t:{tag}>"

    def attachments_xml(self, item: Item) -> str:
        """``t:Attachments`` for GetItem (metadata only; empty string when there are none)."""
        found = self._attachments_of(item)
        if not found:
            return ""
        inner = "".join(self._attachment_xml(item, n, part, data, False, False)
                        for n, (part, data) in enumerate(found))
        return f"<t:Attachments>{inner}</t:Attachments>"

    def _find_attachment(self, user: User, attachment_id: str) -> tuple[Any, ...] | str:
        try:
            blob = base64.b64decode(attachment_id, validate=True)
        except ValueError:
            return "ErrorInvalidIdMalformed"
        if not blob.startswith(_PREFIX):
            return "ErrorInvalidIdMalformed"
        item_id, _, index = blob[len(_PREFIX):].decode("utf-8", "replace").rpartition("/")
        item = self.items.get(item_id)
        if item is None or item.folder_id not in user.folders or not index.isdigit():
            return "ErrorItemNotFound"
        found = self._attachments_of(item)
        if int(index) >= len(found):
            return "ErrorItemNotFound"
        return (item, int(index), *found[int(index)])

    def _op_GetAttachment(self, user: User, body: ET.Element) -> str:
        shape = body.find(_q(M, "AttachmentShape"))
        with_mime = shape is not None and (
            shape.findtext(_q(T, "IncludeMimeContent")) or "").lower() == "true"
        ids = body.find(_q(M, "AttachmentIds"))
        messages = []
        for elem in list(ids) if ids is not None else []:
            found = self._find_attachment(user, elem.get("Id", ""))
            if isinstance(found, str):
                messages.append(self._message("GetAttachment", found, "<m:Attachments/>"))
                continue
            item, index, part, data = found
            xml = self._attachment_xml(item, index, part, data, True, with_mime)
            messages.append(self._message("GetAttachment", "NoError",
                                          f"<m:Attachments>{xml}</m:Attachments>"))
        return self._wrap("GetAttachment", messages)
