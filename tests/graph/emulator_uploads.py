"""Graph's attachment upload sessions and draft sending, for the emulator.

Wire formats as Graph documents them for Outlook items ("Attach large files to Outlook
messages or events", the ``uploadSession`` resource):

- ``POST /messages/{id}/attachments/createUploadSession`` with ``{"AttachmentItem":
  {"attachmentType": "file", "name", "size", "contentType", "isInline", "contentId"}}`` →
  201 and an ``uploadSession`` (``uploadUrl``, ``expirationDateTime``,
  ``nextExpectedRanges: ["0-"]``). Files under 3 MB are refused (they take a plain POST),
  over 150 MB too.
- ``PUT {uploadUrl}`` with ``Content-Range: bytes {start}-{end}/{size}``, at most 4 MB, and
  *no* ``Authorization`` header (the URL is pre-authenticated; a bearer token is refused with
  401) → 200 with ``NextExpectedRanges: ["{next}"]`` (Outlook's form: a start offset, names
  in Pascal case), and on the last byte 201 Created with a ``Location`` naming the new
  attachment and no body.
- ``GET {uploadUrl}``: the session's state (``NextExpectedRanges``), to resume after a
  dropped chunk; ``DELETE {uploadUrl}``: 204, the session is gone.
- Error bodies: an unknown or expired session 404 ``ErrorItemNotFound``; a range that does
  not start at the next expected byte, or whose length differs from the body, 416
  ``ErrorInvalidRange`` (``InvalidRange`` text as OneDrive words it); a chunk over 4 MB 413
  ``RequestEntityTooLarge``.

The uploaded file is added to the item's MIME as an attachment part when the last byte
arrives, so sending the draft (``POST /messages/{id}/send``) delivers it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import secrets
from collections.abc import Callable
from typing import Any

import attrs

Response = tuple[int, dict[str, str], Any]
ErrorFn = Callable[..., Response]

MIN_SIZE = 3 * 1024 * 1024
MAX_SIZE = 150 * 1024 * 1024
MAX_CHUNK = 4 * 1024 * 1024
LIFETIME = dt.timedelta(minutes=15)
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
_CONTEXT = ("https://outlook.office.com/api/v2.0/$metadata"
            "#Microsoft.OutlookServices.UploadSession")


@attrs.define
class Session:
    """One upload session: the file's metadata and the bytes received so far."""

    id: str
    message_id: str
    item: dict[str, Any]
    size: int
    expires: dt.datetime
    data: bytearray = attrs.Factory(bytearray)

    def expiry(self) -> str:
        return self.expires.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")

    def state(self) -> dict[str, Any]:
        return {"@odata.context": _CONTEXT, "ExpirationDateTime": self.expiry(),
                "NextExpectedRanges": [str(len(self.data))]}


class UploadSessions:
    """Every open upload session of one emulator; ``attach`` adds a finished file to its item."""

    def __init__(self, attach: Callable[[str, dict[str, Any], bytes], str]) -> None:
        self._attach = attach
        self._ids = itertools.count(1)
        self.sessions: dict[str, Session] = {}
        #: how long a session lives without a chunk (a test sets it to zero to expire them)
        self.lifetime = LIFETIME
        #: (session id, start, length) of every chunk accepted, in order
        self.chunks: list[tuple[str, int, int]] = []

    def create(self, message_id: str, body: dict[str, Any], host: str,
               error: ErrorFn) -> Response:
        item = body.get("AttachmentItem") or body.get("attachmentItem")
        if not isinstance(item, dict) or item.get("attachmentType") != "file":
            return error(400, "ErrorInvalidRequest",
                         "The AttachmentItem parameter with attachmentType 'file' is required.")
        size = item.get("size")
        if not isinstance(size, int) or not item.get("name"):
            return error(400, "ErrorInvalidRequest",
                         "The AttachmentItem name and size are required.")
        if size < MIN_SIZE:
            return error(400, "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize",
                         "Attachment size must be greater than the minimum size.")
        if size > MAX_SIZE:
            return error(413, "ErrorMessageSizeExceeded",
                         "The message exceeds the maximum supported size.")
        sid = f"AAMkUpload{next(self._ids):04d}{secrets.token_hex(4)}"
        session = Session(sid, message_id, dict(item), size,
                          dt.datetime.now(dt.timezone.utc) + self.lifetime)
        self.sessions[sid] = session
        url = (f"http://{host}/upload/api/v2.0/Users('user-object-id')/Messages('{message_id}')"
               f"/AttachmentSessions('{sid}')?authtoken={secrets.token_urlsafe(16)}")
        return 201, {"Content-Type": "application/json"}, {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata"
                              "#microsoft.graph.uploadSession",
            "uploadUrl": url, "expirationDateTime": session.expiry(),
            "nextExpectedRanges": ["0-"]}

    def route(self, method: str, path: str, headers: dict[str, str], body: bytes,
              error: ErrorFn) -> Response:
        """Answer a request to an upload URL (``/upload/…``)."""
        match = re.search(r"/AttachmentSessions\('([^']+)'\)$", path)
        session = self.sessions.get(match.group(1)) if match else None
        if "authorization" in headers:
            return error(401, "InvalidAuthenticationToken",
                         "An Authorization header is not allowed on a pre-authenticated URL.")
        if session is None or session.expires <= dt.datetime.now(dt.timezone.utc):
            if session is not None:
                del self.sessions[session.id]
            return error(404, "ErrorItemNotFound",
                         "The upload session was not found or has expired.")
        if method == "GET":
            return 200, {"Content-Type": "application/json"}, session.state()
        if method == "DELETE":
            del self.sessions[session.id]
            return 204, {}, None
        if method != "PUT":
            return error(405, "ErrorInvalidRequest", "The method is not allowed.")
        return self._put(session, headers, body, error)

    def _put(self, session: Session, headers: dict[str, str], body: bytes,
             error: ErrorFn) -> Response:
        if len(body) > MAX_CHUNK:
            return error(413, "RequestEntityTooLarge",
                         "The request is larger than the 4 MB an upload request may carry.")
        found = _RANGE.match(headers.get("content-range", ""))
        if found is None:
            return error(400, "ErrorInvalidRequest", "The Content-Range header is missing "
                         "or malformed.")
        start, end, total = (int(g) for g in found.groups())
        if (total != session.size or start != len(session.data) or end < start
                or end - start + 1 != len(body) or end >= total):
            return error(416, "ErrorInvalidRange",
                         f"InvalidRange: the fragment {start}-{end}/{total} does not start at "
                         f"the next expected byte {len(session.data)} of {session.size}.")
        session.data += body
        session.expires = dt.datetime.now(dt.timezone.utc) + self.lifetime
        self.chunks.append((session.id, start, len(body)))
        if len(session.data) < session.size:
            return 200, {"Content-Type": "application/json"}, session.state()
        del self.sessions[session.id]
        aid = self._attach(session.message_id, session.item, bytes(session.data))
        location = (f"https://outlook.office.com/api/v2.0/Users('user-object-id')"
                    f"/Messages('{session.message_id}')/Attachments('{aid}')")
        return 201, {"Location": location}, None
