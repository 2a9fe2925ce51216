"""exchangelib's EWS services, reading responses in 64 KB chunks instead of byte by byte.

exchangelib 5.6 feeds lxml with ``response.iter_content()``, whose default chunk size in
requests is one byte: a 1 MB GetItem response costs about a million generator steps (~1 s
here). These subclasses hand the same parser the same stream in 64 KB chunks; parsing,
error handling and everything else stay exchangelib's own.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import requests
from exchangelib import services

from inboxlink.adapters.ews.fields import FLAG_STATUS

__all__ = [
    "CreateItem", "CreateItemOnce", "FindFolder", "FindItem", "FindItemRows", "GetFolder", "GetItem",
    "GetItemRows", "ItemRow",
]

CHUNK = 64 * 1024


class _Chunked:
    """A requests.Response seen through ``iter_content(CHUNK)``."""

    def __init__(self, response: requests.Response) -> None:
        self._response = response

    def iter_content(self) -> Iterator[bytes]:
        return self._response.iter_content(chunk_size=CHUNK)


class _ChunkedParse:
    @classmethod
    def _get_soap_parts(cls, response: Any) -> Any:
        if isinstance(response, requests.Response):
            response = _Chunked(response)
        return super()._get_soap_parts(response)  # type: ignore[misc]


class FindItem(_ChunkedParse, services.FindItem):  # type: ignore[misc]
    """FindItem."""


class GetItem(_ChunkedParse, services.GetItem):  # type: ignore[misc]
    """GetItem."""


class FindFolder(_ChunkedParse, services.FindFolder):  # type: ignore[misc]
    """FindFolder."""


class GetFolder(_ChunkedParse, services.GetFolder):  # type: ignore[misc]
    """GetFolder."""


class CreateItem(_ChunkedParse, services.CreateItem):  # type: ignore[misc]
    """CreateItem."""


class CreateItemOnce(CreateItem):
    """CreateItem that exchangelib never repeats: for sending and for the Sent copy.

    exchangelib's request loop (``EWSService._get_elements``) re-sends a request after
    ``ErrorServerBusy``, ``ErrorTooManyObjectsOpened`` and ``ErrorTimeoutExpired`` — the last
    is also what a connection lost *after* the request was written becomes — whenever the
    retry policy is ``FaultTolerance``. Every such re-send goes through ``_handle_backoff``;
    raising there leaves exactly one request (a refused token or connection count, which the
    server answered without acting, are still retried by exchangelib as before).
    """

    def _handle_backoff(self, e: Exception) -> None:
        raise e


# --------------------------------------------------------------------------- light rows
# exchangelib builds a full Message object (every field descriptor, every slot) for each
# item, which costs more than the round trip on a 1,000-item page. For the few fields a
# summary or a fetch needs, these services read the XML element directly instead.

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
        address = _text(box, "EmailAddress")
        if address:
            boxes.append((_text(box, "Name"), address))
    return boxes


class ItemRow(dict[str, Any]):
    """One item's fields as read from the XML (a dict with attribute access)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _extended(elem: Any, tag: int) -> str | None:
    for prop in elem.iterfind(T + "ExtendedProperty"):
        uri = prop.find(T + "ExtendedFieldURI")
        if uri is not None and int(uri.get("PropertyTag", "0"), 0) == tag:
            return _text(prop, "Value")
    return None


def _row(elem: Any) -> ItemRow:
    mime = _text(elem, "MimeContent")
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
        mime_content=base64.b64decode(mime) if mime else None,
        flag_status=int(flag_status) if flag_status else None,
        has_attachments=_flag(elem, "HasAttachments"),
    )


class FindItemRows(FindItem):
    """FindItem yielding `ItemRow` (or the exceptions exchangelib puts in results).

    ``total_in_view`` is the folder's item count the server reported with the last page,
    so a caller knows whether more pages exist without asking for an extra item (Exchange
    2013+ caps a FindItem page at 1,000 items: a 1,001st would cost another request).
    """

    total_in_view: int | None = None

    def _get_paging_values(self, elem: Any) -> tuple[int, int | None]:
        item_count, next_offset = super()._get_paging_values(elem)
        self.total_in_view = item_count
        return item_count, next_offset

    def _elem_to_obj(self, elem: Any) -> ItemRow:
        return _row(elem)


class GetItemRows(GetItem):
    """GetItem yielding `ItemRow` (or the exceptions exchangelib puts in results)."""

    def _elem_to_obj(self, elem: Any) -> ItemRow:
        return _row(elem)
