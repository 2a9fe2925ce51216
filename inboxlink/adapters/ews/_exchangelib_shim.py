"""The one place inboxlink touches exchangelib's internals (exchangelib 5.6).

Everything here subclasses an exchangelib class to override a *private* hook, reads a
private attribute, or changes a schema; nothing modifies exchangelib itself, so other users
of exchangelib in the process are unaffected. ``tests/ews/test_shim_canary.py`` checks that
every hook and attribute relied on still exists with the shape used here, and fails loudly
when an exchangelib upgrade changes it. What each part is for:

- `ChunkedParse`: exchangelib feeds lxml with ``response.iter_content()``, whose default
  chunk in requests is one byte — a 1 MB GetItem answer cost about a million generator
  steps (~1 s). The same parser gets the same stream in 64 KB chunks (``_get_soap_parts``).
- `FindItemRows` / `GetItemRows`: read the few fields a summary needs straight from the
  XML (``_elem_to_obj``) instead of building a full ``Message``; ``FindItemRows`` keeps the
  total the server reported (``_get_paging_values``) so no extra item is asked for.
- `CreateItemOnce`: CreateItem that exchangelib never repeats (``_handle_backoff``).
- `SyncItemIds`: SyncFolderItems yielding (kind, id), tolerating an error answer without a
  SyncState (``_get_element_container``).
- `GetItemAttachments`: GetItem yielding attachments in the server's (MIME) order.
- `StreamingMimeGetItem`: GetItem decoding ``t:MimeContent`` as it arrives, with the hooks
  ``GetAttachment`` overrides for the same purpose.
- `FlaggableMessage` / `SentCopyMessage`: ``Message`` subclasses with one extended property
  inserted in schema order (``FIELDS``), never ``Message.register``.
- `forget_protocol`: drop a Protocol from exchangelib's class-level cache.
- `streaming_socket`: the socket of a GetStreamingEvents connection, to wake its reader.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import requests
from exchangelib import services
from exchangelib.extended_properties import ExtendedProperty
from exchangelib.fields import ExtendedPropertyField, FieldPath
from exchangelib.items import ID_ONLY
from exchangelib.items import Message as EwsMessage
from exchangelib.properties import ItemId
from exchangelib.protocol import Protocol
from exchangelib.util import (
    MNS,
    TNS,
    DummyResponse,
    ElementNotFound,
    StreamingBase64Parser,
    StreamingContentHandler,
)

from inboxlink.adapters.ews.convert import FLAG_STATUS, ItemRow, row

__all__ = [
    "CHUNK", "MSGFLAG_READ", "CreateItem", "CreateItemOnce", "FindFolder", "FindItem",
    "FindItemRows", "FlaggableMessage", "GetFolder", "GetItem", "GetItemAttachments",
    "GetItemRows", "SentCopyMessage", "StreamingMimeGetItem", "SyncItemIds", "flag_path",
    "forget_protocol", "streaming_socket",
]

CHUNK = 64 * 1024


# --------------------------------------------------------------------------- chunked parsing
class _Chunked:
    """A requests.Response seen through ``iter_content(CHUNK)``."""

    def __init__(self, response: requests.Response) -> None:
        self._response = response

    def iter_content(self) -> Iterator[bytes]:
        return self._response.iter_content(chunk_size=CHUNK)


class ChunkedParse:
    """Mixin: exchangelib's own parser, fed 64 KB chunks instead of single bytes."""

    @classmethod
    def _get_soap_parts(cls, response: Any) -> Any:
        if isinstance(response, requests.Response):
            response = _Chunked(response)
        return super()._get_soap_parts(response)  # type: ignore[misc]


class FindItem(ChunkedParse, services.FindItem):  # type: ignore[misc]
    """FindItem."""


class GetItem(ChunkedParse, services.GetItem):  # type: ignore[misc]
    """GetItem."""


class FindFolder(ChunkedParse, services.FindFolder):  # type: ignore[misc]
    """FindFolder."""


class GetFolder(ChunkedParse, services.GetFolder):  # type: ignore[misc]
    """GetFolder."""


class CreateItem(ChunkedParse, services.CreateItem):  # type: ignore[misc]
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
        return row(elem)


class GetItemRows(GetItem):
    """GetItem yielding `ItemRow` (or the exceptions exchangelib puts in results)."""

    def _elem_to_obj(self, elem: Any) -> ItemRow:
        return row(elem)


class GetItemAttachments(GetItem):
    """GetItem yielding each item's attachments in the server's order.

    exchangelib's ``Message.attachments`` lists item attachments before file attachments;
    Exchange sends them in attachment order (the MIME order), which the other adapters
    keep, so each ``t:Attachments`` child is parsed by exchangelib's own class, in place.
    """

    def _elem_to_obj(self, elem: Any) -> list[Any]:
        from exchangelib.attachments import FileAttachment, ItemAttachment

        container = elem.find(f"{{{TNS}}}Attachments")
        classes = {cls.response_tag(): cls for cls in (FileAttachment, ItemAttachment)}
        return [classes[child.tag].from_xml(elem=child, account=self.account)
                for child in (container if container is not None else ())
                if child.tag in classes]


# --------------------------------------------------------------------------- change feed
_KIND = {f"{{{TNS}}}Create": "create", f"{{{TNS}}}Update": "update",
         f"{{{TNS}}}ReadFlagChange": "update", f"{{{TNS}}}Delete": "delete"}


class SyncItemIds(ChunkedParse, services.SyncFolderItems):  # type: ignore[misc]
    """SyncFolderItems yielding ``(kind, item id)``: ``create``/``update``/``delete``.

    ``sync_state`` and ``includes_last_item_in_range`` hold the answer's values afterwards.
    """

    def _get_element_container(self, message: Any, name: Any = None) -> Any:
        # exchangelib reads SyncState before looking at ResponseClass; an error answer
        # (ErrorInvalidSyncStateData) may carry none, so let the generic path raise it.
        if message.find(f"{{{MNS}}}SyncState") is None:
            return services.common.EWSAccountService._get_element_container(
                self, message=message, name=name)
        return super()._get_element_container(message=message, name=name)

    def _elem_to_obj(self, elem: Any) -> tuple[str, str]:
        kind = _KIND[elem.tag]
        found = elem.find(f"{{{TNS}}}ItemId")
        if found is None:  # Create/Update wrap the item: <t:Message><t:ItemId/>…
            found = elem[0].find(f"{{{TNS}}}ItemId")
        return kind, found.get("Id")


# --------------------------------------------------------------------------- streaming MIME
class StreamingMimeGetItem(services.GetItem):  # type: ignore[misc]
    """``stream(item_id)`` yields the decoded MIME bytes of one item, chunk by chunk.

    exchangelib streams only file attachments (``GetAttachment``); this applies the same
    building blocks — its SAX ``StreamingBase64Parser`` and ``StreamingContentHandler`` —
    to ``t:MimeContent``, overriding the hooks ``GetAttachment`` overrides.
    """

    def _update_api_version(self, api_version: Any, header: Any) -> None:
        # The streaming parser never sees the SOAP header; keep the version we have.
        if not self.streaming:
            super()._update_api_version(api_version, header)

    def _get_soap_parts(self, response: Any) -> Any:
        if not self.streaming:
            return super()._get_soap_parts(response)
        return None, response

    def _get_soap_messages(self, body: Any) -> Any:
        if not self.streaming:
            return super()._get_soap_messages(body)
        parser = StreamingBase64Parser()
        parser.setContentHandler(
            StreamingContentHandler(parser=parser, ns=TNS, element_name="MimeContent"))
        return parser.parse(body)

    def stream(self, item_id: str) -> Iterator[bytes]:
        """Decoded MIME content of ``item_id``; raises exchangelib's error if there is none."""
        field = FieldPath(field=EwsMessage.get_field_by_fieldname("mime_content"))
        payload = self.get_payload(items=[ItemId(id=item_id)], additional_fields=[field],
                                   shape=ID_ONLY)
        self.streaming = True
        try:
            yield from self._get_response_xml(payload=payload)
        except ElementNotFound as missing:
            # No MimeContent: the answer is an error message. Parse it the normal way.
            self.stop_streaming()
            self.streaming = False
            _, body = self._get_soap_parts(response=DummyResponse(content=missing.data))
            for result in self._get_elements_in_response(
                    response=self._get_soap_messages(body=body)):
                if isinstance(result, Exception):
                    raise result from missing
            raise
        finally:
            if self.streaming:
                self.stop_streaming()
            self.streaming = False


# --------------------------------------------------------------------------- schema
class _FlagStatus(ExtendedProperty):  # type: ignore[misc]
    """PidTagFlagStatus (0x1090)."""

    property_tag = FLAG_STATUS
    property_type = "Integer"


class _MessageFlags(ExtendedProperty):  # type: ignore[misc]
    """PidTagMessageFlags (0x0E07): settable only when an item is created."""

    property_tag = 0x0E07
    property_type = "Integer"


#: PR_MESSAGE_FLAGS bit "read" (MS-OXCMSG 2.2.1.6); without MSGFLAG_UNSENT it is not a draft
MSGFLAG_READ = 0x1


def _message_fields_with(name: str, value_cls: type) -> Any:
    """exchangelib's Message fields plus one extended property, in schema order (after
    ``has_attachments``), for a subclass — never ``Message.register``, which would change
    the class for every user of exchangelib in the process."""
    fields = EwsMessage.FIELDS.copy()
    fields.insert(fields.index_by_name("has_attachments") + 1,
                  ExtendedPropertyField(name, value_cls=value_cls))
    return fields


class FlaggableMessage(EwsMessage):  # type: ignore[misc]
    """A Message with ``flag_status`` (None clears the flag: UpdateItem's DeleteItemField)."""

    FIELDS = _message_fields_with("flag_status", _FlagStatus)


class SentCopyMessage(EwsMessage):  # type: ignore[misc]
    """A Message carrying PR_MESSAGE_FLAGS (``message_flags``), for a Sent copy created
    as sent and read rather than as an unsent draft."""

    FIELDS = _message_fields_with("message_flags", _MessageFlags)


def flag_path() -> FieldPath:
    """The additional property that returns PidTagFlagStatus."""
    return FieldPath(field=FlaggableMessage.get_field_by_fieldname("flag_status"))


# --------------------------------------------------------------------------- protocol, sockets
def forget_protocol(config: Any, only: Any = None) -> None:
    """Drop exchangelib's cached Protocol for ``config`` (only if it is ``only``, if given).

    exchangelib caches one Protocol per (endpoint, credentials) at class level, server
    version included; a new connection must see the server as it is now. Another open
    mailbox may still use a dropped protocol: it keeps working, it is just no longer handed
    to new connections.
    """
    try:
        cached, _ = Protocol[config]
    except KeyError:
        return
    if only is None or cached is only:
        del Protocol[config]


def streaming_socket(service: Any) -> Any:
    """The socket under a GetStreamingEvents service's open response, or ``None``."""
    response = getattr(service, "_streaming_response", None)
    with contextlib.suppress(AttributeError):
        return response.raw.connection.sock  # type: ignore[union-attr]
    return None
