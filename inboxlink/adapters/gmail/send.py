"""Sending (``messages.send``) and the Sent copy (``messages.insert``) for `GmailMailbox`.

Gmail files every sent message in SENT itself, so ``append_to_sent`` is only for copies an
application makes on purpose. Both calls go out through the single-shot HTTP: neither
httplib2 nor anything above repeats them, and a send whose answer was lost after the
request left raises ``SendOutcomeUnknown``.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, ClassVar

from inboxlink import errors
from inboxlink.adapters.gmail import convert
from inboxlink.adapters.gmail._single_shot import AnswerLost
from inboxlink.adapters.gmail.connection import MalformedAnswer
from inboxlink.models import Folder, SendResult, SentCopy
from inboxlink.spool import Spool

if TYPE_CHECKING:
    from inboxlink.adapters.gmail.settings import GmailSettings
    from inboxlink.mime import PreparedMessage

__all__ = ["GmailSend", "with_bcc"]

log = logging.getLogger("inboxlink.gmail")


def with_bcc(prepared: PreparedMessage) -> bytes:
    """A Bcc header before the wire bytes.

    Gmail takes the recipients from the headers, Bcc included (it removes Bcc from what
    the recipients get and keeps it in the sender's copy); there is no separate envelope.
    """
    if not prepared.bcc:
        return b""
    return f"Bcc: {', '.join(a.email for a in prepared.bcc)}\r\n".encode()


class GmailSend:
    """``_send``/``_append`` for `GmailMailbox`."""

    if TYPE_CHECKING:
        settings: GmailSettings
        provider: ClassVar[str]

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
        body: dict[str, Any] = {"raw": convert.b64encode(with_bcc(prepared) + prepared.raw)}
        if prepared.in_reply_to:
            thread = self._thread_of(prepared.in_reply_to)
            if thread:
                body["threadId"] = thread
        with self._boundary("send"):
            request = self._messages.send(userId=self.settings.user_id, body=body)
            try:
                sent = self._execute(request, "messages.send", once=True)
            except (AnswerLost, MalformedAnswer) as exc:
                # The whole request left: Gmail may have sent it. Never retryable.
                raise errors.SendOutcomeUnknown(
                    f"Gmail received the message but its answer was lost ({exc}).",
                    raw=prepared.raw, message_id=prepared.message_id, provider=self.provider,
                    code="answerLost" if isinstance(exc, AnswerLost) else "malformedResponse",
                ) from exc
        if not save_copy:
            log.info("gmail: save_copy=False is not possible: Gmail files every sent message")
        return SendResult(
            message_id=prepared.message_id, raw=prepared.raw,
            sent_copy=SentCopy.SAVED_BY_PROVIDER, sent_folder_id="SENT",
            provider_id=sent.get("id"), thread_id=sent.get("threadId"),
        )

    def _append(self, spool: Spool, folder: Folder) -> str | None:
        raw = spool.read()
        with self._boundary("append"):
            request = self._messages.insert(
                userId=self.settings.user_id, internalDateSource="dateHeader",
                body={"raw": convert.b64encode(raw), "labelIds": [folder.id]},
            )
            # Once only: a repeated insert would store a second Sent copy.
            inserted = self._execute(request, "messages.insert", once=True)
            return str(inserted["id"]) if inserted.get("id") else None
