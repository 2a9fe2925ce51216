"""Sending through Microsoft Graph and storing Sent copies (the send path of `GraphMailbox`).

- send: MIME ``POST /sendMail`` (base64 text); Exchange Online files the Sent copy itself;
- append: ``POST /mailFolders/{id}/messages`` with a JSON ``message`` whose
  ``PR_MESSAGE_FLAGS`` make it read and sent, not a draft (a MIME upload is always a draft).

Neither is ever repeated by inboxlink or the SDK: a send whose answer was lost raises
`SendOutcomeUnknown`, a Sent copy whose answer was lost a non-retryable `ConnectionLost`.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import TYPE_CHECKING
from urllib.parse import quote

from kiota_abstractions.method import Method

from inboxlink import errors, mime
from inboxlink.adapters.graph import wire
from inboxlink.models import Folder, FolderRole, SendResult, SentCopy

if TYPE_CHECKING:
    from inboxlink.adapters.graph.mailbox import GraphMailbox
    from inboxlink.adapters.graph.session import GraphSession

__all__ = ["answer_lost", "append", "send"]

log = logging.getLogger("inboxlink.graph")


def send(mailbox: GraphMailbox, prepared: mime.PreparedMessage, save_copy: bool) -> SendResult:
    """Send ``prepared`` once; Graph keeps the Sent copy (``save_copy=False`` cannot stop it)."""
    wire_bytes = _with_bcc(prepared)
    try:
        mailbox._run(_send_mime, wire_bytes)
    except errors.InboxLinkError as exc:
        if answer_lost(exc):
            raise errors.SendOutcomeUnknown(
                f"Microsoft Graph received the message but its answer was lost "
                f"({exc.code or type(exc).__name__}).",
                raw=prepared.raw, message_id=prepared.message_id, provider=mailbox.provider,
                code=exc.code,
            ) from exc
        raise
    return _sent(mailbox, prepared, save_copy)


def _sent(mailbox: GraphMailbox, prepared: mime.PreparedMessage, save_copy: bool) -> SendResult:
    cached = mailbox._folders_cache or []
    sent = next((f for f in cached if f.role is FolderRole.SENT), None)
    if not save_copy:
        log.info("Graph always keeps the sent copy of what it sends; save_copy=False ignored")
    # Graph files the copy itself (sending cannot turn that off): report it as is, and never
    # store a second one.
    return SendResult(message_id=prepared.message_id, raw=prepared.raw,
                      sent_copy=SentCopy.SAVED_BY_PROVIDER,
                      sent_folder_id=sent.id if sent else None)


async def _send_mime(session: GraphSession, raw: bytes) -> None:
    info = session.request(Method.POST, f"{session.user_path}/sendMail")
    info.set_stream_content(base64.b64encode(raw), "text/plain")
    await session.send_no_content(info)


def append(mailbox: GraphMailbox, raw: bytes, folder: Folder) -> str | None:
    """Store ``raw`` in ``folder`` as a read, sent item; never stored twice."""
    try:
        return mailbox._run(_create_sent_item, raw, folder.id)
    except errors.InboxLinkError as exc:
        # The copy left and its answer was lost (or came garbled): Graph may have stored
        # it, so this must not be retried by the policy around it.
        if answer_lost(exc) or exc.code == "malformedResponse":
            raise errors.ConnectionLost(
                f"The Sent copy reached Microsoft Graph but its answer was lost ({exc.code}).",
                provider=mailbox.provider, code=exc.code, retryable=False,
                remedy="Look in the Sent folder for the message's Message-ID before storing "
                       "the copy again: it may already be there.",
            ) from exc
        raise


async def _create_sent_item(session: GraphSession, raw: bytes, folder_id: str) -> str:
    body = wire.message_json_from_mime(raw)
    info = session.request(Method.POST,
                           f"{session.user_path}/mailFolders/{quote(folder_id, safe='')}"
                           "/messages")
    info.set_stream_content(json.dumps(body).encode(), "application/json")
    created = await session.send_json(info)
    return str(created.get("id")) if isinstance(created, dict) else ""


def _with_bcc(prepared: mime.PreparedMessage) -> bytes:
    """The MIME to post: Graph takes every recipient, Bcc included, from the headers.

    Exchange removes the Bcc header from what it delivers; ``prepared.raw`` (returned to the
    caller) never had it.
    """
    if not prepared.bcc:
        return prepared.raw
    return _bcc_line(prepared) + prepared.raw


def _bcc_line(prepared: mime.PreparedMessage) -> bytes:
    if not prepared.bcc:
        return b""
    for address in prepared.bcc:
        mime.check_header_value("Bcc", address.email)
    return ("Bcc: " + ", ".join(a.email for a in prepared.bcc) + "\r\n").encode("utf-8")


#: httpx failures after the request was written: the answer was lost, not the request
_LOST_ANSWER = frozenset({"ReadError", "ReadTimeout", "RemoteProtocolError"})
#: httpx failures before the whole request was written: the server cannot have acted
_NOT_WRITTEN = frozenset({"ConnectError", "ConnectTimeout", "PoolTimeout", "WriteError",
                          "WriteTimeout"})
#: a gateway's own answer for a backend that may already have acted
_GATEWAY_STATUSES = ("502", "504")


def answer_lost(exc: errors.InboxLinkError) -> bool:
    """Whether a failed send (or Sent copy) may nevertheless have been accepted.

    True when the connection broke or timed out after the request was written (httpx read
    errors, the call's timeout) or a gateway answered 502/504 in Graph's place. A refusal
    Graph itself states (4xx, 500, 503 with its error body) or a failure to connect is not.
    """
    cause = exc.__cause__
    names = {cls.__name__ for cls in type(cause).__mro__} if cause is not None else set()
    if names & _NOT_WRITTEN:
        return False
    if names & _LOST_ANSWER or isinstance(exc, errors.OperationTimeout):
        return True
    return exc.code in _GATEWAY_STATUSES and not isinstance(exc, errors.RateLimited)
