"""A local Microsoft Graph emulator: a real HTTP server on 127.0.0.1 for the mail endpoints.

Bodies follow Graph's documentation (mailFolder, message, @odata.nextLink paging, JSON
$batch with base64 non-JSON bodies, MIME sendMail, error envelopes). It is the peer the
real msgraph-sdk talks to in tests; nothing inside the SDK is patched.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import itertools
import json
import re
import threading
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import attrs
from _emulator_mime import AttachmentCache, attachment_leaves

from . import emulator_attachments, emulator_uploads
from .odata import FilterError, parse_filter, parse_search

WELL_KNOWN = {"inbox": "Inbox", "sentitems": "Sent Items", "drafts": "Drafts",
              "deleteditems": "Deleted Items", "junkemail": "Junk Email", "archive": "Archive"}
FULL_SCOPES = "Mail.ReadWrite Mail.Send openid email offline_access profile"


def make_token(scp: str | None = FULL_SCOPES, *, roles: list[str] | None = None,
               **claims: Any) -> str:
    """An unsigned JWT shaped like an Entra access token (the emulator reads its claims)."""
    payload: dict[str, Any] = {"aud": "https://graph.microsoft.com", "tid": "contoso-tenant-id",
                               "appid": "11111111-2222-3333-4444-555555555555", **claims}
    if scp is not None:
        payload["scp"] = scp
    if roles is not None:
        payload["roles"] = roles

    def enc(obj: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{enc({'typ': 'JWT', 'alg': 'none'})}.{enc(payload)}.c2lnbmF0dXJl"


def _claims(token: str) -> dict[str, Any]:
    try:
        part = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError):
        return {}


def _err(status: int, code: str, message: str, headers: dict[str, str] | None = None
         ) -> tuple[int, dict[str, str], Any]:
    body = {"error": {"code": code, "message": message, "innerError": {
        "date": "2026-11-25T02:00:00", "request-id": "0b1c2d3e-0000-4000-8000-000000000001",
        "client-request-id": "0b1c2d3e-0000-4000-8000-000000000002"}}}
    return status, {"Content-Type": "application/json", **(headers or {})}, body


@attrs.define
class Failure:
    """An injected error: answers matching requests ``times`` times."""

    status: int
    body: Any
    headers: dict[str, str]
    path: str | None
    method: str | None
    times: int


@attrs.define
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    in_batch: bool = False


class GraphEmulator:
    """State plus the HTTP server. ``base_url`` is what the adapter is pointed at."""

    def __init__(self, address: str = "alice@contoso.com", token: str | None = None) -> None:
        self.address = address
        self.token = token or make_token()
        self.lock = threading.RLock()
        self.requests: list[Recorded] = []
        self.outbox: list[bytes] = []
        self.envelopes: list[list[str]] = []
        self.failures: list[Failure] = []
        self.stall: tuple[str, float] | None = None  #: (path regex, seconds) to answer late
        self.delay = 0.0  #: seconds every outer HTTP request is held before it is answered
        self.in_flight: dict[str, int] = {}  #: outer requests being answered, per mailbox
        self.peak: dict[str, int] = {}  #: the most ever in flight at once, per mailbox
        #: the rendezvous of `hold_together` and the seats left in it
        self._meeting: threading.Barrier | None = None
        self._seats = 0
        self.met = False  #: whether the `hold_together` requests were in flight at once
        self.user: dict[str, Any] = {"mail": address, "assignedPlans": [
            {"service": "exchange", "capabilityStatus": "Enabled",
             "servicePlanId": "efb87545-963c-4e0d-99df-69c6916d9eb0"}]}
        self._ids = itertools.count(1)
        # Received times start now (searches by date are relative to today) and tick one
        # second per stored message, so every message has its own createdDateTime.
        self._clock = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        self.seq = 0  #: the mailbox's change counter
        #: per folder: (seq, message id, removed?) for every change, oldest first
        self.changelog: dict[str, list[tuple[int, str, bool]]] = {}
        #: $deltatoken / $skiptoken → the sync state Exchange keeps for it
        self.sync_states: dict[str, dict[str, Any]] = {}
        #: subscription id → the subscription (change notifications)
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []  #: every notification POSTed
        self.folders: dict[str, dict[str, Any]] = {}
        self.wellknown: dict[str, str] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.attachments = AttachmentCache()
        self.uploads = emulator_uploads.UploadSessions(self._attach_file)
        #: Graph's limit on one request's body; larger files take an upload session
        self.max_request = 4 * 1024 * 1024
        self._prefix = "/me"
        self.root = self._new_id("AQMkADAwATM0MDAAMS1")
        for name, display in WELL_KNOWN.items():
            fid = self.add_folder(display)
            self.wellknown[name] = fid
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.emulator = self  # type: ignore[attr-defined]
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1.0"
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.02}, daemon=True)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> GraphEmulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------ test helpers
    def _new_id(self, prefix: str = "AAMkAGI2TG93AAA") -> str:
        return f"{prefix}{next(self._ids):06d}AAA="

    def add_folder(self, name: str, parent: str | None = None) -> str:
        fid = self._new_id("AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OAAuAAA")
        self.folders[fid] = {"id": fid, "displayName": name, "parentFolderId": parent or self.root}
        return fid

    def folder_id(self, name_or_wellknown: str) -> str:
        if name_or_wellknown.lower() in self.wellknown:
            return self.wellknown[name_or_wellknown.lower()]
        if name_or_wellknown in self.folders:
            return name_or_wellknown
        return next(f for f, v in self.folders.items() if v["displayName"] == name_or_wellknown)

    def deliver(self, raw: bytes, folder: str = "inbox", *, is_read: bool = False) -> str:
        """Store a message as Exchange would after delivery; returns its id."""
        with self.lock:
            return self._store(raw, self.folder_id(folder), is_read=is_read, is_draft=False)

    def fail(self, status: int, code: str | None = None, message: str = "", *,
             path: str | None = None, method: str | None = None, times: int = 1,
             headers: dict[str, str] | None = None, raw_body: bytes | None = None) -> None:
        """Answer the next ``times`` matching requests (``path`` is a regex) with an error."""
        if raw_body is not None:
            hdrs, body = {"Content-Type": "text/html", **(headers or {})}, raw_body
        else:
            _, hdrs, body = _err(status, code or "UnknownError", message, headers)
        self.failures.append(Failure(status, body, hdrs, path, method, times))

    def count(self, method: str | None = None, path: str | None = None, *,
              in_batch: bool = False) -> int:
        """Requests received (outer ones, or items inside $batch with ``in_batch``)."""
        return sum(1 for r in self.requests
                   if r.in_batch == in_batch and (method is None or r.method == method)
                   and (path is None or re.search(path, r.path)))

    def mailbox_of(self, raw_path: str, body: bytes) -> str:
        """Which mailbox an outer request is for (a ``$batch`` is for its items' mailbox)."""
        path = unquote(urlsplit(raw_path).path)
        if path.endswith("/$batch"):
            try:
                path = "/v1.0" + json.loads(body)["requests"][0]["url"]
            except (ValueError, LookupError, TypeError):
                return "?"
        match = re.match(r"^/v1\.0/(me|users/([^/?]+))", path)
        if not match:
            return "?"
        return (match.group(2) or self.address).lower()

    def enter(self, mailbox: str) -> None:
        with self.lock:
            self.in_flight[mailbox] = self.in_flight.get(mailbox, 0) + 1
            self.peak[mailbox] = max(self.peak.get(mailbox, 0), self.in_flight[mailbox])

    def hold_together(self, count: int, timeout: float = 10.0) -> None:
        """Hold the next ``count`` outer requests until all of them are in flight at once
        (each waits at most ``timeout`` s); `met` then tells whether they were. Proves
        requests ran side by side without timing them."""
        with self.lock:
            self._meeting = threading.Barrier(count, timeout=timeout)
            self._seats = count
            self.met = False

    def _meet(self) -> None:
        with self.lock:
            meeting = self._meeting
            if meeting is None or not self._seats:
                return
            self._seats -= 1
        try:
            meeting.wait()
        except threading.BrokenBarrierError:
            return  # the others never came while this one waited: `met` stays False
        with self.lock:
            self.met = True

    def leave(self, mailbox: str) -> None:
        with self.lock:
            self.in_flight[mailbox] -= 1

    def messages_in(self, folder: str) -> list[dict[str, Any]]:
        fid = self.folder_id(folder)
        return [m for m in self.messages.values() if m["folder"] == fid]

    # ------------------------------------------------------------------ storage
    def _store(self, raw: bytes, folder_id: str, *, is_read: bool, is_draft: bool) -> str:
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        mid = self._new_id()
        self._clock += dt.timedelta(seconds=1)
        date = parsedate_to_datetime(str(parsed["Date"])) if parsed["Date"] else self._clock

        def addrs(name: str) -> list[dict[str, Any]]:
            out = []
            for display, email in getaddresses([str(v) for v in parsed.get_all(name, [])]):
                if email:
                    out.append({"emailAddress": {"name": display or email, "address": email}})
            return out

        props = [{"id": "Integer 0x0E08", "value": str(len(raw))}]
        if parsed["In-Reply-To"]:
            props.append({"id": "String 0x1042", "value": str(parsed["In-Reply-To"]).strip()})
        if parsed["References"]:
            props.append({"id": "String 0x1039", "value": str(parsed["References"]).strip()})
        sender = addrs("From")
        body_part = parsed.get_body(preferencelist=("plain", "html"))
        body_text = body_part.get_content() if body_part is not None else ""
        attachments = [p for p in parsed.iter_attachments()
                       if p.get_content_disposition() == "attachment"]
        self.messages[mid] = {
            "folder": folder_id, "mime": raw, "received": self._clock, "body": body_text,
            "json": {
                "id": mid, "subject": str(parsed["Subject"] or ""),
                "from": sender[0] if sender else None, "sender": sender[0] if sender else None,
                "toRecipients": addrs("To"), "ccRecipients": addrs("Cc"),
                "bccRecipients": addrs("Bcc"),
                "sentDateTime": _iso(date), "receivedDateTime": _iso(self._clock),
                "internetMessageId": str(parsed["Message-ID"] or "").strip() or None,
                "isRead": is_read, "isDraft": is_draft,
                "flag": {"flagStatus": "notFlagged"},
                "conversationId": _conversation_id(parsed),
                "createdDateTime": _iso(self._clock),
                "lastModifiedDateTime": _iso(self._clock),
                "hasAttachments": bool(attachments),
                "parentFolderId": folder_id,
                "singleValueExtendedProperties": props,
            },
        }
        self._changed(folder_id, mid, created=True)
        return mid

    # ------------------------------------------------------------------ change log
    def _changed(self, folder_id: str, mid: str, *, removed: bool = False,
                 created: bool = False) -> None:
        self.seq += 1
        self.changelog.setdefault(folder_id, []).append((self.seq, mid, removed))
        if not removed:
            self.messages[mid]["json"]["lastModifiedDateTime"] = _iso(
                dt.datetime.now(dt.timezone.utc))
        kind = "deleted" if removed else "created" if created else "updated"
        for sub in list(self.subscriptions.values()):
            if sub["folder"] == folder_id and kind in sub["changeType"].split(","):
                self._post(sub["notificationUrl"], {"value": [{
                    "subscriptionId": sub["id"], "clientState": sub.get("clientState"),
                    "changeType": kind, "tenantId": "contoso-tenant-id",
                    "subscriptionExpirationDateTime": sub["expirationDateTime"],
                    "resource": f"Users/user-object-id/Messages/{mid}",
                    "resourceData": {"@odata.type": "#Microsoft.Graph.Message",
                                     "@odata.id": f"Users/user-object-id/Messages/{mid}",
                                     "id": mid}}]})

    def _post(self, url: str, payload: dict[str, Any]) -> None:
        """POST a notification from a thread of its own, as Graph's delivery service does."""
        import urllib.request

        self.notifications.append(payload)

        def send() -> None:
            request = urllib.request.Request(url, data=json.dumps(payload).encode(),
                                             headers={"Content-Type": "application/json"})
            # Graph retries with back-off and then drops; tests look at the receiver.
            with contextlib.suppress(OSError):
                urllib.request.urlopen(request, timeout=3).read()

        threading.Thread(target=send, daemon=True).start()

    def lifecycle(self, subscription_id: str, event: str) -> None:
        """Send a lifecycle notification (``reauthorizationRequired`` …) for a subscription."""
        with self.lock:
            sub = self.subscriptions[subscription_id]
            self._post(sub.get("lifecycleNotificationUrl") or sub["notificationUrl"],
                       {"value": [{"subscriptionId": sub["id"], "lifecycleEvent": event,
                                   "clientState": sub.get("clientState"),
                                   "subscriptionExpirationDateTime": sub["expirationDateTime"],
                                   "tenantId": "contoso-tenant-id",
                                   "organizationId": "contoso-tenant-id"}]})
            if event == "subscriptionRemoved":
                del self.subscriptions[subscription_id]

    def expire_sync_states(self) -> None:
        """Forget every delta state, as Exchange does when its sync-state cache is full."""
        with self.lock:
            self.sync_states.clear()

    def set_state(self, mid: str, **fields: Any) -> None:
        """Change a message as another client would (``isRead=True``, ``flag=…``)."""
        with self.lock:
            self.messages[mid]["json"].update(fields)
            self._changed(self.messages[mid]["folder"], mid)

    def remove(self, mid: str) -> None:
        """Delete a message for good, as another client would."""
        with self.lock:
            stored = self.messages.pop(mid)
            self._changed(stored["folder"], mid, removed=True)

    def relocate(self, mid: str, folder: str) -> str:
        """Move a message as Exchange does: a new item (new id) in the target folder."""
        with self.lock:
            stored = self.messages.pop(mid)
            self._changed(stored["folder"], mid, removed=True)
            target = self.folder_id(folder)
            self._clock += dt.timedelta(seconds=1)
            new = self._new_id()
            moved = {**stored, "folder": target,
                     "json": {**stored["json"], "id": new, "parentFolderId": target,
                              "createdDateTime": _iso(self._clock)}}
            self.messages[new] = moved
            self._changed(target, new, created=True)
            return new

    def _create_from_json(self, body: dict[str, Any], folder_id: str) -> str:
        props = {p["id"].lower(): p["value"] for p in body.get("singleValueExtendedProperties", [])}
        msg = EmailMessage()

        def fmt(entries: list[dict[str, Any]]) -> str:
            return ", ".join(
                f'{e["emailAddress"].get("name", "")} <{e["emailAddress"]["address"]}>'.strip()
                for e in entries)

        if body.get("from"):
            msg["From"] = fmt([body["from"]])
        for header, key in (("To", "toRecipients"), ("Cc", "ccRecipients"),
                            ("Reply-To", "replyTo")):
            if body.get(key):
                msg[header] = fmt(body[key])
        msg["Subject"] = body.get("subject", "")
        submit = props.get("systemtime 0x0039")
        when = (dt.datetime.fromisoformat(submit.replace("Z", "+00:00")) if submit
                else self._clock)
        msg["Date"] = format_datetime(when)
        if body.get("internetMessageId"):
            msg["Message-ID"] = body["internetMessageId"]
        if props.get("string 0x1042"):
            msg["In-Reply-To"] = props["string 0x1042"]
        if props.get("string 0x1039"):
            msg["References"] = props["string 0x1039"]
        content = body.get("body", {})
        msg.set_content(content.get("content", ""),
                        subtype="html" if content.get("contentType", "").lower() == "html"
                        else "plain")
        for att in body.get("attachments", []):
            ctype = att.get("contentType", "application/octet-stream").split("/", 1)
            msg.add_attachment(base64.b64decode(att["contentBytes"]), maintype=ctype[0],
                               subtype=ctype[1] if len(ctype) > 1 else "octet-stream",
                               filename=att.get("name"))
        flags = props.get("integer 0x0e07")
        # Exchange: an item created without PR_MESSAGE_FLAGS gets MSGFLAG_UNSENT (a draft).
        is_draft = flags is None or bool(int(flags) & 0x8)
        is_read = bool(body.get("isRead")) or (flags is not None and bool(int(flags) & 0x1))
        mid = self._store(msg.as_bytes(policy=policy.SMTP), folder_id, is_read=is_read,
                          is_draft=is_draft)
        bcc = body.get("bccRecipients") or []
        self.messages[mid]["json"]["bccRecipients"] = bcc
        return mid

    # ------------------------------------------------------------------ dispatch
    def dispatch(self, method: str, raw_path: str, headers: dict[str, str], body: bytes,
                 *, in_batch: bool = False) -> tuple[int, dict[str, str], Any]:
        split = urlsplit(raw_path)
        path = unquote(split.path)
        query = parse_qs(split.query)
        with self.lock:
            self.requests.append(Recorded(method, path, query, dict(headers), in_batch))
            for failure in self.failures:
                if failure.times > 0 and (failure.method in (None, method)) and (
                        failure.path is None or re.search(failure.path, path)):
                    failure.times -= 1
                    return failure.status, dict(failure.headers), failure.body
        if self.stall and re.search(self.stall[0], path):
            time.sleep(self.stall[1])
        if path.startswith("/upload/"):
            with self.lock:
                return self.uploads.route(method, path, headers, body, _err)
        if len(body) > self.max_request:
            return _err(413, "RequestEntityTooLarge",
                        "The request is larger than the maximum allowed size of 4 MB.")
        if not in_batch:
            auth = headers.get("authorization", "")
            if auth != f"Bearer {self.token}":
                return _err(401, "InvalidAuthenticationToken",
                            "Access token is empty." if not auth else
                            "Lifetime validation failed, the token is expired.")
        if path.startswith("/v1.0"):
            path = path[len("/v1.0"):]
        if path == "/$batch" and method == "POST":
            return self._batch(headers, body)
        if path.startswith("/subscriptions"):
            return self._subscription(method, path, body)
        match = re.match(r"^/(me|users/([^/]+))(/.*)?$", path)
        if not match:
            return _err(400, "BadRequest", f"Resource not found for the segment '{path}'.")
        known = (self.address.lower(), "user-object-id")
        if match.group(2) and match.group(2).lower() not in known:
            return _err(404, "ErrorInvalidUser",
                        f"The requested user '{match.group(2)}' is invalid.")
        rest = match.group(3) or ""
        scopes = self._granted(headers.get("authorization", ""))
        if scopes is not None and rest:
            need = "mail.send" if rest == "/sendMail" else "mail.readwrite"
            if need not in scopes and not (need == "mail.readwrite" and method == "GET"
                                           and "mail.read" in scopes):
                return _err(403, "ErrorAccessDenied",
                            "Access is denied. Check credentials and try again.")
        with self.lock:
            self._prefix = "/" + match.group(1)
            return self._route(method, rest, query, headers, body)

    def _granted(self, auth: str) -> set[str] | None:
        claims = _claims(auth.removeprefix("Bearer "))
        if "scp" in claims:
            return {s.lower() for s in claims["scp"].split()}
        if "roles" in claims:
            return {s.lower() for s in claims["roles"]}
        return None

    def _route(self, method: str, rest: str, query: dict[str, list[str]],
               headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], Any]:
        json_hdr = {"Content-Type": "application/json; odata.metadata=minimal"}
        answer = emulator_attachments.route(self.attachments, self.messages, method, rest,
                                            query, _err)
        if answer is not None:
            return answer
        if rest == "" and method == "GET":
            return 200, json_hdr, _select({"id": "user-object-id", **self.user}, query)
        if rest == "/mailFolders" and method == "GET":
            items = [f for f in self.folders.values() if f["parentFolderId"] == self.root]
            return 200, json_hdr, self._paged(rest, query, [self._folder_json(f) for f in items])
        m = re.match(r"^/mailFolders/([^/]+)(/childFolders|/messages|/messages/delta)?$", rest)
        if m:
            fid = self.wellknown.get(m.group(1).lower(), m.group(1))
            if fid not in self.folders:
                return _err(404, "ErrorItemNotFound",
                            "The specified object was not found in the store.")
            if m.group(2) is None and method == "GET":
                return 200, json_hdr, _select(self._folder_json(self.folders[fid]), query)
            if m.group(2) == "/childFolders" and method == "GET":
                items = [f for f in self.folders.values() if f["parentFolderId"] == fid]
                return 200, json_hdr, self._paged(rest, query,
                                                  [self._folder_json(f) for f in items])
            if m.group(2) == "/messages/delta" and method == "GET":
                return self._delta(rest, fid, query, headers)
            if m.group(2) == "/messages" and method == "GET":
                return self._query_messages(
                    rest, query, [x for x in self.messages.values() if x["folder"] == fid])
            if m.group(2) == "/messages" and method == "POST":
                if headers.get("content-type", "").startswith("text/plain"):
                    mid = self._store(base64.b64decode(body), fid, is_read=False, is_draft=True)
                else:
                    mid = self._create_from_json(json.loads(body), fid)
                return 201, json_hdr, self.messages[mid]["json"]
        if rest == "/messages" and method == "GET":
            return self._query_messages(rest, query, list(self.messages.values()))
        if rest == "/messages" and method == "POST":  # a new draft, in Drafts
            return self._route("POST", f"/mailFolders/{self.wellknown['drafts']}/messages",
                               query, headers, body)
        m = re.match(r"^/messages/([^/]+)/(attachments/createUploadSession|attachments|send)$",
                     rest)
        if m and method == "POST":
            if m.group(1) not in self.messages:
                return _err(404, "ErrorItemNotFound",
                            "The specified object was not found in the store.")
            if m.group(2) == "send":
                return self._send_draft(m.group(1))
            if m.group(2) == "attachments":
                return self._add_attachment(m.group(1), body)
            return self.uploads.create(m.group(1), json.loads(body or b"{}"),
                                       headers.get("host", "127.0.0.1"), _err)
        m = re.match(r"^/messages/([^/]+)/(move|permanentDelete)$", rest)
        if m and method == "POST":
            return self._act(m.group(1), m.group(2), headers, body)
        m = re.match(r"^/messages/([^/]+)$", rest)
        if m and method in ("PATCH", "DELETE"):
            return self._act(m.group(1), method, headers, body)
        m = re.match(r"^/messages/([^/]+)(/\$value)?$", rest)
        if m and method == "GET":
            stored = self.messages.get(m.group(1))
            if stored is None:
                return _err(404, "ErrorItemNotFound",
                            "The specified object was not found in the store.")
            if m.group(2):
                return 200, {"Content-Type": "text/plain"}, stored["mime"]
            return 200, json_hdr, _select(stored["json"], query)
        if rest == "/sendMail" and method == "POST":
            return self._send_mail(headers, body)
        return _err(400, "BadRequest", f"Unsupported request {method} {rest}")

    # ------------------------------------------------------------------ subscriptions
    def _subscription(self, method: str, path: str,
                      body: bytes) -> tuple[int, dict[str, str], Any]:
        json_hdr = {"Content-Type": "application/json"}
        sid = path[len("/subscriptions/"):] if path.startswith("/subscriptions/") else ""
        data = json.loads(body) if body else {}
        if method == "POST" and not sid:
            fault = self._subscription_fault(data)
            if fault:
                return _err(400, *fault)
            match = re.match(r"^(?:me|users/[^/]+)/mailFolders\('([^']+)'\)/messages$",
                             data.get("resource", ""))
            if not match:
                return _err(400, "InvalidRequest", "Unsupported resource.")
            fid = self.wellknown.get(match.group(1).lower(), match.group(1))
            if fid not in self.folders:
                return _err(404, "ErrorItemNotFound",
                            "The specified object was not found in the store.")
            # Graph validates the endpoint before answering: POST ?validationToken=…, expect
            # 200 text/plain with the token, within 10 seconds.
            token = f"Validation: Testing client application {next(self._ids)}"
            if not _validated(data["notificationUrl"], token):
                return _err(400, "ValidationError", "Subscription validation request failed. "
                            "Notification endpoint must respond with 200 OK to validation "
                            "request.")
            new = {**data, "id": f"7f105c7d-2dc5-4530-97cd-{next(self._ids):012d}",
                   "folder": fid, "applicationId": "11111111-2222-3333-4444-555555555555",
                   "creatorId": "user-object-id", "latestSupportedTlsVersion": "v1_2"}
            with self.lock:
                self.subscriptions[new["id"]] = new
            return 201, json_hdr, {k: v for k, v in new.items() if k != "folder"}
        sub = self.subscriptions.get(sid)
        if sub is None:
            return _err(404, "ResourceNotFound", "The object was not found.")
        if method == "PATCH":
            fault = self._subscription_fault({**sub, **data})
            if fault:
                return _err(400, *fault)
            sub["expirationDateTime"] = data.get("expirationDateTime", sub["expirationDateTime"])
            return 200, json_hdr, {k: v for k, v in sub.items() if k != "folder"}
        if method == "DELETE":
            with self.lock:
                del self.subscriptions[sid]
            return 204, {}, None
        return _err(405, "MethodNotAllowed", "The method is not allowed.")

    def _subscription_fault(self, data: dict[str, Any]) -> tuple[str, str] | None:
        for key in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
            if not data.get(key):
                return "InvalidRequest", f"Required property '{key}' is missing."
        when = dt.datetime.fromisoformat(data["expirationDateTime"][:19] + "+00:00")
        if when > dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=10_070):
            return ("InvalidRequest", "Subscription expiration can only be 10070 minutes in "
                    "the future.")
        if len(data.get("clientState") or "") > 128:
            return "InvalidRequest", "clientState is limited to 128 characters."
        return None

    # ------------------------------------------------------------------ querying
    def _query_messages(self, rest: str, query: dict[str, list[str]],
                        items: list[dict[str, Any]]) -> tuple[int, dict[str, str], Any]:
        json_hdr = {"Content-Type": "application/json; odata.metadata=minimal"}
        search = query.get("$search", [None])[0]
        flt = query.get("$filter", [None])[0]
        orderby = query.get("$orderby", [None])[0]
        try:
            if search is not None:
                if flt is not None or orderby is not None:
                    # Graph: $search cannot be combined with $filter or $orderby on messages.
                    return _err(400, "ErrorInvalidUrlQuery", "The query parameter '"
                                + ("$filter" if flt is not None else "$orderby")
                                + "' is not supported with '$search'.")
                matches = parse_search(search)
                found = [x for x in items
                         if matches({**x["json"], "_body": x.get("body", "")})]
                # Search results come sorted by sent date, newest first, at most 1,000.
                found.sort(key=lambda x: x["json"]["sentDateTime"], reverse=True)
                found = found[:1000]
            else:
                keep = parse_filter(flt, orderby) if flt else (lambda _m: True)
                found = [x for x in items if keep(x["json"])]
                found.sort(key=lambda x: x["received"], reverse=True)
        except FilterError as exc:
            return _err(400, exc.code, exc.message)
        return 200, json_hdr, self._paged(rest, query, found, default_top=10,
                                          view=lambda x: _message_view(x["json"], query))

    # ------------------------------------------------------------------ delta
    def _delta(self, rest: str, fid: str, query: dict[str, list[str]],
               headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        """messages/delta: a round of pages (``$skiptoken``) ending in a ``$deltatoken``."""
        prefer = re.search(r"odata\.maxpagesize=(\d+)", headers.get("prefer", ""))
        hdrs = {"Content-Type": "application/json; odata.metadata=minimal"}
        page_size = int(prefer.group(1)) if prefer else 10
        if prefer:
            hdrs["Preference-Applied"] = f"odata.maxpagesize={page_size}"
        token = query.get("$deltatoken", query.get("$skiptoken", [None]))[0]
        if token is not None:
            state = self.sync_states.get(token)
            if state is None or state["folder"] != fid:
                return _err(410, "SyncStateNotFound",
                            "The sync state generation is not found. The delta token is "
                            "expired and data must be synchronized again.")
            params = state["params"]
            if "$deltatoken" in query:
                entries = self._entries_since(fid, state["seq"])
                upto = self.seq
            else:
                entries, upto = state["entries"], state["upto"]
        else:
            params = {k: v for k, v in query.items() if k in ("$select", "$expand")}
            entries = [(x["json"]["id"], False) for x in
                       sorted((x for x in self.messages.values() if x["folder"] == fid),
                              key=lambda x: x["received"], reverse=True)]
            upto = self.seq
        page, left = entries[:page_size], entries[page_size:]
        value = []
        for mid, removed in page:
            if removed or mid not in self.messages:
                value.append({"@odata.type": "#microsoft.graph.message", "id": mid,
                              "@removed": {"reason": "deleted"}})
            else:
                value.append(_message_view(self.messages[mid]["json"], params))
        new_token = hashlib.sha256(f"{fid}/{upto}/{len(left)}/{next(self._ids)}".encode()
                                   ).hexdigest()[:40]
        link = f"{self.base_url}{self._prefix}{rest}?"
        out: dict[str, Any] = {"@odata.context": f"{self.base_url}/$metadata#Collection(message)",
                               "value": value}
        if left:
            self.sync_states[new_token] = {"folder": fid, "params": params, "entries": left,
                                           "upto": upto}
            out["@odata.nextLink"] = link + urlencode({"$skiptoken": new_token}, safe="$")
        else:
            self.sync_states[new_token] = {"folder": fid, "params": params, "seq": upto}
            out["@odata.deltaLink"] = link + urlencode({"$deltatoken": new_token}, safe="$")
        return 200, hdrs, out

    def _entries_since(self, fid: str, seq: int) -> list[tuple[str, bool]]:
        last: dict[str, bool] = {}
        for at, mid, removed in self.changelog.get(fid, []):
            if at > seq:
                last.pop(mid, None)  # keep the order of each message's latest change
                last[mid] = removed
        return list(last.items())

    # ------------------------------------------------------------------ actions
    def _act(self, mid: str, action: str, headers: dict[str, str],
             body: bytes) -> tuple[int, dict[str, str], Any]:
        json_hdr = {"Content-Type": "application/json; odata.metadata=minimal"}
        if mid not in self.messages:
            return _err(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        if action == "permanentDelete":
            self.remove(mid)
            return 204, {}, None
        if action == "DELETE":
            self.relocate(mid, "deleteditems")  # Graph's DELETE moves to Deleted Items
            return 204, {}, None
        if not headers.get("content-type", "").startswith("application/json"):
            return _err(415, "UnsupportedMediaType", "A supported MIME type could not be found "
                        "that matches the content type of the response.")
        try:
            data = json.loads(body)
        except ValueError:
            return _err(400, "BadRequest", "Unable to read JSON request payload.")
        if action == "move":
            # Action parameters are matched case-insensitively (msgraph-sdk sends DestinationId).
            target = str(next((v for k, v in data.items() if k.lower() == "destinationid"), ""))
            target = self.wellknown.get(target.lower(), target)
            if target not in self.folders:
                return _err(404, "ErrorItemNotFound",
                            "The specified object was not found in the store.")
            new = self.relocate(mid, target)
            return 201, json_hdr, self.messages[new]["json"]
        data = {k: v for k, v in data.items() if not k.startswith("@")}  # @odata.type etc.
        unknown = set(data) - {"isRead", "flag", "categories", "importance"}
        if unknown:
            return _err(400, "BadRequest", f"Property '{sorted(unknown)[0]}' does not exist "
                        "on type 'microsoft.graph.message'.")
        self.set_state(mid, **data)
        return 200, json_hdr, self.messages[mid]["json"]

    def _send_mail(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], Any]:
        if not headers.get("content-type", "").startswith("text/plain"):
            return _err(400, "ErrorMimeContentInvalid", "Only MIME sendMail is emulated.")
        try:
            raw = base64.b64decode(body, validate=True)
        except ValueError:
            return _err(400, "ErrorMimeContentInvalidBase64String",
                        "Invalid base64 string for MIME content.")
        return self._transmit(raw)

    def _send_draft(self, mid: str) -> tuple[int, dict[str, str], Any]:
        """``POST /messages/{id}/send``: the draft leaves and becomes the Sent Items copy."""
        stored = self.messages[mid]
        if not stored["json"]["isDraft"]:
            return _err(400, "ErrorInvalidOperation", "Only a draft can be sent.")
        answer = self._transmit(stored["mime"])
        if answer[0] == 202:
            self.remove(mid)
        return answer

    def _add_attachment(self, mid: str, body: bytes) -> tuple[int, dict[str, str], Any]:
        """``POST /messages/{id}/attachments`` of a ``fileAttachment`` (files under 3 MB)."""
        data = json.loads(body or b"{}")
        if data.get("@odata.type") != "#microsoft.graph.fileAttachment" or not data.get("name"):
            return _err(400, "ErrorInvalidRequest", "A fileAttachment with a name is required.")
        try:
            content = base64.b64decode(data.get("contentBytes") or "", validate=True)
        except ValueError:
            return _err(400, "ErrorInvalidRequest", "contentBytes is not valid base64.")
        if len(content) > emulator_uploads.MIN_SIZE:
            return _err(413, "ErrorAttachmentSizeShouldNotBeGreaterThanMaximumSize",
                        "Attachments over 3 MB must be added through an upload session.")
        aid = self._attach_file(mid, data, content)
        return 201, {"Content-Type": "application/json"}, {
            "@odata.type": "#microsoft.graph.fileAttachment", "id": aid, "name": data["name"],
            "contentType": data.get("contentType"), "size": len(content),
            "isInline": bool(data.get("isInline"))}

    def _attach_file(self, mid: str, item: dict[str, Any], data: bytes) -> str:
        """Add a finished upload to the item's MIME, as Exchange adds the attachment."""
        stored = self.messages[mid]
        parsed = BytesParser(policy=policy.default).parsebytes(stored["mime"])
        if parsed.get_content_type() != "multipart/mixed":
            parsed.make_mixed()
        maintype, _, subtype = (item.get("contentType") or "application/octet-stream"
                                ).partition("/")
        # Graph's contentId is bare; the MIME header carries it in angle brackets.
        cid = str(item.get("contentId") or "").strip("<>")
        extra = {"cid": f"<{cid}>"} if cid else {}
        parsed.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream",
                              filename=item["name"],
                              disposition="inline" if item.get("isInline") else "attachment",
                              **extra)
        stored["mime"] = parsed.as_bytes(policy=policy.SMTP)
        stored["json"]["hasAttachments"] = True
        for prop in stored["json"]["singleValueExtendedProperties"]:
            if prop["id"] == "Integer 0x0E08":
                prop["value"] = str(len(stored["mime"]))
        index = len(attachment_leaves(stored["mime"])) - 1
        self._changed(stored["folder"], mid)
        return emulator_attachments.attachment_id(mid, index)

    def _transmit(self, raw: bytes) -> tuple[int, dict[str, str], Any]:
        """Deliver ``raw`` to its recipients and file the Sent Items copy, as Exchange does."""
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        recipients = [e for name in ("To", "Cc", "Bcc")
                      for _, e in getaddresses([str(v) for v in parsed.get_all(name, [])]) if e]
        if not recipients:
            return _err(400, "ErrorInvalidRecipients",
                        "At least one recipient isn't valid., A message can't be sent because "
                        "it contains no recipients.")
        # What Exchange transmits and files never carries the Bcc header.
        head, sep, rest = raw.partition(b"\r\n\r\n")
        kept = [line for line in re.split(rb"\r\n(?![ \t])", head)
                if not line.lower().startswith(b"bcc:")]
        delivered = b"\r\n".join(kept) + sep + rest
        self.outbox.append(delivered)
        self.envelopes.append(recipients)
        mid = self._store(delivered, self.wellknown["sentitems"], is_read=True, is_draft=False)
        self.messages[mid]["json"]["bccRecipients"] = [
            {"emailAddress": {"address": e}} for _, e in
            getaddresses([str(v) for v in parsed.get_all("Bcc", [])])]
        return 202, {}, None

    def _batch(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], Any]:
        requests = json.loads(body).get("requests", [])
        if len(requests) > 20:
            return _err(400, "BadRequest", "Unable to parse the batch request. The maximum "
                        "number of requests in a batch is 20.")
        responses = []
        for item in requests:
            item_headers = {k.lower(): v for k, v in (item.get("headers") or {}).items()}
            if "body" in item and "content-type" not in item_headers:
                responses.append({"id": item["id"], "status": 400, "body": _err(
                    400, "BadRequest", f"Write request id : {item['id']} does not contain "
                    "Content-Type header or body.")[2]})
                continue
            status, hdrs, payload = self.dispatch(
                item["method"], "/v1.0" + item["url"], {k.lower(): v for k, v in
                                                        (item.get("headers") or {}).items()},
                json.dumps(item["body"]).encode() if "body" in item else b"", in_batch=True)
            if isinstance(payload, (bytes, bytearray)):
                payload = base64.b64encode(payload).decode()
            responses.append({"id": item["id"], "status": status, "headers": hdrs,
                              "body": payload})
        return 200, {"Content-Type": "application/json"}, {"responses": responses}

    def _folder_json(self, f: dict[str, Any]) -> dict[str, Any]:
        fid = f["id"]
        return {**f, "childFolderCount": sum(1 for x in self.folders.values()
                                             if x["parentFolderId"] == fid),
                "totalItemCount": sum(1 for m in self.messages.values() if m["folder"] == fid),
                "unreadItemCount": sum(1 for m in self.messages.values()
                                       if m["folder"] == fid and not m["json"]["isRead"]),
                "isHidden": False}

    def _paged(self, rest: str, query: dict[str, list[str]], items: list[Any],
               default_top: int = 10, view: Any = None) -> dict[str, Any]:
        top = min(int(query.get("$top", [default_top])[0]), 1000)
        skip = int(query.get("$skip", ["0"])[0])
        page = items[skip:skip + top]
        out: dict[str, Any] = {"@odata.context": f"{self.base_url}/$metadata#mailFolders",
                               "value": [_select(view(i) if view else i, query)
                                         for i in page]}
        if skip + top < len(items):
            params = {k: v[0] for k, v in query.items() if k != "$skip"}
            params["$skip"] = str(skip + top)
            out["@odata.nextLink"] = (f"{self.base_url}{self._prefix}{rest}?"
                                      + urlencode(params, quote_via=quote))
        return out


def _validated(url: str, token: str) -> bool:
    import urllib.request

    request = urllib.request.Request(f"{url}?{urlencode({'validationToken': token})}",
                                     data=b"", headers={"Content-Type": "text/plain"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return bool(response.status == 200 and response.read().decode() == token)
    except OSError:
        return False


def _conversation_id(parsed: EmailMessage) -> str:
    """The conversation a message joins: its thread's root Message-ID (References, then
    In-Reply-To, then its own), never its subject."""
    refs = str(parsed["References"] or "").split()
    root = (refs[0] if refs else str(parsed["In-Reply-To"] or "").strip()
            or str(parsed["Message-ID"] or "").strip() or repr(id(parsed)))
    return "AAQkAGI2TG93AAAQ" + hashlib.sha1(root.encode()).hexdigest()[:24].upper()


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _select(obj: dict[str, Any], query: dict[str, list[str]]) -> dict[str, Any]:
    fields = query.get("$select")
    if not fields:
        return obj
    wanted = set(fields[0].split(",")) | {"id"}
    if query.get("$expand"):
        wanted.add(query["$expand"][0].split("(", 1)[0])
    return {k: v for k, v in obj.items() if k in wanted}


def _message_view(obj: dict[str, Any], query: dict[str, list[str]]) -> dict[str, Any]:
    out = _select(obj, query)
    expand = query.get("$expand", [""])[0]
    out.pop("singleValueExtendedProperties", None)
    if expand.startswith("singleValueExtendedProperties"):
        ids = {i.lower() for i in re.findall(r"id eq '([^']+)'", expand)}
        props = [p for p in obj.get("singleValueExtendedProperties", [])
                 if p["id"].lower() in ids]
        if props:
            out["singleValueExtendedProperties"] = props
    return out


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # header and body go in two writes: no 40 ms stalls

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        emulator: GraphEmulator = self.server.emulator  # type: ignore[attr-defined]
        mailbox = emulator.mailbox_of(self.path, body)
        emulator.enter(mailbox)
        try:
            emulator._meet()
            if emulator.delay:
                time.sleep(emulator.delay)
            status, hdrs, payload = emulator.dispatch(self.command, self.path, headers, body)
        finally:
            # Counted out before the answer is written: once the client has the answer it may
            # send the next request at once, and that must never look like an overlap.
            emulator.leave(mailbox)
        if payload is None:
            data = b""
        elif isinstance(payload, (bytes, bytearray)):
            data = bytes(payload)
        else:
            data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            for key, value in hdrs.items():
                self.send_header(key, value)
            self.send_header("request-id", "0b1c2d3e-0000-4000-8000-000000000001")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout test)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle
