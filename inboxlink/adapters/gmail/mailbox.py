"""The Gmail adapter: google-api-python-client over the Gmail API v1.

Round trips are what cost: a listing page is one ``messages.list`` plus one batch request
per ``batch_size`` summaries (``messages.get(format=metadata)`` with only the summary
headers); fetching is one batch per ``batch_size`` messages (``format=raw``). Every call is
paced by a token bucket under the per-user quota, and every public path passes one
`translating` boundary.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from inboxlink import errors, mime
from inboxlink.adapters.gmail import convert, service, transport
from inboxlink.adapters.gmail.actions import GmailActions
from inboxlink.adapters.gmail.attachments import GmailAttachments
from inboxlink.adapters.gmail.errors import TABLE, extract
from inboxlink.adapters.gmail.quota import COST, TokenBucket, shared_pacer
from inboxlink.adapters.gmail.settings import GmailSettings
from inboxlink.adapters.gmail.sync import GmailSync
from inboxlink.mailbox import BaseMailbox
from inboxlink.models import (
    Capability,
    Folder,
    Message,
    MessageSummary,
    Page,
    SendResult,
    SentCopy,
)
from inboxlink.retry import bounded, is_retryable, spend_retry, waits_disabled
from inboxlink.spool import Spool
from inboxlink.translate import translating

__all__ = ["GmailMailbox"]

log = logging.getLogger("inboxlink.gmail")

_CURSOR_PREFIX = "gmail1"
#: messages.list refuses more than this per page
_LIST_MAX = 500


class GmailMailbox(GmailSync, GmailActions, GmailAttachments, BaseMailbox):
    """A Gmail mailbox through the Gmail API.

    Build it with ``inboxlink.connect("gmail://alice@gmail.com", credentials=creds)`` or
    directly: ``GmailMailbox(GmailSettings(address=..., credentials=...))``.

    The change feed lives in `.sync` (``users.history.list``), actions and search in
    `.actions` (``batchModify``, ``q=``, ``threads.get``).
    """

    provider = "gmail"
    capabilities = frozenset({Capability.SEND, Capability.APPEND_TO_SENT,
                              Capability.STREAM_TO_FILE, Capability.PROVIDER_SAVES_SENT,
                              Capability.SYNC, Capability.ACTIONS, Capability.SEARCH})
    max_page_size = _LIST_MAX

    def __init__(self, settings: GmailSettings) -> None:
        super().__init__(address=settings.address, sent_folder=settings.sent_folder,
                         role_overrides=settings.role_overrides,
                         retry=bounded(settings.retry, settings.timeout))
        self.settings = settings
        self._lock = threading.RLock()
        self._http: Any = None
        self._send_http: Any = None
        self._service: Any = None
        self._closed = False
        self.bucket: TokenBucket | None = (
            TokenBucket.per_minute(settings.quota_units_per_minute)
            if settings.quota_units_per_minute and settings.budget is None else None
        )
        self._shared = (shared_pacer(settings.budget, settings.subject or settings.address,
                                     settings.quota_units_per_minute, settings.timeout)
                        if settings.quota_units_per_minute and settings.budget else None)
        #: quota units spent by this mailbox (whether paced or not)
        self.units_spent = 0
        #: HTTP requests made (a batch counts once)
        self.requests_made = 0
        with translating(TABLE, extract, "connect"):
            self._connect()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_url(cls, url: str, /, **options: Any) -> GmailMailbox:
        """``gmail://alice@gmail.com`` plus `GmailSettings` fields as keywords."""
        parts = urlsplit(url)
        if parts.scheme.lower() != "gmail":
            raise errors.UnsupportedProtocol(f"Not a gmail:// URL: {parts.scheme}://",
                                             provider=cls.provider)
        user = unquote(parts.username or "")
        address = f"{user}@{parts.hostname}" if user and parts.hostname else (
            unquote(parts.netloc) or unquote(parts.path.lstrip("/")))
        if "@" not in address:
            raise errors.ConfigurationError(
                f"{url!r} names no mailbox address.", provider=cls.provider,
                remedy="Use gmail://alice@gmail.com (the account's address).",
            )
        options.setdefault("address", address)
        try:
            settings = GmailSettings(**options)
        except (TypeError, ValueError) as exc:
            raise errors.ConfigurationError(str(exc), provider=cls.provider,
                                            remedy="Check the keyword options.") from exc
        return cls(settings)

    def _connect(self) -> None:
        self._http = service.authorized_http(self.settings)
        self._send_http = service.single_shot_http(self.settings, self._http)
        self._service = service.build_service(self.settings, self._http)

    def close(self) -> None:
        """Close the HTTP connections for good (using the mailbox afterwards raises
        ``MailboxClosed``). Safe to call twice."""
        with self._lock:
            self._closed = True
            http = getattr(self._http, "http", None)
            for conn in list(getattr(http, "connections", {}).values()):
                conn.close()

    # ------------------------------------------------------------------ plumbing
    @property
    def _messages(self) -> Any:
        return self._service.users().messages()

    def _pace(self, units: int) -> None:
        self.units_spent += units
        if self._shared is not None:
            self._shared(units)
        elif self.bucket is not None:
            self.bucket.take(units)

    def _execute(self, request: Any, method: str, *, once: bool = False,
                 json: bool = True) -> Any:
        """Run one request (``once``: through the single-shot HTTP, never repeated below us).

        A transport failure drops the pooled connections (a half-read answer must not be
        read by the next request); a 2xx whose body is not a JSON object is refused here.
        """
        with self._lock:
            self._pace(COST[method])
            self.requests_made += 1
            try:
                result = request.execute(http=self._send_http if once else None, num_retries=0)
            except Exception as exc:
                if transport.is_transport_failure(exc):
                    transport.drop_connections(self._http)
                raise
        return transport.json_object(result, method) if json else result

    @contextmanager
    def _boundary(self, operation: str) -> Iterator[None]:
        if self._closed:
            raise errors.MailboxClosed(provider="gmail")
        with translating(TABLE, extract, operation):
            yield

    def _batch(self, operation: str, build: Callable[[str], Any], method: str,
               ids: list[str], missing: list[str] | None = None) -> dict[str, Any]:
        """Run ``build(id)`` for every id in batches of ``batch_size``.

        Calls that failed with a retryable error (throttled, 5xx) are repeated alone —
        never the whole batch — within the public call's one retry budget (shared with the
        policy around it) and total time; any
        other failure is raised as the client raised it, for the boundary to translate.
        With ``missing`` given, ids the provider does not know are put there instead.
        """
        results: dict[str, Any] = {}
        pending = list(dict.fromkeys(ids))
        policy = self._retry
        started = time.monotonic()
        attempt = 0
        while pending:
            attempt += 1
            failed: dict[str, Exception] = {}
            for start in range(0, len(pending), self.settings.batch_size):
                chunk = pending[start:start + self.settings.batch_size]
                self._run_batch(build, method, chunk, results, failed)
            if not failed:
                break
            translated = {k: _typed(operation, v) for k, v in failed.items()}
            if missing is not None:
                gone = [k for k in pending if isinstance(translated.get(k),
                                                         errors.MessageNotFound)]
                missing.extend(gone)
                for k in gone:
                    del failed[k], translated[k]
                if not failed:
                    break
            hard = [k for k in pending if k in failed and not is_retryable(translated[k])]
            waits = [getattr(e, "retry_after", None) or 0.0 for e in translated.values()]
            wait = max(min(policy.initial * 2 ** (attempt - 1), policy.max_wait), *waits)
            out_of_time = time.monotonic() - started + wait > policy.max_total
            # spend_retry: the re-send draws on the public call's one retry budget.
            if hard or attempt >= policy.max_attempts or out_of_time or not spend_retry(wait):
                raise failed[hard[0] if hard else next(iter(failed))]
            log.info("gmail: %d of %d calls throttled, retrying in %.1fs",
                     len(failed), len(pending), wait)
            if not waits_disabled():
                (policy.sleep or time.sleep)(wait)
            pending = [k for k in pending if k in failed]
        return results

    def _run_batch(self, build: Callable[[str], Any], method: str, chunk: list[str],
                   results: dict[str, Any], failed: dict[str, Exception]) -> None:
        def collect(request_id: str, response: Any, exception: Exception | None) -> None:
            if exception is None and not isinstance(response, dict):
                # A part answered 200 with a body that is not JSON: retried like a 5xx.
                exception = transport.MalformedAnswer(f"Gmail answered {method} with a "
                                                      f"{type(response).__name__}.")
            if exception is not None:
                failed[request_id] = exception
            else:
                results[request_id] = response

        batch = service.new_batch(self.settings, collect)
        for message_id in chunk:
            batch.add(build(message_id), request_id=message_id)
        with self._lock:
            self._pace(COST[method] * len(chunk))
            self.requests_made += 1
            try:
                batch.execute()
            except Exception as exc:
                if transport.is_transport_failure(exc):
                    transport.drop_connections(self._http)
                raise

    # ------------------------------------------------------------------ folders
    def _list_folders(self) -> list[Folder]:
        with self._boundary("folders"):
            request = self._service.users().labels().list(userId=self.settings.user_id)
            response = self._execute(request, "labels.list")
            return convert.folders_from_labels(response.get("labels") or ())

    # ------------------------------------------------------------------ listing
    def _decode_cursor(self, folder: Folder, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        prefix, _, rest = cursor.partition(":")
        label, _, token = rest.partition(":")
        if prefix != _CURSOR_PREFIX or not token:
            raise errors.CursorExpired(
                "This is not a cursor from the Gmail adapter.", provider=self.provider,
                code="bad-cursor",
                remedy="Pass page.next_cursor from an earlier list_messages() call unchanged.",
            )
        if label != folder.id:
            raise errors.CursorExpired(
                f"The cursor belongs to another folder ({label!r}).", provider=self.provider,
                code="wrong-folder",
                remedy="Use a cursor with the folder it was returned for.",
            )
        return token

    def _list_page(self, folder: Folder, limit: int, cursor: str | None) -> Page[MessageSummary]:
        token = self._decode_cursor(folder, cursor)
        with self._boundary("list"):
            request = self._messages.list(
                userId=self.settings.user_id, pageToken=token, maxResults=min(limit, _LIST_MAX),
                **convert.list_scope(folder.id),
            )
            listing = self._execute(request, "messages.list")
            ids = [str(m["id"]) for m in listing.get("messages") or ()]
            found = self._batch("list", self._metadata_request, "messages.get", ids)
            items = [convert.summary_from_metadata(found[i], folder.id) for i in ids]
        next_token = listing.get("nextPageToken")
        next_cursor = f"{_CURSOR_PREFIX}:{folder.id}:{next_token}" if next_token else None
        return Page(items=items, next_cursor=next_cursor)

    def _metadata_request(self, message_id: str) -> Any:
        return self._messages.get(userId=self.settings.user_id, id=message_id,
                                  format="metadata",
                                  metadataHeaders=list(convert.METADATA_HEADERS))

    def _raw_request(self, message_id: str) -> Any:
        return self._messages.get(userId=self.settings.user_id, id=message_id, format="raw")

    # ------------------------------------------------------------------ fetching
    def _fetch_many(self, message_ids: list[str]) -> list[Message]:
        with self._boundary("fetch"):
            found = self._batch("fetch", self._raw_request, "messages.get", message_ids)
            messages = {}
            for message_id, resource in found.items():
                labels = resource.get("labelIds") or ()
                messages[message_id] = Message(
                    id=message_id, folder_id=convert.folder_for(labels),
                    raw=convert.b64decode(resource.get("raw") or ""),
                    flags=convert.flags_for(labels), thread_id=resource.get("threadId"),
                )
        return [messages[i] for i in message_ids]

    def fetch_to_file(self, message_id: str, target: str | os.PathLike[str] | IO[bytes]) -> int:
        """Write the raw message to ``target`` without holding the decoded message whole.

        Gmail hands a message over only as one base64url string inside JSON (there is no
        media download for messages), so the encoded response — about 4/3 of the message
        size — is held once in memory. It is decoded straight into the file in 192 KiB
        pieces; no decoded copy, parsed JSON or parsed MIME of it is ever made.
        """
        body = self._retry.call(self._raw_body, message_id)
        if isinstance(target, (str, os.PathLike)):
            with open(target, "wb") as fh:
                return convert.write_raw_field(body, fh)
        return convert.write_raw_field(body, target)

    def _raw_body(self, message_id: str) -> bytes:
        with self._boundary("fetch"):
            request = self._messages.get(userId=self.settings.user_id, id=message_id,
                                         format="raw", fields="raw")
            # Keep the JSON bytes: parsing them would make a second full copy.
            request.postproc = lambda resp, content: content
            body = self._execute(request, "messages.get", json=False)
            if not isinstance(body, bytes):
                raise transport.MalformedAnswer("Gmail answered messages.get without a body.")
            return body

    # ------------------------------------------------------------------ sending
    def _thread_of(self, message_id: str) -> str | None:
        """The Gmail thread holding ``message_id`` (so a reply joins it), if we can see it."""
        try:
            with self._boundary("fetch"):
                request = self._messages.list(userId=self.settings.user_id, maxResults=1,
                                              q=f"rfc822msgid:{message_id.strip('<>')}",
                                              includeSpamTrash=True)
                found = self._execute(request, "messages.list").get("messages") or ()
        except errors.InboxLinkError as exc:
            # A send-only token cannot search; the reply is still threaded by its headers.
            log.info("gmail: thread of %s not found (%s); sending without threadId",
                     message_id, exc.message)
            return None
        return str(found[0]["threadId"]) if found else None

    def _send(self, prepared: mime.PreparedMessage, save_copy: bool) -> SendResult:
        # Gmail takes the recipients from the headers, Bcc included (it removes Bcc from
        # what the recipients get); there is no separate envelope.
        raw = prepared.raw
        if prepared.bcc:
            bcc = ", ".join(a.email for a in prepared.bcc)
            raw = f"Bcc: {bcc}\r\n".encode() + raw
        body: dict[str, Any] = {"raw": convert.b64encode(raw)}
        if prepared.in_reply_to:
            thread = self._thread_of(prepared.in_reply_to)
            if thread:
                body["threadId"] = thread
        with self._boundary("send"):
            request = self._messages.send(userId=self.settings.user_id, body=body)
            try:
                sent = self._execute(request, "messages.send", once=True)
            except (transport.AnswerLost, transport.MalformedAnswer) as exc:
                # The whole request left: Gmail may have sent it. Never retryable.
                raise errors.SendOutcomeUnknown(
                    f"Gmail received the message but its answer was lost ({exc}).",
                    raw=prepared.raw, message_id=prepared.message_id, provider=self.provider,
                    code="answerLost" if isinstance(exc, transport.AnswerLost)
                    else "malformedResponse",
                ) from exc
        if not save_copy:
            log.info("gmail: save_copy=False is not possible: Gmail files every sent message")
        return SendResult(
            message_id=prepared.message_id, raw=prepared.raw,
            sent_copy=SentCopy.SAVED_BY_PROVIDER, sent_folder_id="SENT",
            provider_id=sent.get("id"), thread_id=sent.get("threadId"),
        )

    def _append(self, spool: Spool, folder: Folder) -> str | None:
        raw = spool.read()  # TODO(issue 15): stream large copies
        with self._boundary("append"):
            request = self._messages.insert(
                userId=self.settings.user_id, internalDateSource="dateHeader",
                body={"raw": convert.b64encode(raw), "labelIds": [folder.id]},
            )
            # Once only: a repeated insert would store a second Sent copy.
            inserted = self._execute(request, "messages.insert", once=True)
            return str(inserted["id"]) if inserted.get("id") else None

    def __repr__(self) -> str:
        return f"<GmailMailbox {self.address} via {self.settings.api_endpoint}>"


def _typed(operation: str, exc: Exception) -> BaseException:
    """The typed error ``exc`` becomes (or ``exc`` itself if it is not a client error)."""
    result = extract(exc, operation)
    if isinstance(result, errors.InboxLinkError):
        return result
    return TABLE.error_for(result) if result is not None else exc


def quota_report(mailbox: GmailMailbox) -> Mapping[str, float]:
    """Requests, quota units and pacing wait so far (for benchmarks and diagnostics)."""
    return {"requests": mailbox.requests_made, "units": mailbox.units_spent,
            "paced_seconds": mailbox.bucket.waited if mailbox.bucket else 0.0}
