"""Attachments through Graph's attachment resources (mixed into `GraphMailbox`).

- list: ``GET /messages/{id}/attachments?$select=id,name,contentType,size,isInline,contentId``
  — metadata only, one request (``contentBytes`` is never selected, so a 75 MB file costs a
  few hundred bytes here);
- save: ``GET /messages/{id}/attachments/{aid}/$value`` — the raw content, streamed to the
  target in 64 KiB pieces through the SDK's pipeline (`GraphSession.stream`), never
  the whole message and never the whole attachment in memory.

``AttachmentInfo.part`` is Graph's attachment id: opaque and stable while the message is not
edited. File attachments and item attachments (an attached message, event or contact:
``$value`` is its MIME) are listed; reference attachments (links to OneDrive/SharePoint
files) are not — they are no part of the message's MIME and Graph has no content for them
(``$value`` answers 405), so listing them would break "the same attachments on every
adapter".
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Coroutine
from typing import IO, TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.method import Method

from inboxlink import errors
from inboxlink.adapters.graph import _batch, _reads
from inboxlink.adapters.graph.errors import PROVIDER, ItemFailure
from inboxlink.models import AttachmentInfo

if TYPE_CHECKING:
    from inboxlink.adapters.graph.connection import GraphSession
    from inboxlink.retry import RetryPolicy

__all__ = ["ATTACHMENT_SELECT", "GraphAttachments", "info_from_json"]

T = TypeVar("T")

ATTACHMENT_SELECT = ("id", "name", "contentType", "size", "isInline", "contentId")
#: @odata.type → the content type to report when Graph gives none (item attachments)
_KINDS: dict[str, str | None] = {
    "#microsoft.graph.fileAttachment": None,
    "#microsoft.graph.itemAttachment": "message/rfc822",
}
#: answers to an attachment read that mean "no such attachment (or message)"
_MISSING_CODES = frozenset({"erroritemnotfound", "itemnotfound", "errorinvalididmalformed",
                            "errorinvalidattachmentid"})
_CHUNK = 64 * 1024


def info_from_json(item: dict[str, Any]) -> AttachmentInfo | None:
    """One ``attachment`` as `AttachmentInfo`; ``None`` for a reference attachment."""
    kind = str(item.get("@odata.type") or "#microsoft.graph.fileAttachment")
    if kind not in _KINDS:
        return None
    cid = item.get("contentId")
    size = item.get("size")
    return AttachmentInfo(
        part=str(item["id"]),
        filename=item.get("name") or None,
        content_type=item.get("contentType") or _KINDS[kind] or "application/octet-stream",
        size=int(size) if isinstance(size, int) else None,
        content_id=str(cid).strip("<> ") if cid else None,
        inline=bool(item.get("isInline")),
    )


class GraphAttachments:
    """``list_attachments`` / ``save_attachment`` on Graph's attachment endpoints."""

    if TYPE_CHECKING:
        _retry: RetryPolicy

        def _run(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T: ...

    def list_attachments(self, message_id: str) -> list[AttachmentInfo]:
        """The message's attachments from Graph's metadata (one request, no content)."""
        items = self._retry.call(self._run, self._attachment_items, message_id)
        found = (info_from_json(item) for item in items)
        return [info for info in found if info is not None]

    async def _attachment_items(self, session: GraphSession,
                                message_id: str) -> list[dict[str, Any]]:
        from msgraph.generated.users.item.messages.item.attachments.attachments_request_builder import (
            AttachmentsRequestBuilder,
        )

        query = AttachmentsRequestBuilder.AttachmentsRequestBuilderGetQueryParameters(
            select=list(ATTACHMENT_SELECT))
        info = (session.user.messages.by_message_id(message_id).attachments
                .to_get_request_information(RequestConfiguration(query_parameters=query)))
        return await _reads.collect(session, await session.send_json(info))

    def save_attachment(self, message_id: str, part: str,
                        target: str | os.PathLike[str] | IO[bytes]) -> int:
        """Stream the attachment's ``$value`` into ``target``; returns the byte count.

        A path is opened afresh for each attempt, so a retried read never appends to a
        partial file; a file object is written once (no retry: its position is the caller's).
        """
        if not part:
            raise self._no_attachment_part(message_id, part)
        if isinstance(target, (str, os.PathLike)):
            def to_path() -> int:
                with open(target, "wb") as fh:
                    return self._run(self._stream_attachment, message_id, part, fh)

            return self._retry.call(to_path)
        return self._run(self._stream_attachment, message_id, part, target)

    async def _stream_attachment(self, session: GraphSession, message_id: str, part: str,
                                 sink: IO[bytes]) -> int:
        path = (f"{session.user_path}/messages/{quote(message_id, safe='')}"
                f"/attachments/{quote(part, safe='')}/$value")
        async with session.stream(session.request(Method.GET, path)) as response:
            if response.status_code >= 300:
                await response.aread()
                failure = {"status": response.status_code, "headers": dict(response.headers),
                           "body": _json_or_bytes(response.content)}
                if self._is_missing(failure):
                    raise self._no_attachment_part(message_id, part)
                if response.status_code == 405:
                    raise errors.UnsupportedOperation(
                        f"Attachment {part!r} is a link to a cloud file, not content.",
                        provider=PROVIDER, code="referenceAttachment",
                        remedy="Open the link from the message body; Graph keeps no bytes "
                               "for reference attachments.")
                raise ItemFailure(failure)
            written = 0
            async for chunk in response.aiter_bytes(_CHUNK):
                sink.write(chunk)
                written += len(chunk)
            return written

    @staticmethod
    def _is_missing(failure: dict[str, Any]) -> bool:
        # A 404 with another code (ErrorInvalidUser …) is not about the attachment.
        code = _batch.error_code(failure).lower()
        return code in _MISSING_CODES or (_batch.status_of(failure) == 404 and not code)

    @staticmethod
    def _no_attachment_part(message_id: str, part: str) -> errors.NotFound:
        return errors.NotFound(
            f"Message {message_id!r} has no attachment {part!r} (or the message is gone).",
            provider=PROVIDER, code="attachment-not-found",
            remedy="Use a part id from mailbox.list_attachments(message_id); list the folder "
                   "again if the message was moved or deleted.",
        )


def _json_or_bytes(content: bytes) -> Any:
    """An error body as Graph's JSON when it is JSON (a gateway's HTML stays bytes)."""
    try:
        return json.loads(content)
    except ValueError:
        return content
