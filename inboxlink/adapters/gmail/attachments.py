"""Attachments through the Gmail API (mixed into `GmailMailbox`).

- list: one ``users.messages.get(format=full)``: the payload tree names every part with its
  ``partId``, ``mimeType``, ``filename``, headers and decoded ``body.size``; attachments'
  content is left out (``body.attachmentId`` instead), so a 75 MB file costs nothing here;
- save: ``format=full`` again for the part's *current* ``attachmentId`` (Gmail hands out a
  new one on every read, so it cannot be the stable ``part``), then
  ``users.messages.attachments.get`` for the content — two requests, never the message.

``AttachmentInfo.part`` is the Gmail ``partId`` (``"1"``, ``"2.1"``): stable for the message's
lifetime and the same numbering as its MIME tree (``"root"`` for a message that is one file,
whose Gmail ``partId`` is empty). Which leaves are attachments is the rule
the other adapters share (IMAP's BODYSTRUCTURE reading, Exchange): every leaf except a
text/plain or text/html body without a file name that is not marked ``attachment``; a
single-part message is an attachment only when it is named or marked ``attachment``.

Gmail has no media download for attachments: the content comes as one base64url string in
a JSON body, which httplib2 reads whole. That encoded body (4/3 of the file) is held once; it
is decoded straight into the target in 192 KiB pieces, never parsed as JSON and never
decoded whole (see ``benchmarks/attachment_read.py`` for the measured peak).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import IO, TYPE_CHECKING, Any

from inboxlink import errors
from inboxlink.adapters.gmail import convert
from inboxlink.models import AttachmentInfo

if TYPE_CHECKING:
    from inboxlink.adapters.gmail.settings import GmailSettings
    from inboxlink.retry import RetryPolicy

__all__ = ["ROOT_PART", "GmailAttachments", "attachment_parts"]

_BODY_TYPES = frozenset({"text/plain", "text/html"})
#: the part id of a message that is one file: Gmail's partId for it is "", which reads as
#: "no part" in callers' truth tests and on a command line
ROOT_PART = "root"


def _headers(part: dict[str, Any]) -> dict[str, str]:
    return {str(h.get("name", "")).lower(): str(h.get("value", ""))
            for h in part.get("headers") or () if isinstance(h, dict)}


def _leaves(part: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if str(part.get("mimeType", "")).lower().startswith("multipart/"):
        for child in part.get("parts") or ():
            if isinstance(child, dict):
                yield from _leaves(child)
        return
    yield part


def _is_attachment(part: dict[str, Any], disposition: str) -> bool:
    named = disposition == "attachment" or bool(part.get("filename"))
    # A single-part message (partId "") is its own body unless it is a named/marked file.
    root = part.get("partId", "") == ""
    return named or (not root and str(part.get("mimeType", "")).lower() not in _BODY_TYPES)


def attachment_parts(payload: dict[str, Any]) -> list[tuple[dict[str, Any], AttachmentInfo]]:
    """The attachment leaves of a ``format=full`` payload, in MIME order, described."""
    found = []
    for part in _leaves(payload):
        headers = _headers(part)
        disposition = headers.get("content-disposition", "").split(";", 1)[0].strip().lower()
        if not _is_attachment(part, disposition):
            continue
        body = part.get("body") or {}
        size = body.get("size")
        cid = headers.get("content-id")
        found.append((part, AttachmentInfo(
            part=str(part.get("partId") or ROOT_PART),
            filename=part.get("filename") or None,
            content_type=str(part.get("mimeType") or "application/octet-stream").lower(),
            size=int(size) if isinstance(size, int) else None,
            content_id=cid.strip().strip("<>").strip() if cid else None,
            inline=disposition == "inline",
        )))
    return found


class GmailAttachments:
    """``list_attachments`` / ``save_attachment`` on ``format=full`` and ``attachments.get``."""

    if TYPE_CHECKING:
        settings: GmailSettings
        _retry: RetryPolicy

        @property
        def _messages(self) -> Any: ...
        def _execute(self, request: Any, method: str, *, once: bool = False,
                     json: bool = True) -> Any: ...
        def _boundary(self, operation: str) -> AbstractContextManager[None]: ...

    def list_attachments(self, message_id: str) -> list[AttachmentInfo]:
        """The message's attachments from its part tree (one request, no content)."""
        payload = self._retry.call(self._payload, message_id)
        return [info for _, info in attachment_parts(payload)]

    def _payload(self, message_id: str) -> dict[str, Any]:
        with self._boundary("fetch"):
            request = self._messages.get(userId=self.settings.user_id, id=message_id,
                                         format="full", fields="payload")
            found = self._execute(request, "messages.get")
        payload = found.get("payload") if isinstance(found, dict) else None
        return payload if isinstance(payload, dict) else {}

    def save_attachment(self, message_id: str, part: str,
                        target: str | os.PathLike[str] | IO[bytes]) -> int:
        """Decode the attachment ``part`` into ``target``; returns the byte count."""
        body = self._retry.call(self._attachment_body, message_id, part)
        if isinstance(target, (str, os.PathLike)):
            with open(target, "wb") as fh:
                return convert.write_raw_field(body, fh, key="data")
        return convert.write_raw_field(body, target, key="data")

    def _attachment_body(self, message_id: str, part: str) -> bytes:
        """The JSON bytes holding the part's base64url ``data`` (never parsed)."""
        described = {info.part: leaf for leaf, info in attachment_parts(self._payload(message_id))}
        leaf = described.get(part)
        if leaf is None:
            raise self._no_attachment_part(message_id, part)
        body = leaf.get("body") or {}
        if not body.get("attachmentId"):
            # Small parts come inline in the tree itself: no second request.
            return b'{"data": "' + str(body.get("data") or "").encode("ascii") + b'"}'
        try:
            with self._boundary("fetch"):
                request = self._messages.attachments().get(
                    userId=self.settings.user_id, messageId=message_id,
                    id=body["attachmentId"], fields="data")
                # Keep the JSON bytes: parsing them would make a second full copy.
                request.postproc = lambda resp, content: content
                content: bytes = self._execute(request, "messages.attachments.get", json=False)
        except errors.MessageNotFound as gone:
            # The tree named it a moment ago: the message (and so the part) went since.
            raise self._no_attachment_part(message_id, part) from gone
        return content

    @staticmethod
    def _no_attachment_part(message_id: str, part: str) -> errors.NotFound:
        return errors.NotFound(
            f"Message {message_id!r} has no attachment part {part!r}.",
            provider="gmail", code="attachment-not-found",
            remedy="Use a part id from mailbox.list_attachments(message_id).",
        )
