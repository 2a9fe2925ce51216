"""Sending (``messages.send``) and the Sent copy (``messages.insert``) for `GmailMailbox`.

Gmail files every sent message in SENT itself, so ``append_to_sent`` is only for copies an
application makes on purpose. Both calls go out through the single-shot HTTP: neither
httplib2 nor anything above repeats them, and a send whose answer was lost after the
request left raises ``SendOutcomeUnknown``.

Size decides the way up: up to ``simple_upload_limit`` (5 MB) the message goes as
base64url ``raw`` inside the JSON body (one request); above it as a resumable media upload
(``message/rfc822``) read from the spooled message in ``upload_chunk_size`` pieces, so it is
never held in memory; above ``max_message_size`` (Gmail's 35 MB; 150 MB for an inserted
copy) it is refused with ``MessageTooLarge`` before anything is sent.
"""

from __future__ import annotations

import io
import logging
from contextlib import AbstractContextManager
from typing import IO, TYPE_CHECKING, Any, ClassVar

from inboxlink import errors, mime
from inboxlink.adapters.gmail import _resumable, convert
from inboxlink.adapters.gmail._single_shot import AnswerLost
from inboxlink.adapters.gmail.connection import MalformedAnswer
from inboxlink.adapters.gmail.settings import MAX_INSERT_SIZE
from inboxlink.models import Folder, OutgoingMessage, SendResult, SentCopy
from inboxlink.spool import PrefixedSpool, Spool

if TYPE_CHECKING:
    from inboxlink.adapters.gmail.connection import GmailConnection
    from inboxlink.adapters.gmail.settings import GmailSettings
    from inboxlink.mime import PreparedMessage

__all__ = ["GmailSend"]

log = logging.getLogger("inboxlink.gmail")
#: the media type Gmail's upload endpoints take for a whole message
_RFC822 = "message/rfc822"


class GmailSend:
    """``_send``/``_append`` for `GmailMailbox`."""

    if TYPE_CHECKING:
        settings: GmailSettings
        provider: ClassVar[str]
        _conn: GmailConnection

        @property
        def _messages(self) -> Any: ...
        def _execute(self, request: Any, method: str, *, once: bool = False,
                     json: bool = True) -> Any: ...
        def _boundary(self, operation: str) -> AbstractContextManager[None]: ...

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

    def _send(self, prepared: PreparedMessage, save_copy: bool) -> SendResult:
        wire = prepared.with_bcc_header()
        size = wire.size
        self._refuse_above_limit(size, self.settings.max_message_size)
        metadata: dict[str, Any] = {}
        if prepared.in_reply_to:
            thread = self._thread_of(prepared.in_reply_to)
            if thread:
                metadata["threadId"] = thread
        try:
            sent = self._post(prepared, wire, metadata)
        except errors.MessageTooLarge as exc:
            # Gmail's 413 names its limit only in words: say which one, and the size
            exc.limit = exc.limit or self.settings.max_message_size
            exc.size = exc.size or size
            raise
        if not save_copy:
            log.info("gmail: save_copy=False is not possible: Gmail files every sent message")
        return SendResult(
            message_id=prepared.message_id, raw=prepared.spool,
            sent_copy=SentCopy.SAVED_BY_PROVIDER, sent_folder_id="SENT",
            provider_id=sent.get("id"), thread_id=sent.get("threadId"),
        )

    def _post(self, prepared: PreparedMessage, wire: PrefixedSpool,
              metadata: dict[str, Any]) -> Any:
        """``messages.send`` of ``wire`` (the message with its Bcc header) once: inline up to
        the simple-upload limit, else resumable."""
        size = wire.size
        with self._boundary("send"):
            try:
                if size <= self.settings.simple_upload_limit:
                    raw = convert.b64encode(wire.read())
                    request = self._messages.send(userId=self.settings.user_id,
                                                  body={"raw": raw, **metadata})
                    sent = self._execute(request, "messages.send", once=True)
                else:
                    stream = wire.open()
                    with stream:
                        request = self._messages.send(userId=self.settings.user_id,
                                                      body=metadata or None,
                                                      media_body=self._media(stream))
                        sent = _resumable.upload(self._conn, request, "messages.send", size)
            except (AnswerLost, MalformedAnswer) as exc:
                # The whole message left: Gmail may have sent it. Never retryable.
                raise errors.SendOutcomeUnknown(
                    f"Gmail received the message but its answer was lost ({exc}).",
                    raw=prepared.spool, message_id=prepared.message_id,
                    provider=self.provider,
                    code="answerLost" if isinstance(exc, AnswerLost) else "malformedResponse",
                ) from exc
        return sent

    def _append(self, spool: Spool, folder: Folder) -> str | None:
        self._refuse_above_limit(spool.size, MAX_INSERT_SIZE)
        metadata = {"labelIds": [folder.id]}
        with self._boundary("append"):
            # Once only, never repeated: a repeated insert would store a second Sent copy.
            if spool.size <= self.settings.simple_upload_limit:
                request = self._messages.insert(
                    userId=self.settings.user_id, internalDateSource="dateHeader",
                    body={"raw": convert.b64encode(spool.read()), **metadata})
                inserted = self._execute(request, "messages.insert", once=True)
            else:
                with spool.open() as stream:
                    request = self._messages.insert(
                        userId=self.settings.user_id, internalDateSource="dateHeader",
                        body=metadata, media_body=self._media(stream))
                    inserted = _resumable.upload(self._conn, request, "messages.insert",
                                                 spool.size)
            return str(inserted["id"]) if inserted.get("id") else None

    def _media(self, stream: io.IOBase | IO[bytes]) -> Any:
        from googleapiclient.http import MediaIoBaseUpload

        return MediaIoBaseUpload(stream, mimetype=_RFC822, resumable=True,
                                 chunksize=self.settings.upload_chunk_size)

    def _refuse_early(self, message: OutgoingMessage) -> None:
        # Gmail counts the message base64-encoded, as `mime.size_floor` does.
        self._refuse_above_limit(mime.size_floor(message), self.settings.max_message_size,
                                 at_least=True)

    def _refuse_above_limit(self, size: int, limit: int, *, at_least: bool = False) -> None:
        if size > limit:
            raise errors.MessageTooLarge(
                f"The message is {'at least ' if at_least else ''}{size:,} bytes; Gmail "
                f"accepts at most {limit:,}. "
                "Nothing was sent.", provider=self.provider, code="tooLarge",
                limit=limit, size=size,
                remedy="Gmail takes messages up to 35 MB to send (150 MB to store a copy), "
                       "counted after attachments are "
                       "base64-encoded (about 25 MB of files). Share larger files as links "
                       "(e.g. Google Drive) instead of attaching them.")
