"""Graph's attachment resources for the emulator, derived from the MIME each message stores.

- ``GET /messages/{id}/attachments`` (``$select`` honoured; ``@odata.type`` always present,
  as Graph includes it for derived types);
- ``GET /messages/{id}/attachments/{aid}`` (metadata, ``contentBytes`` only for files);
- ``GET /messages/{id}/attachments/{aid}/$value`` (the raw content; an attached message as
  its MIME).

Which parts are attachments is the rule every emulator shares (``_emulator_mime``): an
attached ``message/rfc822`` is an ``itemAttachment``; a single-part message that is an
attachment has an empty body, as Exchange shows it. An id the
store never issued answers 400 ``ErrorInvalidIdMalformed``; a well-formed id of no
attachment of this message 404 ``ErrorItemNotFound``, with Graph's error body.
"""

from __future__ import annotations

import base64
import re
from email.message import EmailMessage
from typing import Any

from _emulator_mime import AttachmentCache

_PREFIX = b"\x00inboxlink-att\x00"
_SELECTABLE = frozenset({"id", "name", "contentType", "size", "isInline", "contentId",
                         "lastModifiedDateTime", "contentBytes"})
Response = tuple[int, dict[str, str], Any]
_ROUTE = re.compile(r"^/messages/([^/]+)/attachments(?:/([^/]+))?(/\$value)?$")


def attachment_id(message_id: str, index: int) -> str:
    """A Graph-looking attachment id (URL-safe base64 with '=' padding: clients must quote it)."""
    return base64.urlsafe_b64encode(_PREFIX + f"{message_id}/{index}".encode()).decode()


def _index_of(message_id: str, aid: str) -> int | str | None:
    """The attachment's index; ``"malformed"`` for an id the store never issued."""
    try:
        decoded = base64.urlsafe_b64decode(aid.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return "malformed"
    if not decoded.startswith(_PREFIX):
        return "malformed"
    owner, _, index = decoded[len(_PREFIX):].decode("utf-8", "replace").rpartition("/")
    return int(index) if owner == message_id and index.isdigit() else None


def _resource(message_id: str, index: int, part: EmailMessage, data: bytes) -> dict[str, Any]:
    item = part.get_content_type() == "message/rfc822"
    cid = part.get("Content-ID")
    return {
        "@odata.type": "#microsoft.graph." + ("itemAttachment" if item else "fileAttachment"),
        "id": attachment_id(message_id, index),
        "lastModifiedDateTime": "2026-11-25T02:00:00Z",
        "name": part.get_filename() or ("Attached message" if item else None),
        "contentType": None if item else part.get_content_type(),
        "size": len(data),
        "isInline": part.get_content_disposition() == "inline",
        **({"contentId": str(cid).strip()} if cid else {}),
        **({} if item else {"contentBytes": data}),
    }


def route(store: AttachmentCache, messages: dict[str, dict[str, Any]], method: str, rest: str,
          query: dict[str, list[str]], error: Any) -> Response | None:
    """Answer an attachment request, or ``None`` when ``rest`` is not one."""
    match = _ROUTE.match(rest)
    if not match or method != "GET":
        return None
    mid, aid, value = match.groups()
    stored = messages.get(mid)
    if stored is None:
        return error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    parts = store.parts(mid, stored["mime"])
    json_hdr = {"Content-Type": "application/json; odata.metadata=minimal"}
    if aid is None:
        wanted = set(query.get("$select", [""])[0].split(",")) & _SELECTABLE
        values = []
        for n, (part, data) in enumerate(parts):
            resource = _resource(mid, n, part, data)
            resource.pop("contentBytes", None)  # never in a collection without $select
            if wanted:
                resource = {k: v for k, v in resource.items()
                            if k in wanted or k in ("@odata.type", "id")}
            values.append(resource)
        return 200, json_hdr, {"value": values}
    index = _index_of(mid, aid)
    if index == "malformed":
        return error(400, "ErrorInvalidIdMalformed", "Id is malformed.")
    if not isinstance(index, int) or index >= len(parts):
        return error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    part, data = parts[index]
    if value:
        return 200, {"Content-Type": part.get_content_type()}, data
    resource = _resource(mid, index, part, data)
    if "contentBytes" in resource:
        resource["contentBytes"] = base64.b64encode(resource["contentBytes"]).decode()
    return 200, json_hdr, resource
