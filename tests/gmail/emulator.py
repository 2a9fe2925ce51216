"""A local Gmail API emulator: a real HTTP server on 127.0.0.1 speaking the Gmail v1 wire API.

It serves what the adapter and google-api-python-client send: labels, getProfile, messages
list (with ``q=``, see :mod:`.emulator_query`)/get(metadata|raw|minimal)/send/insert/import/
trash/delete/batchModify/batchDelete, threads.get, history.list, the batch endpoint
(``multipart/mixed`` of ``application/http`` parts, answered the same way), and an OAuth
token endpoint for google-auth refreshes. Any response can be replaced by an injected
error body (:meth:`GmailEmulator.fail`). Every HTTP request is counted.

Like Gmail it keeps a history log (one record per message per change, ids increasing,
``messagesAdded``/``messagesDeleted``/``labelsAdded``/``labelsRemoved``), forgets records
older than :attr:`GmailEmulator.history_floor` (``history.list`` then answers 404), and puts
a message into the thread of the message its ``In-Reply-To``/``References`` name.
"""

from __future__ import annotations

import base64
import contextlib
import email.parser
import email.policy
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from email.utils import getaddresses, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs

from . import emulator_parts
from .emulator_query import Candidate, QueryError, compile_query
from .emulator_quota import QuotaMeter
from .emulator_upload import UPLOAD_PATH, Uploads

SYSTEM_LABELS = (
    "INBOX", "SENT", "DRAFT", "TRASH", "SPAM", "STARRED", "IMPORTANT", "UNREAD", "CHAT",
    "CATEGORY_PERSONAL", "CATEGORY_SOCIAL", "CATEGORY_PROMOTIONS", "CATEGORY_UPDATES",
    "CATEGORY_FORUMS",
)
_HEADERS_ONLY = email.parser.BytesHeaderParser(policy=email.policy.compat32)
_MESSAGE_PATH = re.compile(r"^/gmail/v1/users/(?P<user>[^/]+)/(?P<rest>.*)$")
Response = tuple[int, dict[str, str], bytes]


def gmail_error(status: int, message: str, reason: str | None = None,
                rpc_status: str | None = None, domain: str = "global",
                details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A Gmail error body shaped like Google's (``error.errors[]``, ``status``, ``details``)."""
    error: dict[str, Any] = {"code": status, "message": message}
    if reason:
        error["errors"] = [{"message": message, "domain": domain, "reason": reason}]
    if rpc_status:
        error["status"] = rpc_status
    if details:
        error["details"] = details
    return {"error": error}


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


@attrs.define
class Stored:
    id: str
    thread_id: str
    raw: bytes
    labels: list[str]
    internal_ms: int
    seq: int
    history_id: int = 0


@attrs.define
class HistoryRecord:
    """One change: ``kind`` is the history list it goes in; labels before and after."""

    id: int
    kind: str  #: messagesAdded | messagesDeleted | labelsAdded | labelsRemoved
    message_id: str
    thread_id: str
    before: tuple[str, ...]
    after: tuple[str, ...]
    changed: tuple[str, ...] = ()

    def resource(self) -> dict[str, Any]:
        labels = self.before if self.kind == "messagesDeleted" else self.after
        message = {"id": self.message_id, "threadId": self.thread_id, "labelIds": list(labels)}
        entry: dict[str, Any] = {"message": message}
        if self.changed:
            entry["labelIds"] = list(self.changed)
        return {"id": str(self.id), "messages": [{"id": self.message_id,
                                                  "threadId": self.thread_id}],
                self.kind: [entry]}


@attrs.define
class Outgoing:
    raw: bytes  #: what recipients get (Bcc removed)
    recipients: list[str]


@attrs.define
class Fault:
    operation: str
    status: int
    body: bytes
    headers: dict[str, str]
    times: int


class GmailEmulator:
    """State of one Gmail account plus the server that serves it."""

    def __init__(self, address: str = "alice@gmail.com") -> None:
        self.address = address
        self.tokens: set[str] = {"good-token"}
        self.user_labels: dict[str, str] = {}  # id -> name
        self.messages: dict[str, Stored] = {}
        self.parts = emulator_parts.PartStore()  #: format=full trees, attachment ids
        #: the account's quota units and per-user rate limit (off until limited)
        self.quota = QuotaMeter()
        self.outbox: list[Outgoing] = []
        #: (method, path) of every HTTP request, a batch once
        self.requests: list[tuple[str, str]] = []
        #: operation names of every API call, batched or not
        self.calls: list[str] = []
        self.batch_sizes: list[int] = []
        #: the active users.watch request body (None: not watching)
        self.watching: dict[str, Any] | None = None
        #: key id -> PEM certificate, served like Google's oauth2/v1/certs
        self.certs: dict[str, str] = {}
        #: topics Gmail's push service account may not publish to
        self.unpublishable_topics: set[str] = set()
        #: the full target (path and query) of every HTTP request, a batch once
        self.targets: list[str] = []
        #: (operation, request body) of every API call, batched or not
        self.bodies: list[tuple[str, bytes]] = []
        #: the q= of every messages.list call, in order
        self.queries: list[str] = []
        #: the change log history.list serves; records at or below the floor are forgotten
        self.history: list[HistoryRecord] = []
        self.history_floor = 0
        self._history_ids = itertools.count(4000)
        self._history_id = 3999
        self.token_requests: list[dict[str, list[str]]] = []
        self._faults: list[Fault] = []
        self._responses: dict[tuple[Any, ...], bytes] = {}
        self._seq = itertools.count(1)
        self._ids = itertools.count(0x18C0000000000000)
        self._last_ms = 0
        self._lock = threading.RLock()
        #: resumable upload sessions (see :mod:`.emulator_upload`)
        self.uploads = Uploads(lambda: self.url, self._complete_upload)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.emulator = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    @property
    def certs_url(self) -> str:
        return self.url + "oauth2/v1/certs"

    @property
    def token_uri(self) -> str:
        return self.url + "token"

    def start(self) -> GmailEmulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.targets.clear()
            self.queries.clear()
            self.bodies.clear()
            self.calls.clear()
            self.batch_sizes.clear()

    # ------------------------------------------------------------------ test helpers
    def add_label(self, name: str) -> str:
        label_id = f"Label_{len(self.user_labels) + 1}"
        self.user_labels[label_id] = name
        return label_id

    def deliver(self, raw: bytes, labels: tuple[str, ...] = ("INBOX", "UNREAD")) -> str:
        """Incoming mail, as Gmail's SMTP side would store it (arrival time = now)."""
        return self._store(raw, list(labels), self._now_ms(), thread_id=None)

    def fail(self, operation: str, status: int, body: Mapping[str, Any] | bytes | str,
             *, times: int = 1, headers: Mapping[str, str] | None = None) -> None:
        """Answer the next ``times`` calls of ``operation`` (``messages.get``, ``batch``,
        ``token``, ``*`` …) with ``status`` and ``body``."""
        raw = body if isinstance(body, bytes) else (
            body.encode() if isinstance(body, str) else json.dumps(body).encode())
        self._faults.append(Fault(operation, status, raw, dict(headers or {}), times))

    def forget_history(self) -> None:
        """Forget every history record so far (as Gmail does after about a week)."""
        with self._lock:
            self.history_floor = self._history_id + 1
            self.history.clear()

    def relabel(self, message_id: str, add: tuple[str, ...] = (),
                remove: tuple[str, ...] = ()) -> None:
        """Another client changes a message's labels (recorded in the history)."""
        self._modify(self.messages[message_id], list(add), list(remove))

    def remove(self, message_id: str) -> None:
        """Another client deletes a message for good."""
        self._delete_stored(message_id)

    def bodies_of(self, operation: str) -> list[bytes]:
        """The request bodies of every ``operation`` call since the last reset."""
        with self._lock:
            return [b for op, b in self.bodies if op == operation]

    def labels_of(self, message_id: str) -> list[str]:
        return list(self.messages[message_id].labels)

    def sent_raw(self) -> list[bytes]:
        return [o.raw for o in self.outbox]

    # ------------------------------------------------------------------ internals
    def _now_ms(self) -> int:
        with self._lock:
            self._last_ms = max(int(time.time() * 1000), self._last_ms + 1)
            return self._last_ms

    def _new_id(self) -> str:
        return format(next(self._ids), "x")

    def _store(self, raw: bytes, labels: list[str], internal_ms: int,
               thread_id: str | None) -> str:
        with self._lock:
            message_id = self._new_id()
            stored = Stored(message_id, thread_id or self._thread_by_headers(raw) or message_id,
                            raw, labels, internal_ms, next(self._seq))
            self.messages[message_id] = stored
            self._record("messagesAdded", stored, (), tuple(labels))
            return message_id

    def _thread_by_headers(self, raw: bytes) -> str | None:
        # Gmail threads a message with the one its In-Reply-To/References name (Gmail also
        # wants a similar subject; inboxlink must never rely on subjects, so neither do we).
        headers = _headers(raw)
        wanted = set(re.findall(r"<[^<>\s]+>", " ".join(
            str(v) for v in headers.get_all("In-Reply-To", []) + headers.get_all(
                "References", []))))
        if not wanted:
            return None
        for stored in self.messages.values():
            if str(_headers(stored.raw).get("Message-ID", "")).strip() in wanted:
                return stored.thread_id
        return None

    def _record(self, kind: str, stored: Stored, before: tuple[str, ...],
                after: tuple[str, ...], changed: tuple[str, ...] = ()) -> None:
        with self._lock:
            self._history_id = next(self._history_ids)
            stored.history_id = self._history_id
            self.history.append(HistoryRecord(self._history_id, kind, stored.id,
                                              stored.thread_id, before, after, changed))

    def _modify(self, stored: Stored, add: list[str], remove: list[str]) -> None:
        with self._lock:
            before = tuple(stored.labels)
            added = [lb for lb in dict.fromkeys(add) if lb not in stored.labels]
            removed = [lb for lb in dict.fromkeys(remove) if lb in stored.labels and lb not in add]
            # One record per kind, applied in turn: each carries the labels after it.
            if added:
                stored.labels = stored.labels + added
                self._record("labelsAdded", stored, before, tuple(stored.labels), tuple(added))
            if removed:
                middle = tuple(stored.labels)
                stored.labels = [lb for lb in stored.labels if lb not in removed]
                self._record("labelsRemoved", stored, middle, tuple(stored.labels),
                             tuple(removed))

    def _delete_stored(self, message_id: str) -> bool:
        with self._lock:
            stored = self.messages.pop(message_id, None)
            if stored is None:
                return False
            self._record("messagesDeleted", stored, tuple(stored.labels), ())
            return True

    def _fault_for(self, operation: str) -> Response | None:
        with self._lock:
            for fault in self._faults:
                if fault.operation in (operation, "*") and fault.times > 0:
                    fault.times -= 1
                    headers = {"Content-Type": "application/json; charset=UTF-8", **fault.headers}
                    return fault.status, headers, fault.body
        return None

    # ------------------------------------------------------------------ dispatch
    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes,
               *, in_batch: bool = False) -> Response:
        parts = urlsplit(target)
        path, query = parts.path, parse_qs(parts.query)
        if not in_batch:
            with self._lock:
                self.requests.append((method, path))
                self.targets.append(target)
        if path == "/token" and method == "POST":
            return self._token(body)
        if path == "/oauth2/v1/certs" and method == "GET":
            return _json(200, self.certs)
        if path == "/batch/gmail/v1" and method == "POST":
            return self._batch(headers, body)
        upload = UPLOAD_PATH.match(path)
        if upload is not None:
            return self._upload(method, upload, query, headers, body)
        match = _MESSAGE_PATH.match(path)
        if not match:
            return _json(404, gmail_error(404, "Not Found", "notFound", "NOT_FOUND"))
        operation, handler, args = self._route(method, match.group("rest"))
        with self._lock:
            self.calls.append(operation)
            self.bodies.append((operation, body))
        refused = self._fault_for(operation) or self._refused(headers, match.group("user"))
        if refused is not None:
            return refused
        if handler is None:
            return _json(404, gmail_error(404, "Not Found", "notFound", "NOT_FOUND"))
        refused = self.quota.charge(operation)
        if refused is not None:
            return refused
        try:
            return handler(query, body, *args)
        except _Refused as refused:
            return refused.response

    def _refused(self, headers: Mapping[str, str], user: str) -> Response | None:
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return _json(401, gmail_error(
                401, "Request had invalid authentication credentials. Expected OAuth 2 access "
                     "token, login cookie or other valid authentication credential.",
                "authError", "UNAUTHENTICATED"), {"WWW-Authenticate": 'Bearer realm="x"'})
        if user not in ("me", self.address):
            return _json(400, gmail_error(400, "Precondition check failed.",
                                          "failedPrecondition", "FAILED_PRECONDITION"))
        return None

    def _upload(self, method: str, match: re.Match[str], query: Mapping[str, list[str]],
                headers: Mapping[str, str], body: bytes) -> Response:
        operation = "upload.start" if method == "POST" else "upload.put"
        with self._lock:
            self.calls.append(operation)
        refused = self._fault_for(operation) or self._refused(headers, match.group("user"))
        if refused is not None:
            return refused
        if method == "POST":
            return self.uploads.start(match.group("user"), match.group("kind"), query, headers,
                                      body)
        if method == "PUT":
            return self.uploads.put(query, headers, body)
        return _json(405, gmail_error(405, "Method Not Allowed", "badRequest"))

    def _complete_upload(self, operation: str, query: Mapping[str, list[str]],
                         metadata: dict[str, Any], raw: bytes) -> Response:
        """An upload session received the whole message: send or store it."""
        try:
            if operation == "messages.send":
                return self._send_raw(metadata, raw)
            return self._insert_raw(query, metadata, raw)
        except _Refused as refused:
            return refused.response

    def _route(self, method: str, rest: str) -> tuple[str, Callable[..., Response] | None,
                                                      tuple[str, ...]]:
        segments = rest.split("/")
        table: list[tuple[str, tuple[str, ...], str, Callable[..., Response]]] = [
            ("GET", ("labels",), "labels.list", self._labels),
            ("GET", ("profile",), "getProfile", self._profile),
            ("POST", ("watch",), "watch", self._watch),
            ("POST", ("stop",), "stop", self._stop),
            ("GET", ("history",), "history.list", self._history),
            ("GET", ("messages",), "messages.list", self._list),
            ("POST", ("messages", "send"), "messages.send", self._send),
            ("POST", ("messages", "import"), "messages.import", self._import),
            ("POST", ("messages", "batchModify"), "messages.batchModify", self._batch_modify),
            ("POST", ("messages", "batchDelete"), "messages.batchDelete", self._batch_delete),
            ("POST", ("messages",), "messages.insert", self._insert),
            ("POST", ("messages", "*", "trash"), "messages.trash", self._trash),
            ("POST", ("messages", "*", "modify"), "messages.modify", self._modify_one),
            ("GET", ("messages", "*"), "messages.get", self._get),
            ("GET", ("messages", "*", "attachments", "*"), "messages.attachments.get",
             self._attachment_get),
            ("DELETE", ("messages", "*"), "messages.delete", self._delete),
            ("GET", ("threads", "*"), "threads.get", self._thread_get),
        ]
        for verb, shape, name, fn in table:
            if verb == method and len(shape) == len(segments) and all(
                    s == "*" or s == seg for s, seg in zip(shape, segments, strict=True)):
                args = tuple(seg for s, seg in zip(shape, segments, strict=True) if s == "*")
                return name, fn, args
        return f"{method} {rest}", None, ()

    # ------------------------------------------------------------------ batch
    def _batch(self, headers: Mapping[str, str], body: bytes) -> Response:
        fault = self._fault_for("batch")
        if fault is not None:
            return fault
        content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
        if not content_type.startswith("multipart/mixed"):
            return _json(400, gmail_error(400, "Bad Request", "badRequest", "INVALID_ARGUMENT"))
        outer = email.parser.Parser(policy=email.policy.compat32).parsestr(
            f"Content-Type: {content_type}\r\n\r\n" + body.decode("utf-8"))
        parts = outer.get_payload()
        if len(parts) > 100:
            return _json(400, gmail_error(400, "Too many requests in batch.", "badRequest"))
        with self._lock:
            self.batch_sizes.append(len(parts))
        boundary = "batch_" + uuid.uuid4().hex
        out: list[bytes] = []
        for part in parts:
            cid = str(part["Content-ID"]).strip()
            status, rheaders, rbody = self._batch_part(str(part.get_payload()))
            head = "".join(f"{k}: {v}\r\n" for k, v in rheaders.items())
            out.append(
                f"--{boundary}\r\nContent-Type: application/http\r\n"
                f"Content-ID: <response-{cid[1:]}\r\n\r\n"
                f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n{head}\r\n".encode()
                + rbody + b"\r\n")
        out.append(f"--{boundary}--\r\n".encode())
        return 200, {"Content-Type": f"multipart/mixed; boundary={boundary}"}, b"".join(out)

    def _batch_part(self, payload: str) -> Response:
        request_line, _, rest = payload.replace("\r\n", "\n").partition("\n")
        head, _, inner_body = rest.partition("\n\n")
        method, target, _ = request_line.split(" ", 2)
        inner = email.parser.Parser(policy=email.policy.compat32).parsestr(head + "\n\n",
                                                                           headersonly=True)
        return self.handle(method, target, dict(inner.items()), inner_body.encode(),
                           in_batch=True)

    # ------------------------------------------------------------------ OAuth
    def _token(self, body: bytes) -> Response:
        form = parse_qs(body.decode())
        with self._lock:
            self.token_requests.append(form)
        fault = self._fault_for("token")
        if fault is not None:
            return fault
        token = "issued-" + uuid.uuid4().hex
        self.tokens.add(token)
        return _json(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer",
                           "scope": "https://www.googleapis.com/auth/gmail.modify"})

    # ------------------------------------------------------------------ resources
    def _labels(self, query: Mapping[str, list[str]], body: bytes) -> Response:
        labels = [{"id": lb, "name": lb, "type": "system"} for lb in SYSTEM_LABELS]
        labels += [{"id": i, "name": n, "type": "user", "messageListVisibility": "show",
                    "labelListVisibility": "labelShow"} for i, n in self.user_labels.items()]
        return _json(200, {"labels": labels})

    def _ordered(self, query: Mapping[str, list[str]]) -> list[Stored]:
        wanted = set(query.get("labelIds", []))
        spam_trash = query.get("includeSpamTrash", ["false"])[0] == "true"
        search = query.get("q", [""])[0]
        with self._lock:
            found = list(self.messages.values())
        if wanted:
            found = [m for m in found if wanted <= set(m.labels)]
        if not spam_trash and not wanted & {"SPAM", "TRASH"}:
            found = [m for m in found if not {"SPAM", "TRASH"} & set(m.labels)]
        if search:
            try:
                predicate = compile_query(search)
            except QueryError as exc:
                raise _Refused(_json(400, gmail_error(400, f"Invalid query: {exc}",
                                                      "invalidArgument",
                                                      "INVALID_ARGUMENT"))) from exc
            found = [m for m in found if predicate(Candidate(m.raw, m.labels, m.internal_ms,
                                                             self.user_labels))]
        found.sort(key=lambda m: (m.internal_ms, m.seq), reverse=True)
        return found

    def _list(self, query: Mapping[str, list[str]], body: bytes) -> Response:
        size = int(query.get("maxResults", ["100"])[0])
        if not 1 <= size <= 500:
            return _json(400, gmail_error(400, "Invalid maxResults", "invalidArgument",
                                          "INVALID_ARGUMENT"))
        start = 0
        if "pageToken" in query:
            try:
                start = int(base64.urlsafe_b64decode(query["pageToken"][0]).decode())
            except ValueError:
                return _json(400, gmail_error(400, "Invalid pageToken", "invalidArgument",
                                              "INVALID_ARGUMENT"))
        with self._lock:
            self.queries.append(query.get("q", [""])[0])
        found = self._ordered(query)
        page = found[start:start + size]
        result: dict[str, Any] = {"resultSizeEstimate": len(found)}
        if page:
            result["messages"] = [{"id": m.id, "threadId": m.thread_id} for m in page]
        if start + size < len(found):
            result["nextPageToken"] = base64.urlsafe_b64encode(
                str(start + size).encode()).decode()
        return _json(200, result)

    def _get(self, query: Mapping[str, list[str]], body: bytes, message_id: str) -> Response:
        if not re.fullmatch(r"[0-9a-f]{1,32}", message_id):
            return _json(400, gmail_error(400, "Invalid id value", "invalidArgument",
                                          "INVALID_ARGUMENT"))
        stored = self.messages.get(message_id)
        if stored is None:
            return _json(404, gmail_error(404, "Requested entity was not found.", "notFound",
                                          "NOT_FOUND"))
        fmt = query.get("format", ["full"])[0]
        if fmt == "full":
            return self._full(stored, query)
        if query.get("fields") == ["id,labelIds"]:
            return _json(200, {"id": stored.id, "labelIds": list(stored.labels)})
        key = (message_id, fmt, tuple(query.get("fields", [])), tuple(stored.labels))
        cached = self._responses.get(key)
        if cached is not None:
            # Served from the cache so that memory measured in-process is the client's.
            return 200, {"Content-Type": "application/json; charset=UTF-8"}, cached
        resource: dict[str, Any] = {
            "id": stored.id, "threadId": stored.thread_id, "labelIds": list(stored.labels),
            "snippet": "", "sizeEstimate": len(stored.raw), "historyId": str(stored.history_id),
            "internalDate": str(stored.internal_ms),
        }
        if fmt == "raw":
            resource["raw"] = base64.urlsafe_b64encode(stored.raw).decode()
        elif fmt == "metadata":
            wanted = {h.lower() for h in query.get("metadataHeaders", [])}
            parsed = _headers(stored.raw)
            resource["payload"] = {
                "mimeType": parsed.get_content_type(),
                "headers": [{"name": k, "value": _unfold(v)} for k, v in parsed.items()
                            if not wanted or k.lower() in wanted],
            }
        if query.get("fields") == ["raw"]:
            resource = {"raw": resource.get("raw", "")}
        response = _json(200, resource)
        self._responses[key] = response[2]
        return response

    def _full(self, stored: Stored, query: Mapping[str, list[str]]) -> Response:
        resource: dict[str, Any] = {
            "id": stored.id, "threadId": stored.thread_id, "labelIds": list(stored.labels),
            "snippet": "", "sizeEstimate": len(stored.raw), "historyId": str(stored.history_id),
            "internalDate": str(stored.internal_ms),
            "payload": self.parts.payload(stored.id, stored.raw),
        }
        if query.get("fields") == ["payload"]:
            resource = {"payload": resource["payload"]}
        return _json(200, resource)

    def _attachment_get(self, query: Mapping[str, list[str]], body: bytes, message_id: str,
                        attachment_id: str) -> Response:
        raw_of = {message_id: self.messages[message_id].raw} if message_id in self.messages \
            else {}
        status, found = emulator_parts.attachment_body(self.parts, raw_of, message_id,
                                                       attachment_id, query.get("fields", []))
        if status != 200:
            return _not_found()
        return 200, {"Content-Type": "application/json; charset=UTF-8"}, \
            emulator_parts.encode(found)

    def _thread_get(self, query: Mapping[str, list[str]], body: bytes, thread_id: str) -> Response:
        with self._lock:
            members = sorted((m for m in self.messages.values() if m.thread_id == thread_id),
                             key=lambda m: (m.internal_ms, m.seq))
        if not members:
            return _not_found()
        fmt = query.get("format", ["full"])[0]
        wanted = {h.lower() for h in query.get("metadataHeaders", [])}
        messages = []
        for m in members:
            resource: dict[str, Any] = {
                "id": m.id, "threadId": m.thread_id, "labelIds": list(m.labels),
                "snippet": "", "historyId": str(m.history_id),
                "internalDate": str(m.internal_ms), "sizeEstimate": len(m.raw)}
            if fmt == "metadata":
                parsed = _headers(m.raw)
                resource["payload"] = {"mimeType": parsed.get_content_type(), "headers": [
                    {"name": k, "value": _unfold(v)} for k, v in parsed.items()
                    if not wanted or k.lower() in wanted]}
            messages.append(resource)
        return _json(200, {"id": thread_id, "historyId": str(self._history_id),
                           "messages": messages})

    # ------------------------------------------------------------------ profile and history
    def _profile(self, query: Mapping[str, list[str]], body: bytes) -> Response:
        with self._lock:
            return _json(200, {"emailAddress": self.address,
                               "messagesTotal": len(self.messages),
                               "threadsTotal": len({m.thread_id for m in self.messages.values()}),
                               "historyId": str(self._history_id)})

    def _history(self, query: Mapping[str, list[str]], body: bytes) -> Response:
        start_text = query.get("startHistoryId", [""])[0]
        if not start_text.isdigit():
            return _json(400, gmail_error(400, "Invalid startHistoryId", "invalidArgument",
                                          "INVALID_ARGUMENT"))
        start = int(start_text)
        size = int(query.get("maxResults", ["100"])[0])
        if not 1 <= size <= 500:
            return _json(400, gmail_error(400, "Invalid maxResults", "invalidArgument",
                                          "INVALID_ARGUMENT"))
        with self._lock:
            if start < self.history_floor - 1:
                # developers.google.com/gmail/api/guides/sync: an out-of-range startHistoryId
                # is answered with HTTP 404; the client must do a full sync.
                return _not_found()
            label = query.get("labelId", [None])[0]
            kinds = {_HISTORY_TYPES.get(t, t) for t in query.get("historyTypes", [])}
            records = [r for r in self.history if r.id > start
                       # The narrow reading of "only return messages with a label matching
                       # the ID": the message's labels after the change. The adapter must
                       # not depend on a wider one, so it does not send labelId at all.
                       and (label is None or label in r.after)
                       and (not kinds or r.kind in kinds)]
            current = self._history_id
        offset = 0
        if "pageToken" in query:
            try:
                offset = int(base64.urlsafe_b64decode(query["pageToken"][0]).decode())
            except ValueError:
                return _json(400, gmail_error(400, "Invalid pageToken", "invalidArgument",
                                              "INVALID_ARGUMENT"))
        page = records[offset:offset + size]
        result: dict[str, Any] = {"historyId": str(current)}
        if page:
            result["history"] = [r.resource() for r in page]
        if offset + size < len(records):
            result["nextPageToken"] = base64.urlsafe_b64encode(
                str(offset + size).encode()).decode()
        return _json(200, result)

    # ------------------------------------------------------------------ push
    def _watch(self, query: Mapping[str, list[str]], body: bytes) -> Response:
        request = json.loads(body or b"{}")
        topic = str(request.get("topicName") or "")
        if not re.fullmatch(r"projects/[^/]+/topics/[^/]+", topic):
            return _json(400, gmail_error(
                400, "Invalid topicName does not match projects/SOME-ANDROID-PROJECT/topics/*",
                "invalidArgument", "INVALID_ARGUMENT"))
        if topic in self.unpublishable_topics:
            message = (f"Error sending test message to Cloud PubSub {topic} : User not "
                       "authorized to perform this action.")
            return _json(403, gmail_error(403, message, "forbidden", "PERMISSION_DENIED"))
        with self._lock:
            self.watching = request
            expiration = self._now_ms() + 7 * 24 * 3600 * 1000
            return _json(200, {"historyId": str(self._history_id),
                               "expiration": str(expiration)})

    def _stop(self, query: Mapping[str, list[str]], body: bytes) -> Response:
        self.watching = None
        return 204, {}, b""

    def push_body(self, subscription: str = "projects/acme/subscriptions/gmail-push",
                  *, address: str | None = None) -> bytes:
        """The POST body Pub/Sub sends a push endpoint for the mailbox's latest change."""
        data = json.dumps({"emailAddress": address or self.address,
                           "historyId": self._history_id}).encode()
        return json.dumps({
            "message": {"data": base64.b64encode(data).decode(),
                        "messageId": "2070443601311540", "message_id": "2070443601311540",
                        "publishTime": "2026-11-29T19:13:55.749Z",
                        "publish_time": "2026-11-29T19:13:55.749Z"},
            "subscription": subscription}).encode()

    # ------------------------------------------------------------------ changing messages
    def _ids_body(self, body: bytes) -> tuple[dict[str, Any], list[str]]:
        try:
            request = json.loads(body or b"{}")
            ids = [str(i) for i in request.get("ids") or []]
        except (ValueError, AttributeError) as exc:
            raise _Refused(_json(400, gmail_error(400, "Invalid JSON payload received.",
                                                  "invalidArgument",
                                                  "INVALID_ARGUMENT"))) from exc
        if not ids:
            raise _Refused(_json(400, gmail_error(400, "ids must be specified",
                                                  "invalidArgument", "INVALID_ARGUMENT")))
        if len(ids) > 1000:
            raise _Refused(_json(400, gmail_error(400, "Number of ids cannot exceed 1000",
                                                  "invalidArgument")))
        return request, ids

    def _batch_modify(self, query: Mapping[str, list[str]], body: bytes) -> Response:
        request, ids = self._ids_body(body)
        add = [str(x) for x in request.get("addLabelIds") or []]
        remove = [str(x) for x in request.get("removeLabelIds") or []]
        for label in add + remove:
            if (label not in SYSTEM_LABELS and label not in self.user_labels) or (label in (
                    "SENT", "DRAFT") and label in add):
                return _json(400, gmail_error(400, f"Invalid label: {label}",
                                              "invalidArgument", "INVALID_ARGUMENT"))
        with self._lock:
            # Ids that resolve to no message are ignored: the call still answers 204.
            for message_id in ids:
                stored = self.messages.get(message_id)
                if stored is not None:
                    self._modify(stored, add, remove)
        return 204, {}, b""

    def _batch_delete(self, query: Mapping[str, list[str]], body: bytes) -> Response:
        _, ids = self._ids_body(body)
        for message_id in ids:
            self._delete_stored(message_id)
        return 204, {}, b""

    def _trash(self, query: Mapping[str, list[str]], body: bytes, message_id: str) -> Response:
        if not re.fullmatch(r"[0-9a-f]{1,32}", message_id):
            return _json(400, gmail_error(400, "Invalid id value", "invalidArgument",
                                          "INVALID_ARGUMENT"))
        stored = self.messages.get(message_id)
        if stored is None:
            return _not_found()
        self._modify(stored, ["TRASH"], [])
        return _json(200, {"id": stored.id, "threadId": stored.thread_id,
                           "labelIds": list(stored.labels)})

    def _modify_one(self, query: Mapping[str, list[str]], body: bytes,
                    message_id: str) -> Response:
        stored = self.messages.get(message_id)
        if stored is None:
            return _not_found()
        request = json.loads(body or b"{}")
        self._modify(stored, [str(x) for x in request.get("addLabelIds") or []],
                     [str(x) for x in request.get("removeLabelIds") or []])
        return _json(200, {"id": stored.id, "threadId": stored.thread_id,
                           "labelIds": list(stored.labels)})

    def _delete(self, query: Mapping[str, list[str]], body: bytes, message_id: str) -> Response:
        if not self._delete_stored(message_id):
            return _not_found()
        return 204, {}, b""

    def _decode_raw(self, body: bytes) -> tuple[dict[str, Any], bytes]:
        try:
            request = json.loads(body or b"{}")
            raw = base64.urlsafe_b64decode(request["raw"] + "=" * (-len(request["raw"]) % 4))
        except (ValueError, KeyError, TypeError) as exc:
            raise _Refused(_json(400, gmail_error(
                400, "'raw' RFC822 payload message string or uploading message via /upload/* "
                     "URL required", "invalidArgument", "INVALID_ARGUMENT"))) from exc
        return request, raw

    def _send(self, query: Mapping[str, list[str]], body: bytes) -> Response:
        request, raw = self._decode_raw(body)
        return self._send_raw(request, raw)

    def _send_raw(self, request: Mapping[str, Any], raw: bytes) -> Response:
        headers = _headers(raw)
        recipients = [a for _, a in getaddresses(
            headers.get_all("To", []) + headers.get_all("Cc", []) + headers.get_all("Bcc", []))
            if a]
        if not recipients:
            return _json(400, gmail_error(400, "Recipient address required", "invalidArgument",
                                          "INVALID_ARGUMENT"))
        thread = request.get("threadId")
        if thread and not any(m.thread_id == thread for m in self.messages.values()):
            return _json(404, gmail_error(404, "Requested entity was not found.", "notFound",
                                          "NOT_FOUND"))
        # Recipients never see Bcc; the sender's own copy keeps it (as Gmail does).
        self.outbox.append(Outgoing(_without_bcc(raw), recipients))
        message_id = self._store(raw, ["SENT"], self._now_ms(), thread)
        return _json(200, {"id": message_id, "threadId": self.messages[message_id].thread_id,
                           "labelIds": ["SENT"]})

    def _insert(self, query: Mapping[str, list[str]], body: bytes) -> Response:
        request, raw = self._decode_raw(body)
        return self._insert_raw(query, request, raw)

    def _insert_raw(self, query: Mapping[str, list[str]], request: Mapping[str, Any],
                    raw: bytes) -> Response:
        when = self._now_ms()
        if query.get("internalDateSource", ["receivedTime"])[0] == "dateHeader":
            with contextlib.suppress(TypeError, ValueError):
                when = int(parsedate_to_datetime(str(_headers(raw)["Date"])).timestamp() * 1000)
        labels = list(request.get("labelIds") or [])
        unknown = [lb for lb in labels if lb not in SYSTEM_LABELS and lb not in self.user_labels]
        if unknown:
            return _json(400, gmail_error(400, f"Invalid label: {unknown[0]}", "invalidArgument",
                                          "INVALID_ARGUMENT"))
        message_id = self._store(raw, labels, when, request.get("threadId"))
        return _json(200, {"id": message_id, "threadId": self.messages[message_id].thread_id,
                           "labelIds": labels})

    _import = _insert


def _headers(raw: bytes) -> email.message.Message:
    return _HEADERS_ONLY.parsebytes(raw)


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n[ \t]+", " ", value)


def _without_bcc(raw: bytes) -> bytes:
    head, sep, rest = raw.partition(b"\r\n\r\n")
    lines = re.split(rb"\r\n(?![ \t])", head)
    kept = [ln for ln in lines if not ln.lower().startswith(b"bcc:")]
    return b"\r\n".join(kept) + sep + rest


_HISTORY_TYPES = {"messageAdded": "messagesAdded", "messageDeleted": "messagesDeleted",
                  "labelAdded": "labelsAdded", "labelRemoved": "labelsRemoved"}


def _not_found() -> Response:
    return _json(404, gmail_error(404, "Requested entity was not found.", "notFound",
                                  "NOT_FOUND"))


_REASONS = {200: "OK", 204: "No Content", 308: "Resume Incomplete", 400: "Bad Request",
            401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error",
            503: "Service Unavailable"}


def _json(status: int, data: Any, headers: Mapping[str, str] | None = None) -> Response:
    return status, {"Content-Type": "application/json; charset=UTF-8", **(headers or {})}, \
        json.dumps(data).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body waits for the
    # client's delayed ACK (~40 ms a response), which no real server would add.
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        emulator: GmailEmulator = self.server.emulator  # type: ignore[attr-defined]
        status, headers, payload = emulator.handle(self.command, self.path, dict(self.headers),
                                                   body)
        if status == 0:
            # A dropped connection: the request was read, no answer is written.
            self.close_connection = True
            return
        self.send_response(status, _REASONS.get(status))
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass

