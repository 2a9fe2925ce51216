"""Sending through Microsoft Graph and storing Sent copies (the send path of `GraphMailbox`).

- send: MIME ``POST /sendMail`` (base64 text); Exchange Online files the Sent copy itself.
  A message over `GraphSettings.simple_send_limit` (one request carries ~4 MB): a MIME
  draft without its large files, each file through an upload session (`._upload`), then
  ``POST /messages/{draft}/send``;
- append: ``POST /mailFolders/{id}/messages`` with a JSON ``message`` whose
  ``PR_MESSAGE_FLAGS`` make it read and sent, not a draft (a MIME upload is always a draft);
  a large copy is created without its top-level files (`._split`), which are then uploaded.

Neither is ever repeated by inboxlink or the SDK: a send whose answer was lost raises
`SendOutcomeUnknown`, a Sent copy whose answer was lost a non-retryable `ConnectionLost`.
Anything that fails before the send deletes the unfinished draft or copy.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import attrs
from kiota_abstractions.method import Method

from inboxlink import errors, mime
from inboxlink.adapters.graph import _split, _upload, convert
from inboxlink.adapters.graph.errors import PROVIDER
from inboxlink.models import Folder, FolderRole, OutgoingMessage, SendResult, SentCopy
from inboxlink.spool import Spool

if TYPE_CHECKING:
    from inboxlink.adapters.graph.connection import GraphSession
    from inboxlink.adapters.graph.mailbox import GraphMailbox
    from inboxlink.adapters.graph.settings import GraphSettings

__all__ = ["answer_lost", "append", "send"]

log = logging.getLogger("inboxlink.graph")

#: files this large go through an upload session (Graph: "between 3 MB and 150 MB")
UPLOAD_MIN = 3 * 1024 * 1024


def refuse_early(settings: GraphSettings, message: OutgoingMessage) -> None:
    """`MessageTooLarge` before the message is prepared when its files alone exceed
    ``max_message_size``: `_plan` counts every file of an upload session or its own POST as
    the file itself and the rest encoded, so the files' own sizes are a lower bound."""
    floor = mime.size_floor(message, encoded=False)
    if floor > settings.max_message_size:
        raise _too_large(f"The attachments alone are {floor / 2**20:.1f} MB, above the "
                         f"{settings.max_message_size / 2**20:g} MB Microsoft Graph accepts.",
                         "Share the largest files as links, or send them in several messages.",
                         limit=settings.max_message_size, size=floor)


def send(mailbox: GraphMailbox, prepared: mime.PreparedMessage, save_copy: bool) -> SendResult:
    """Send ``prepared`` once; Graph keeps the Sent copy (``save_copy=False`` cannot stop it).

    Up to `GraphSettings.simple_send_limit` of MIME: one ``sendMail``. Larger: a draft with
    the small parts, an upload session per large attachment, then ``/send`` (see `_send_large`).
    """
    settings = mailbox.settings
    if prepared.size <= settings.simple_send_limit:
        # Graph takes every recipient, Bcc included, from the headers.
        _finish(mailbox, prepared, _send_mime, prepared.with_bcc_header().read())
    else:
        _send_large(mailbox, prepared)
    return _sent(mailbox, prepared, save_copy)


def _finish(mailbox: GraphMailbox, prepared: mime.PreparedMessage,
            request: Callable[..., Coroutine[Any, Any, None]], *args: object) -> None:
    """The one request that sends: never repeated; a lost answer is `SendOutcomeUnknown`."""
    try:
        mailbox._run(request, *args)
    except errors.InboxLinkError as exc:
        if answer_lost(exc):
            raise errors.SendOutcomeUnknown(
                f"Microsoft Graph received the message but its answer was lost "
                f"({exc.code or type(exc).__name__}).",
                raw=prepared.spool, message_id=prepared.message_id, provider=mailbox.provider,
                code=exc.code,
            ) from exc
        raise


def _send_large(mailbox: GraphMailbox, prepared: mime.PreparedMessage) -> None:
    """Draft (small parts, Bcc kept), one upload session per large attachment, ``/send``.

    Anything failing before ``/send`` deletes the draft; ``/send`` itself is made once.
    """
    plan = _plan(mailbox.settings, prepared)
    draft = mailbox._run(_create_draft, plan.draft)
    sent = False
    try:
        path = f"{mailbox.settings.user_path}/messages/{quote(draft, safe='')}"
        for file in plan.posts:
            mailbox._run(_upload.post, path, file)
        for file in plan.uploads:
            _upload.attach(mailbox, path, file, mailbox.settings.upload_chunk_size)
        sent = True  # from here a failure may be a sent message: the draft is never touched
        _finish(mailbox, prepared, _send_draft, draft)
    except BaseException as exc:
        if not sent or not isinstance(exc, errors.SendOutcomeUnknown):
            _discard(mailbox, draft)
        raise


@attrs.frozen
class _Plan:
    draft: bytes  #: the draft's MIME: the message without the files below, Bcc kept
    posts: tuple[_upload.UploadFile, ...]  #: files added with one POST each (< 3 MB)
    uploads: tuple[_upload.UploadFile, ...]  #: files added through upload sessions


def _plan(settings: GraphSettings, prepared: mime.PreparedMessage) -> _Plan:
    """Which files leave the draft, and how; `MessageTooLarge` before any request.

    Files of `UPLOAD_MIN` or more go through upload sessions (Graph's documented range, up
    to 150 MB); if the rest is still more than one request carries, the largest remaining
    files are added one POST each, largest first, until it fits.
    """
    sizes = [att.size for att in prepared.attachments]
    uploads = [n for n, size in enumerate(sizes) if size >= UPLOAD_MIN]
    others = sorted((n for n in range(len(sizes)) if n not in uploads), key=lambda n: -sizes[n])
    # base64 lines: 4/3 of the file and a CRLF every 76 characters
    estimate = prepared.size - sum(_encoded(sizes[n]) for n in uploads)
    posts: list[int] = []
    while estimate > settings.simple_send_limit and others:
        posts.append(others.pop(0))
        estimate -= _encoded(sizes[posts[-1]])
    total = estimate + sum(sizes[n] for n in (*uploads, *posts))
    if total > settings.max_message_size:
        raise _too_large(f"The message is {total / 2**20:.1f} MB, above the "
                         f"{settings.max_message_size / 2**20:g} MB Microsoft Graph accepts.",
                         "Share the largest files as links, or send them in several messages.",
                         limit=settings.max_message_size, size=total)
    left_out = sorted((*uploads, *posts))
    rest = prepared.without_attachments(left_out) if left_out else prepared.spool
    if rest.size > settings.simple_send_limit:
        raise _too_large(
            f"Without its attachments the message is still {rest.size / 2**20:.1f} MB, more "
            f"than one Microsoft Graph request carries.",
            "Build the message as an OutgoingMessage with its files as attachments (a ready "
            "MIME message cannot be split), or shorten its body.",
            limit=settings.simple_send_limit, size=rest.size)

    def files(indexes: list[int]) -> tuple[_upload.UploadFile, ...]:
        return tuple(_upload.UploadFile(
            name=att.filename or "attachment", size=att.size, content_type=att.content_type,
            is_inline=att.inline, content_id=_bare_cid(att.content_id), open=att.open)
            for att in (prepared.attachments[n] for n in indexes))

    return _Plan(prepared.with_bcc_header(rest).read(), files(sorted(posts)), files(uploads))


def _encoded(size: int) -> int:
    chars = 4 * -(-size // 3)
    return chars + 2 * -(-chars // 76)


def _too_large(message: str, remedy: str, *, limit: int, size: int) -> errors.MessageTooLarge:
    return errors.MessageTooLarge(message, provider=PROVIDER, code="messageTooLarge",
                                  remedy=remedy, limit=limit, size=size)


def _bare_cid(content_id: str | None) -> str | None:
    return content_id.strip().strip("<>") if content_id else None


async def _create_draft(session: GraphSession, raw: bytes) -> str:
    info = session.request(Method.POST, f"{session.user_path}/messages")
    info.set_stream_content(base64.b64encode(raw), "text/plain")
    created = await session.send_json(info)
    draft = created.get("id")
    if not isinstance(draft, str) or not draft:
        raise errors.TransientError("Microsoft Graph created the draft without an id.",
                                    provider=PROVIDER, code="malformedResponse",
                                    remedy="Send the message again; nothing was sent.")
    return draft


async def _send_draft(session: GraphSession, draft: str) -> None:
    info = session.request(Method.POST,
                           f"{session.user_path}/messages/{quote(draft, safe='')}/send")
    await session.send_no_content(info)


async def _delete_item(session: GraphSession, item: str) -> None:
    # permanentDelete, not DELETE: a plain delete would leave the item in Deleted Items.
    info = session.request(
        Method.POST, f"{session.user_path}/messages/{quote(item, safe='')}/permanentDelete")
    await session.send_no_content(info)


def _discard(mailbox: GraphMailbox, item: str) -> None:
    try:
        mailbox._run(_delete_item, item)
    except Exception as exc:  # the error that stopped the send is the one to report
        log.warning("could not delete an unfinished Graph item: %s", exc)


def _sent(mailbox: GraphMailbox, prepared: mime.PreparedMessage, save_copy: bool) -> SendResult:
    cached = mailbox._folders_cache or []
    sent = next((f for f in cached if f.role is FolderRole.SENT), None)
    if not save_copy:
        log.info("Graph always keeps the sent copy of what it sends; save_copy=False ignored")
    # Graph files the copy itself (sending cannot turn that off): report it as is, and never
    # store a second one.
    return SendResult(message_id=prepared.message_id, raw=prepared.spool,
                      sent_copy=SentCopy.SAVED_BY_PROVIDER,
                      sent_folder_id=sent.id if sent else None)


async def _send_mime(session: GraphSession, raw: bytes) -> None:
    info = session.request(Method.POST, f"{session.user_path}/sendMail")
    info.set_stream_content(base64.b64encode(raw), "text/plain")
    await session.send_no_content(info)


def append(mailbox: GraphMailbox, raw: Spool, folder: Folder) -> str | None:
    """Store ``raw`` in ``folder`` as a read, sent item; never stored twice.

    A message too large for one request is created without its big files, which are then
    attached through upload sessions (the item is deleted again if that fails).
    """
    settings = mailbox.settings
    if raw.size <= settings.simple_send_limit:
        return _create_copy(mailbox, raw.read(), folder)
    if raw.size > settings.max_message_size * 4 // 3 + settings.simple_send_limit:
        raise _too_large(f"The message is {raw.size / 2**20:.1f} MB, above the "
                         f"{settings.max_message_size / 2**20:g} MB Microsoft Graph accepts.",
                         "Store a smaller copy, or keep large files out of the Sent copy.",
                         limit=settings.max_message_size, size=raw.size)
    parts = _split.split(raw, UPLOAD_MIN)
    if len(parts.skeleton) > settings.simple_send_limit:
        raise _too_large(
            f"Without its large files the message is still {len(parts.skeleton) / 2**20:.1f} "
            "MB, more than one Microsoft Graph request carries.",
            "Only files attached at the top level of the message can be uploaded separately.",
            limit=settings.simple_send_limit, size=len(parts.skeleton))
    item = _create_copy(mailbox, parts.skeleton, folder)
    try:
        path = f"{settings.user_path}/messages/{quote(item, safe='')}"
        for part in parts.parts:
            _upload.attach(mailbox, path, _upload.UploadFile(
                name=part.filename, size=part.content.size, content_type=part.content_type,
                is_inline=part.inline, content_id=part.content_id, open=part.content.open),
                settings.upload_chunk_size)
    except BaseException:
        _discard(mailbox, item)  # a copy without its files must not stay
        raise
    return item


def _create_copy(mailbox: GraphMailbox, raw: bytes, folder: Folder) -> str:
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
    body = convert.message_json_from_mime(raw)
    info = session.request(Method.POST,
                           f"{session.user_path}/mailFolders/{quote(folder_id, safe='')}"
                           "/messages")
    info.set_stream_content(json.dumps(body).encode(), "application/json")
    created = await session.send_json(info)
    return str(created.get("id")) if isinstance(created, dict) else ""


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
