"""GetItem that streams one item's MIME content instead of parsing the whole response.

exchangelib streams only file attachments (``GetAttachment``). This subclass applies the
same public building blocks — its SAX ``StreamingBase64Parser`` and
``StreamingContentHandler`` — to ``t:MimeContent``, so ``fetch_to_file`` decodes base64 as
the HTTP response arrives and never holds the whole message. Nothing in exchangelib is
modified; the hooks overridden are the ones ``GetAttachment`` overrides for the same purpose.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from exchangelib.fields import FieldPath
from exchangelib.items import ID_ONLY
from exchangelib.items import Message as EwsMessage
from exchangelib.properties import ItemId
from exchangelib.services import GetItem
from exchangelib.util import (
    TNS,
    DummyResponse,
    ElementNotFound,
    StreamingBase64Parser,
    StreamingContentHandler,
)

__all__ = ["StreamingMimeGetItem"]


class StreamingMimeGetItem(GetItem):  # type: ignore[misc]
    """``stream(item_id)`` yields the decoded MIME bytes of one item, chunk by chunk."""

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
