"""exchangelib items and EWS XML elements ↔ inboxlink models, and the field lists asked for.

Listing and fetching read the few fields a summary or a fetch needs straight from the XML
element (`row`), because exchangelib building a full ``Message`` per item costs more than
the round trip on a 1,000-item page. Everything here is conversion: no requests.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from exchangelib.attachments import ItemAttachment
from exchangelib.fields import FieldPath
from exchangelib.items import Message as EwsMessage

from inboxlink import mime
from inboxlink.models import (
    Address,
    AttachmentInfo,
    Folder,
    FolderRole,
    Message,
    MessageSummary,
    RoleSource,
)

__all__ = [
    "ADDRESS_FIELDS", "FETCH_FIELDS", "FLAGGED", "FLAG_STATUS", "FOLDER_FIELDS", "LIST_FIELDS",
    "SUMMARY_FIELDS", "ItemRow", "attachment_info", "flags", "folders", "message", "paths",
    "row", "summary", "utc",
]

#: PidTagFlagStatus (0x1090, Integer: 0 none, 1 complete, 2 flagged): Outlook's follow-up
#: flag, which exchangelib has no field for (``t:Flag`` needs Exchange 2013)
FLAG_STATUS = 0x1090
#: PidTagFlagStatus value of a flagged (followup) message
FLAGGED = 2

FOLDER_FIELDS = ("name", "parent_folder_id", "folder_class", "total_count", "unread_count")
#: what FindItem can return for a summary (everything but addresses)
LIST_FIELDS = ("subject", "datetime_received", "datetime_sent", "size", "message_id", "is_read",
               "is_draft", "in_reply_to", "references", "conversation_id")
#: what FindItem cannot return (Exchange refuses recipient collections there): one GetItem
ADDRESS_FIELDS = ("author", "to_recipients", "cc_recipients")
FETCH_FIELDS = ("mime_content", "is_read", "is_draft", "parent_folder_id", "conversation_id")
#: what a summary needs, in one GetItem (GetItem can return recipients; FindItem cannot)
SUMMARY_FIELDS = ("subject", "datetime_received", "datetime_sent", "size", "message_id",
                  "is_read", "is_draft", "in_reply_to", "references", "conversation_id",
                  "parent_folder_id", "has_attachments", "author", "to_recipients",
                  "cc_recipients")


def paths(cls: type[EwsMessage], names: Sequence[str]) -> list[FieldPath]:
    """Field paths for ``names`` of ``cls`` (additional properties of an item shape)."""
    return [FieldPath(field=cls.get_field_by_fieldname(name)) for name in names]


# --------------------------------------------------------------------------- XML rows
T = "{http://schemas.microsoft.com/exchange/services/2006/types}"


def _text(elem: Any, tag: str) -> str | None:
    found = elem.find(T + tag)
    return found.text if found is not None else None


def _flag(elem: Any, tag: str) -> bool:
    return (_text(elem, tag) or "").strip().lower() == "true"


def _id(elem: Any, tag: str) -> str | None:
    found = elem.find(T + tag)
    return found.get("Id") if found is not None else None


def _boxes(elem: Any, tag: str) -> list[tuple[str | None, str]]:
    found = elem.find(T + tag)
    if found is None:
        return []
    boxes = []
    for box in found.iter(T + "Mailbox"):
        email = _text(box, "EmailAddress")
        if email:
            boxes.append((_text(box, "Name"), email))
    return boxes


def _extended(elem: Any, tag: int) -> str | None:
    for prop in elem.iterfind(T + "ExtendedProperty"):
        uri = prop.find(T + "ExtendedFieldURI")
        if uri is not None and int(uri.get("PropertyTag", "0"), 0) == tag:
            return _text(prop, "Value")
    return None


class ItemRow(dict[str, Any]):
    """One item's fields as read from the XML (a dict with attribute access)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def row(elem: Any) -> ItemRow:
    """The fields inboxlink reads of one ``t:Message`` element."""
    content = _text(elem, "MimeContent")
    flag_status = _extended(elem, FLAG_STATUS)
    size = _text(elem, "Size")
    senders = _boxes(elem, "From")
    return ItemRow(
        id=_id(elem, "ItemId"), subject=_text(elem, "Subject"),
        datetime_received=_text(elem, "DateTimeReceived"),
        datetime_sent=_text(elem, "DateTimeSent"), size=int(size) if size else None,
        message_id=_text(elem, "InternetMessageId"), in_reply_to=_text(elem, "InReplyTo"),
        references=_text(elem, "References"), is_read=_flag(elem, "IsRead"),
        is_draft=_flag(elem, "IsDraft"), conversation_id=_id(elem, "ConversationId"),
        parent_folder_id=_id(elem, "ParentFolderId"),
        author=senders[0] if senders else None,
        to_recipients=_boxes(elem, "ToRecipients"), cc_recipients=_boxes(elem, "CcRecipients"),
        mime_content=base64.b64decode(content) if content else None,
        flag_status=int(flag_status) if flag_status else None,
        has_attachments=_flag(elem, "HasAttachments"),
    )


# --------------------------------------------------------------------------- models
def utc(value: str | None) -> dt.datetime | None:
    """An EWS date-time (``2026-11-30T01:02:03Z``) as an aware UTC datetime, or ``None``."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def _address(box: tuple[str | None, str] | None) -> Address | None:
    if box is None:
        return None
    name, email = box
    return Address(email=email, name=name if name and name != email else None)


def _addresses(boxes: Iterable[tuple[str | None, str]]) -> tuple[Address, ...]:
    return tuple(a for a in map(_address, boxes) if a)


def flags(item: Any) -> frozenset[str]:
    """IMAP-style flags of an item row: read, draft, flagged for follow-up."""
    found = set()
    if item.is_read:
        found.add("\\Seen")
    if item.is_draft:
        found.add("\\Draft")
    if getattr(item, "flag_status", None) == FLAGGED:
        found.add("\\Flagged")
    return frozenset(found)


def summary(folder_id: str, item: Any, extra: Any) -> MessageSummary:
    """A summary of ``item``, its addresses read from ``extra`` (``None``: none known)."""
    return MessageSummary(
        id=item.id, folder_id=folder_id, subject=item.subject,
        from_=_address(extra.author) if extra is not None else None,
        to=_addresses(extra.to_recipients if extra else []),
        cc=_addresses(extra.cc_recipients if extra else []),
        date=utc(item.datetime_sent), received_at=utc(item.datetime_received),
        message_id=item.message_id, in_reply_to=item.in_reply_to,
        references=mime.split_msgids(item.references), flags=flags(item),
        size=item.size, thread_id=item.conversation_id,
    )


def message(message_id: str, item: Any) -> Message:
    """A fetched item (MIME content and state) as a `Message`."""
    return Message(id=message_id, folder_id=item.parent_folder_id or "",
                   raw=item.mime_content or b"", flags=flags(item),
                   thread_id=item.conversation_id)


def folders(root_id: str, tree: list[Any], roles: dict[str, FolderRole],
            distinguished: dict[str, str]) -> list[Folder]:
    """The mail folders of a deep FindFolder under ``root_id``, with their paths and roles.

    ``roles`` are the roles Exchange states (distinguished folders), ``distinguished`` their
    distinguished ids, kept as an attribute (``distinguished:deleteditems``).
    """
    by_id = {f.id: f for f in tree}

    def parent_of(folder: Any) -> str | None:
        return folder.parent_folder_id.id if folder.parent_folder_id else None

    def path_of(folder: Any) -> str:
        parts = [folder.name or ""]
        parent = parent_of(folder)
        while parent and parent != root_id and parent in by_id:
            parts.append(by_id[parent].name or "")
            parent = parent_of(by_id[parent])
        return "/".join(reversed(parts))

    result = []
    for ews in tree:
        folder_class = ews.folder_class or ""
        if folder_class and not folder_class.startswith("IPF.Note"):
            continue  # calendars, contacts, tasks: not mail folders
        role = roles.get(ews.id)
        parent = parent_of(ews)
        marks = {f"distinguished:{distinguished[ews.id]}"} if ews.id in distinguished else set()
        result.append(Folder(
            id=ews.id, name=ews.name or "", path=path_of(ews), role=role,
            role_source=RoleSource.PROVIDER if role else None,
            parent_id=None if parent == root_id else parent, attributes=frozenset(marks),
            total=ews.total_count, unread=ews.unread_count,
        ))
    return result


def attachment_info(attachment: Any) -> AttachmentInfo:
    """One exchangelib attachment (metadata only) as `AttachmentInfo`."""
    is_item = isinstance(attachment, ItemAttachment)
    cid = attachment.content_id
    return AttachmentInfo(
        part=str(attachment.attachment_id.id),
        filename=attachment.name or None,
        content_type=(attachment.content_type or
                      ("message/rfc822" if is_item else "application/octet-stream")).lower(),
        size=attachment.size,
        content_id=str(cid).strip().strip("<>").strip() if cid else None,
        inline=bool(attachment.is_inline),
    )
