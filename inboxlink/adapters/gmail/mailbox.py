"""The Gmail adapter: google-api-python-client over the Gmail API v1.

Round trips are what cost: a listing page is one ``messages.list`` plus one batch request
per ``batch_size`` summaries (``messages.get(format=metadata)`` with only the summary
headers); fetching is one batch per ``batch_size`` messages (``format=raw``). Every call is
paced under the per-user quota by the connection, and every public path passes one
`translating` boundary. Sending lives in `.send`, the change feed in `.sync`, actions and
search in `.actions`, attachment reads in `.attachments`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any

from inboxlink import errors
from inboxlink.adapters.gmail import convert
from inboxlink.adapters.gmail._quota import TokenBucket
from inboxlink.adapters.gmail.actions import GmailActions
from inboxlink.adapters.gmail.attachments import GmailAttachments
from inboxlink.adapters.gmail.connection import GmailConnection, MalformedAnswer
from inboxlink.adapters.gmail.errors import TABLE, extract
from inboxlink.adapters.gmail.send import GmailSend
from inboxlink.adapters.gmail.settings import GmailSettings
from inboxlink.adapters.gmail.sync import GmailSync
from inboxlink.cursor import CursorCodec
from inboxlink.mailbox import BaseMailbox
from inboxlink.models import Capability, Folder, Message, MessageSummary, Page
from inboxlink.retry import bounded
from inboxlink.translate import translating

__all__ = ["GmailMailbox", "quota_report"]

_LISTING = CursorCodec("gmail")
#: messages.list refuses more than this per page
_LIST_MAX = 500


class GmailMailbox(GmailSend, GmailSync, GmailActions, GmailAttachments, BaseMailbox):
    """A Gmail mailbox through the Gmail API.

    Build it with ``inboxlink.connect("gmail://alice@gmail.com", credentials=creds)`` or
    directly: ``GmailMailbox(GmailSettings(address=..., credentials=...))``.
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
        self._closed = False
        with translating(TABLE, extract, "connect"):
            self._conn = GmailConnection(settings, self._retry)

    @classmethod
    def from_url(cls, url: str, /, **options: Any) -> GmailMailbox:
        """``gmail://alice@gmail.com`` plus `GmailSettings` fields as keywords."""
        return cls(GmailSettings.from_url(url, **options))

    def close(self) -> None:
        """Close the HTTP connections for good (using the mailbox afterwards raises
        ``MailboxClosed``). Safe to call twice."""
        self._closed = True
        self._conn.close()

    # ------------------------------------------------------------------ plumbing
    @property
    def units_spent(self) -> int:
        """Quota units spent by this mailbox (whether paced or not)."""
        return self._conn.units_spent

    @property
    def requests_made(self) -> int:
        """HTTP requests made (a batch counts once)."""
        return self._conn.requests_made

    @property
    def bucket(self) -> TokenBucket | None:
        """The in-process quota bucket (``None`` with a shared budget or no pacing)."""
        return self._conn.bucket

    @bucket.setter
    def bucket(self, bucket: TokenBucket | None) -> None:
        self._conn.bucket = bucket

    @property
    def _service(self) -> Any:
        return self._conn.service

    @property
    def _messages(self) -> Any:
        return self._conn.messages

    def _execute(self, request: Any, method: str, *, once: bool = False,
                 json: bool = True) -> Any:
        return self._conn.execute(request, method, once=once, json=json)

    def _batch(self, operation: str, build: Callable[[str], Any], method: str,
               ids: list[str], missing: list[str] | None = None) -> dict[str, Any]:
        return self._conn.batch(operation, build, method, ids, missing)

    @contextmanager
    def _boundary(self, operation: str) -> Iterator[None]:
        if self._closed:
            raise errors.MailboxClosed(provider="gmail")
        with translating(TABLE, extract, operation):
            yield

    # ------------------------------------------------------------------ folders
    def _list_folders(self) -> list[Folder]:
        with self._boundary("folders"):
            request = self._service.users().labels().list(userId=self.settings.user_id)
            response = self._execute(request, "labels.list")
            return convert.folders_from_labels(response.get("labels") or ())

    # ------------------------------------------------------------------ listing
    def _list_page(self, folder: Folder, limit: int, cursor: str | None) -> Page[MessageSummary]:
        token = str(_LISTING.decode(cursor, folder.id).get("page")) if cursor else None
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
        next_cursor = _LISTING.encode(folder.id, {"page": next_token}) if next_token else None
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
                raise MalformedAnswer("Gmail answered messages.get without a body.")
            return body

    def __repr__(self) -> str:
        return f"<GmailMailbox {self.address} via {self.settings.api_endpoint}>"


def quota_report(mailbox: GmailMailbox) -> Mapping[str, float]:
    """Requests, quota units and pacing wait so far (for benchmarks and diagnostics)."""
    return {"requests": mailbox.requests_made, "units": mailbox.units_spent,
            "paced_seconds": mailbox.bucket.waited if mailbox.bucket else 0.0}
