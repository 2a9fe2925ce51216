"""Gmail's resumable media uploads, as the emulator serves them.

The wire format of Google's resumable upload protocol
(developers.google.com/gmail/api/guides/uploads):

- ``POST /upload/gmail/v1/users/{userId}/messages/send?uploadType=resumable`` (or
  ``/messages`` for insert, ``/messages/import``) with the JSON metadata as body and
  ``X-Upload-Content-Type`` / ``X-Upload-Content-Length`` headers answers ``200`` with the
  session URI in ``Location`` (``…&upload_id=…``); a message over 35 MB is refused with 413;
- ``PUT <session>`` with ``Content-Range: bytes a-b/total`` and the bytes answers
  ``308 Resume Incomplete`` with ``Range: bytes=0-n`` (what the server holds), and the
  chunk that completes the message ``200`` with the Message resource;
- ``PUT <session>`` with ``Content-Range: bytes */total`` and no body asks the status:
  ``308`` (with ``Range`` when something is held) or the final ``200`` again;
- a session the server forgot answers ``404``.

Tests can drop the connection of a session opening, chunk or status request (keeping none,
part or all of a chunk), which a real network does, and expire every session.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import attrs

Response = tuple[int, dict[str, str], bytes]
#: what `GmailEmulator.handle` returns to make the server close without answering
DROP: Response = (0, {}, b"")
#: Gmail's size limits for uploads (the discovery document's maxSize of each method)
MAX_SIZE = {"messages.send": 36_700_160, "messages.insert": 157_286_400,
            "messages.import": 157_286_400}
UPLOAD_PATH = re.compile(r"^/upload/gmail/v1/users/(?P<user>[^/]+)/messages(?P<kind>/send|/import)?$")
OPERATIONS = {"/send": "messages.send", "/import": "messages.import", None: "messages.insert"}
_RANGE = re.compile(r"^bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)$")


@attrs.define
class Session:
    id: str
    operation: str
    total: int
    metadata: dict[str, Any]
    query: dict[str, list[str]]
    data: bytearray = attrs.field(factory=bytearray)
    result: Response | None = None


@attrs.define
class Drop:
    """Close the connection of the next matching request without answering.

    ``keep``: the share of the chunk's bytes the server keeps (0: none, 1: all — it then
    completes the message if this was the last chunk, and only the answer is lost).
    """

    operation: str  #: upload.start | upload.chunk | upload.status
    keep: float
    final_only: bool
    times: int


def _json(status: int, data: Any, headers: Mapping[str, str] | None = None) -> Response:
    return status, {"Content-Type": "application/json; charset=UTF-8", **(headers or {})}, \
        json.dumps(data).encode()


def _error(status: int, message: str, reason: str, rpc: str) -> Response:
    return _json(status, {"error": {"code": status, "message": message, "status": rpc,
                                    "errors": [{"message": message, "domain": "global",
                                                "reason": reason}]}})


class Uploads:
    """Upload sessions of one emulated account.

    ``complete(operation, query, metadata, raw)`` stores/sends the finished message and
    returns the API's answer (the Message resource, or an error).
    """

    def __init__(self, base_url: Callable[[], str],
                 complete: Callable[[str, Mapping[str, list[str]], dict[str, Any], bytes],
                                    Response]) -> None:
        self._base_url = base_url
        self._complete = complete
        self._lock = threading.RLock()
        self.sessions: dict[str, Session] = {}
        self.drops: list[Drop] = []
        #: (operation, Content-Range) of every upload request, in order
        self.log: list[tuple[str, str]] = []

    def drop(self, operation: str, *, keep: float = 0.0, final_only: bool = False,
             times: int = 1) -> None:
        self.drops.append(Drop(operation, keep, final_only, times))

    def expire(self) -> None:
        with self._lock:
            self.sessions.clear()

    def _drop_for(self, operation: str, final: bool) -> Drop | None:
        with self._lock:
            for drop in self.drops:
                if drop.operation == operation and drop.times > 0 and (final or not
                                                                       drop.final_only):
                    drop.times -= 1
                    return drop
        return None

    # ------------------------------------------------------------------ requests
    def start(self, user: str, kind: str | None, query: Mapping[str, list[str]],
              headers: Mapping[str, str], body: bytes) -> Response:
        self.log.append(("upload.start", ""))
        if query.get("uploadType", [""])[0] != "resumable":
            return _error(400, "Only resumable uploads are served here.", "badRequest",
                          "INVALID_ARGUMENT")
        lowered = {k.lower(): v for k, v in headers.items()}
        length = lowered.get("x-upload-content-length", "")
        if not length.isdigit():
            return _error(400, "X-Upload-Content-Length is required.", "badRequest",
                          "INVALID_ARGUMENT")
        limit = MAX_SIZE[OPERATIONS[kind]]
        if int(length) > limit:
            return _error(413, f"Request payload size exceeds the limit: {limit} bytes.",
                          "uploadTooLarge", "INVALID_ARGUMENT")
        try:
            metadata = json.loads(body) if body else {}
        except ValueError:
            return _error(400, "Invalid JSON payload received.", "invalidArgument",
                          "INVALID_ARGUMENT")
        session = Session(uuid.uuid4().hex, OPERATIONS[kind], int(length), metadata,
                          {k: list(v) for k, v in query.items() if k != "uploadType"})
        with self._lock:
            self.sessions[session.id] = session
        if self._drop_for("upload.start", final=True) is not None:
            return DROP
        location = (f"{self._base_url()}upload/gmail/v1/users/{user}/messages{kind or ''}"
                    f"?uploadType=resumable&upload_id={session.id}")
        return 200, {"Location": location, "Content-Length": "0"}, b""

    def put(self, query: Mapping[str, list[str]], headers: Mapping[str, str],
            body: bytes) -> Response:
        lowered = {k.lower(): v for k, v in headers.items()}
        content_range = lowered.get("content-range", "")
        with self._lock:
            session = self.sessions.get(query.get("upload_id", [""])[0])
        found = _RANGE.match(content_range)
        is_status = found is not None and found.group(1) is None
        self.log.append(("upload.status" if is_status else "upload.chunk", content_range))
        if session is None:
            return _error(404, "Not Found: the upload session does not exist or expired.",
                          "notFound", "NOT_FOUND")
        if found is None:
            return _error(400, f"Invalid Content-Range: {content_range!r}", "badRequest",
                          "INVALID_ARGUMENT")
        if is_status:
            drop = self._drop_for("upload.status", final=True)
            if drop is not None:
                return DROP
            return session.result or self._incomplete(session)
        start, end = int(found.group(1)), int(found.group(2))
        final = end + 1 == session.total
        drop = self._drop_for("upload.chunk", final)
        if session.result is not None:
            return DROP if drop else session.result
        if start != len(session.data) or end - start + 1 != len(body) or \
                end >= session.total:
            # Not where the server is: it keeps what it has and says so.
            return DROP if drop else self._incomplete(session)
        kept = body if drop is None else body[:int(len(body) * drop.keep)]
        session.data += kept
        if len(session.data) == session.total:
            session.result = self._complete(session.operation, session.query,
                                             session.metadata, bytes(session.data))
            session.data = bytearray()  # the message is stored; the buffer is not needed
            return DROP if drop else session.result
        return DROP if drop else self._incomplete(session)

    def _incomplete(self, session: Session) -> Response:
        held = len(session.data)
        headers = {"Content-Length": "0"}
        if held:
            headers["Range"] = f"bytes=0-{held - 1}"
        return 308, headers, b""
