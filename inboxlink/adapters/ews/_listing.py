"""Listing a folder and fetching messages, in few batched requests.

A page is one FindItem (summary fields only) plus one GetItem for the sender/recipient
fields FindItem cannot return; fetching is GetItem with MIME content for
``fetch_batch_size`` ids per request. A cursor (`inboxlink.cursor.CursorCodec`) holds the
offset and the listing's anchor (the newest DateTimeReceived when it started), so mail
arriving meanwhile does not shift later pages.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from exchangelib.fields import FieldOrder, FieldPath
from exchangelib.items import ID_ONLY, SHALLOW
from exchangelib.items import Message as EwsMessage
from exchangelib.properties import ItemId
from exchangelib.restriction import Q, Restriction

from inboxlink import errors
from inboxlink.adapters.ews import convert
from inboxlink.adapters.ews._exchangelib_shim import FindItemRows, GetItemRows, flag_path
from inboxlink.cursor import CursorCodec
from inboxlink.models import Message, MessageSummary, Page

__all__ = ["decode_cursor", "fetch", "page"]

#: listing cursors: the offset and the anchor
CURSORS = CursorCodec("ews")


def _encode_cursor(folder_id: str, offset: int, anchor: str | None) -> str:
    return CURSORS.encode(folder_id, {"o": offset, "a": anchor})


def decode_cursor(cursor: str, folder_id: str) -> tuple[int, str | None]:
    """The offset and anchor in ``cursor``; `CursorExpired` if it is not one of this folder."""
    state = CURSORS.decode(cursor, folder_id)
    offset, anchor = state.get("o"), state.get("a")
    if not isinstance(offset, int) or offset < 0 or not isinstance(anchor, (str, type(None))):
        raise errors.CursorExpired("The cursor is damaged.", provider="ews", code="bad-cursor",
                                   remedy="Pass page.next_cursor unchanged, or start the "
                                          "listing again without a cursor.")
    return offset, anchor


def page(account: Any, ews_folder: Any, folder_id: str, limit: int, offset: int,
         anchor: str | None) -> Page[MessageSummary]:
    """One page of summaries, newest first."""
    restriction = None
    if anchor is not None:
        # Later pages only see what existed when the listing started, so mail arriving
        # meanwhile (newest first = at offset 0) does not shift the offsets.
        bound = dt.datetime.fromisoformat(anchor)
        restriction = Restriction(Q(datetime_received__lte=bound), folders=[ews_folder],
                                  applies_to=Restriction.ITEMS)
    received = FieldPath(field=EwsMessage.get_field_by_fieldname("datetime_received"))
    finder = FindItemRows(account=account, page_size=limit)
    found = list(finder.call(
        folders=[ews_folder],
        additional_fields=[*convert.paths(EwsMessage, convert.LIST_FIELDS), flag_path()],
        restriction=restriction, order_fields=[FieldOrder(field_path=received, reverse=True)],
        shape=ID_ONLY, query_string=None, depth=SHALLOW, calendar_view=None,
        max_items=limit, offset=offset))
    for entry in found:
        if isinstance(entry, Exception):
            raise entry
    total = finder.total_in_view
    more = offset + len(found) < total if total is not None else len(found) == limit
    if not found:
        return Page(items=(), next_cursor=None)
    addresses = _addresses_for(account, [i.id for i in found])
    newest = convert.utc(found[0].datetime_received)
    if anchor is None and newest is not None:
        anchor = newest.isoformat()
    items = [convert.summary(folder_id, item, addresses.get(item.id)) for item in found]
    next_cursor = _encode_cursor(folder_id, offset + len(found), anchor) if more else None
    return Page(items=items, next_cursor=next_cursor)


def _addresses_for(account: Any, ids: list[str]) -> dict[str, Any]:
    getter = GetItemRows(account=account, chunk_size=max(len(ids), 1))
    result = {}
    for item in getter.call(items=[ItemId(id=i) for i in ids],
                            additional_fields=convert.paths(EwsMessage, convert.ADDRESS_FIELDS),
                            shape=ID_ONLY):
        if isinstance(item, Exception):
            if type(item).__name__ == "ErrorItemNotFound":
                continue  # deleted between FindItem and GetItem: listed without addresses
            raise item
        result[item.id] = item
    return result


def fetch(account: Any, message_ids: list[str], batch_size: int) -> list[Message]:
    """The messages, in the order asked; exchangelib's error for a missing one."""
    getter = GetItemRows(account=account, chunk_size=batch_size)
    results = list(getter.call(
        items=[ItemId(id=i) for i in message_ids],
        additional_fields=[*convert.paths(EwsMessage, convert.FETCH_FIELDS), flag_path()],
        shape=ID_ONLY))
    messages = []
    for wanted, item in zip(message_ids, results, strict=True):
        if isinstance(item, Exception):
            raise item
        messages.append(convert.message(wanted, item))
    return messages
