"""Sending through EWS, and storing a Sent copy: exactly one CreateItem each, never repeated.

A message goes out as its MIME content in one ``CreateItem`` (``SendAndSaveCopy`` into the
resolved Sent folder, or ``SendOnly``); Bcc recipients travel as ``BccRecipients`` beside the
MIME, which never carries them. A Sent copy is one ``CreateItem`` (``SaveOnly``) created as a
sent, read message rather than a draft. The MIME's base64 is written into the request from
the message's spool as it goes (``_upload``), so a large message is never in memory.

A message whose one request would exceed the server's request limit (``max_request_size``)
goes in steps: ``CreateItem`` (``SaveOnly``, in Drafts) of its MIME without the largest
attachments, one ``CreateAttachment`` per left-out attachment (streamed from its file), then
one ``SendItem`` (the draft moves to Sent Items). Only ``SendItem`` sends: a failure before it
deletes the draft, so nothing half-done stays behind; a lost answer to it raises
`SendOutcomeUnknown`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from exchangelib.items import (
    ALL_OCCURRENCES,
    HARD_DELETE,
    SEND_AND_SAVE_COPY,
    SEND_ONLY,
    SEND_TO_NONE,
)
from exchangelib.items import Message as EwsMessage
from exchangelib.properties import ItemId
from exchangelib.properties import Mailbox as EwsAddress
from exchangelib.services import DeleteItem

from inboxlink import errors
from inboxlink.adapters.ews import errors as ews_errors
from inboxlink.adapters.ews._exchangelib_shim import MSGFLAG_READ, SentCopyMessage
from inboxlink.adapters.ews._mime_parts import FilePart, file_parts, without_parts
from inboxlink.adapters.ews._upload import (
    AttachmentSource,
    create_item,
    encoded_size,
    placeholder,
    send_draft,
    upload_attachment,
)
from inboxlink.models import Folder, FolderRole, SendResult, SentCopy

if TYPE_CHECKING:
    from inboxlink.adapters.ews.mailbox import EwsMailbox
    from inboxlink.mime import PreparedMessage
    from inboxlink.spool import Spool

__all__ = ["append", "plan_uploads", "send"]

_log = logging.getLogger(__name__)
#: bytes of SOAP around the base64 content of a request (envelope, ids, names): generous
_ENVELOPE = 8 * 1024
#: ResponseCodes refusing a message (or one attachment) for its size
_SIZE_CODES = frozenset({"ErrorMessageSizeExceeded", "ErrorAttachmentSizeLimitExceeded"})


def send(mailbox: EwsMailbox, prepared: PreparedMessage, save_copy: bool) -> SendResult:
    """Send ``prepared``; Exchange keeps the Sent copy when ``save_copy``."""
    limit = mailbox.settings.max_request_size
    with _naming_limits(prepared.size, limit):
        split = _split(prepared, limit)
        if split is None:
            sent_folder = _send_at_once(mailbox, prepared, save_copy)
        else:
            sent_folder = _send_in_steps(mailbox, prepared, save_copy, *split)
    if sent_folder is None:
        return SendResult(message_id=prepared.message_id, raw=prepared.spool,
                          sent_copy=SentCopy.SKIPPED)
    return SendResult(message_id=prepared.message_id, raw=prepared.spool,
                      sent_copy=SentCopy.SAVED_BY_PROVIDER, sent_folder_id=sent_folder.id)


def _send_at_once(mailbox: EwsMailbox, prepared: PreparedMessage,
                  save_copy: bool) -> Folder | None:
    with mailbox._boundary():
        sent_folder = mailbox.folder(FolderRole.SENT) if save_copy else None
        message = EwsMessage(account=mailbox.account, mime_content=placeholder(),
                             bcc_recipients=_bcc(prepared))
        try:
            results = create_item(
                mailbox.account, message, prepared.spool,
                mailbox._ews_folder(sent_folder) if sent_folder else None,
                SEND_AND_SAVE_COPY if save_copy else SEND_ONLY)
        except Exception as exc:
            if ews_errors.send_answer_lost(exc):
                raise _outcome_unknown(mailbox, prepared, exc) from exc
            raise
        for result in results:
            if isinstance(result, Exception):
                raise result
    return sent_folder


def _split(prepared: PreparedMessage,
           limit: int) -> tuple[Spool, list[AttachmentSource]] | None:
    """The draft's MIME and the attachments to upload one by one; ``None`` when the message
    fits one request. An `OutgoingMessage`'s attachments are read from their files; a stdlib
    message's base64 file parts are found in (and decoded from) the spool."""
    if _request_size(prepared.size) <= limit:
        return None
    if prepared.attachments:
        uploads = plan_uploads(prepared.size, [a.size for a in prepared.attachments], limit)
        return (prepared.without_attachments(uploads),
                [prepared.attachments[i] for i in uploads])
    parts = file_parts(prepared.spool)
    uploads = plan_uploads(prepared.size, [p.size for p in parts], limit)
    chosen = [parts[i] for i in uploads]
    return without_parts(prepared.spool, chosen), list(chosen)


def _send_in_steps(mailbox: EwsMailbox, prepared: PreparedMessage, save_copy: bool,
                   draft_mime: Spool, uploads: list[AttachmentSource]) -> Folder | None:
    with mailbox._boundary():
        sent_folder = mailbox.folder(FolderRole.SENT) if save_copy else None
        drafts = mailbox._ews_folder(mailbox.folder(FolderRole.DRAFTS))
        draft = EwsMessage(account=mailbox.account, mime_content=placeholder(),
                           bcc_recipients=_bcc(prepared))
        item_id, changekey = _created(create_item(
            mailbox.account, draft, draft_mime, drafts, "SaveOnly"))
        try:
            for source in uploads:
                changekey = _attached(upload_attachment(
                    mailbox.account, item_id, changekey, source))
            try:
                outcome = send_draft(mailbox.account, item_id, changekey,
                                     mailbox._ews_folder(sent_folder) if sent_folder else None)
            except Exception as exc:
                if ews_errors.send_answer_lost(exc):
                    # It may have gone: the draft (or the Sent copy it became) stays as is.
                    raise _outcome_unknown(mailbox, prepared, exc) from exc
                raise
            if isinstance(outcome, Exception):
                raise outcome
        except errors.SendOutcomeUnknown:
            raise
        except BaseException:
            _discard(mailbox, item_id)
            raise
    return sent_folder


def plan_uploads(size: int, attachment_sizes: Sequence[int], limit: int) -> tuple[int, ...]:
    """Which attachments go up one by one (``CreateAttachment``) so that every request stays
    within ``limit`` bytes: none when the whole message fits one request, else the largest
    first until the rest fits. Raises `MessageTooLarge` when no split fits."""
    if _request_size(size) <= limit:
        return ()
    chosen: list[int] = []
    remaining = size
    for index in sorted(range(len(attachment_sizes)), key=lambda i: -attachment_sizes[i]):
        if _request_size(remaining) <= limit:
            break
        chosen.append(index)
        remaining -= _mime_share(attachment_sizes[index])
    if _request_size(remaining) > limit or any(
            _request_size(attachment_sizes[i]) > limit for i in chosen):
        raise errors.MessageTooLarge(
            f"The message ({size:,} bytes) cannot be sent in requests of at most {limit:,} "
            "bytes, the Exchange server's request limit (max_request_size), even with each "
            "attachment uploaded on its own.", provider="ews", code="max_request_size",
            remedy="Send smaller attachments or share them as links; if the server accepts "
                   "larger requests, set max_request_size= to its limit.",
            limit=limit, size=size)
    return tuple(sorted(chosen))


def _request_size(content: int) -> int:
    return encoded_size(content) + _ENVELOPE


def _mime_share(size: int) -> int:
    """Bytes an attachment of ``size`` takes in the MIME: base64 in 76-character lines."""
    encoded = encoded_size(size)
    return encoded + (encoded + 75) // 76 * 2


@contextmanager
def _naming_limits(size: int, limit: int) -> Iterator[None]:
    """Say how large the message was, and what limit is known, when Exchange refuses it."""
    try:
        yield
    except errors.MessageTooLarge as exc:
        if exc.code == ews_errors.REQUEST_TOO_LARGE:
            message = (f"Exchange refused a request for the message ({size:,} bytes) as too "
                       f"large (HTTP 413): its request limit is below the {limit:,} bytes "
                       "assumed (max_request_size).")
        elif exc.code in _SIZE_CODES:
            message = (f"Exchange refused the message ({size:,} bytes) as larger than it accepts "
                       f"({exc.code}; Exchange Online's limit is 35 MB per message by default, "
                       "150 MB at most).")
        else:
            raise
        # Exchange's refusals name no number: a 413 only proves the limit is below the
        # assumed max_request_size, so the limit stays unknown unless the error carried one.
        raise errors.MessageTooLarge(message, provider=exc.provider, code=exc.code,
                                     remedy=exc.remedy, retryable=False, limit=exc.limit,
                                     size=exc.size or size) from exc.__cause__


def _bcc(prepared: PreparedMessage) -> list[Any] | None:
    return [EwsAddress(email_address=a.email) for a in prepared.bcc] or None


def _created(results: Any) -> tuple[str, str | None]:
    found = list(results)
    for result in found:
        if isinstance(result, Exception):
            raise result
    return found[0].id, found[0].changekey


def _attached(result: Any) -> str | None:
    if isinstance(result, Exception):
        raise result
    return result.attachment_id.root_changekey  # type: ignore[no-any-return]


def _discard(mailbox: EwsMailbox, item_id: str) -> None:
    """Delete the draft of a send that failed before SendItem: nothing half-done stays.

    Best effort: the failure that brought us here is the one to report.
    """
    try:
        list(DeleteItem(account=mailbox.account).call(
            items=[ItemId(id=item_id)], delete_type=HARD_DELETE,
            send_meeting_cancellations=SEND_TO_NONE, affected_task_occurrences=ALL_OCCURRENCES,
            suppress_read_receipts=True))
    except Exception:  # the failure that brought us here is the one reported
        _log.warning("Could not delete the draft of a failed send.", exc_info=True)


def _outcome_unknown(mailbox: EwsMailbox, prepared: PreparedMessage,
                     exc: Exception) -> errors.SendOutcomeUnknown:
    return errors.SendOutcomeUnknown(
        f"Exchange received the message but its answer was lost ({type(exc).__name__}).",
        raw=prepared.spool, message_id=prepared.message_id, provider=mailbox.provider,
        code=type(exc).__name__)


def append(mailbox: EwsMailbox, raw: Spool, folder: Folder) -> str | None:
    """Store ``raw`` in ``folder`` as a sent, read message; its id when Exchange returns one.

    Above the request limit, the message goes without its largest attachments, which are
    then added one ``CreateAttachment`` each (a failure deletes the copy again).
    """
    limit = mailbox.settings.max_request_size
    parts: list[FilePart] = []
    uploads: tuple[int, ...] = ()
    if _request_size(raw.size) > limit:
        parts = file_parts(raw)
        uploads = plan_uploads(raw.size, [p.size for p in parts], limit)
    with _naming_limits(raw.size, limit), mailbox._boundary():
        content = without_parts(raw, [parts[i] for i in uploads]) if uploads else raw
        item_id, changekey = _store_copy(mailbox, content, folder)
        if uploads and item_id is not None:
            try:
                for index in uploads:
                    changekey = _attached(upload_attachment(
                        mailbox.account, item_id, changekey, parts[index]))
            except BaseException:
                _discard(mailbox, item_id)
                raise
        return item_id


def _store_copy(mailbox: EwsMailbox, content: Spool,
                folder: Folder) -> tuple[str | None, str | None]:
    # SaveOnly alone makes an unsent draft. PR_MESSAGE_FLAGS = MSGFLAG_READ (without
    # MSGFLAG_UNSENT) at creation makes it a sent, read message, as Outlook's own
    # copies are; IsRead is set too for servers that derive the flag from it.
    copy = SentCopyMessage(account=mailbox.account, mime_content=placeholder(), is_read=True,
                           message_flags=MSGFLAG_READ)
    # Once: a repeated CreateItem would store a second Sent copy.
    try:
        results = create_item(mailbox.account, copy, content, mailbox._ews_folder(folder),
                              "SaveOnly")
    except Exception as exc:
        if ews_errors.send_answer_lost(exc):  # may be stored: never retried
            raise errors.ConnectionLost(
                "The Sent copy reached Exchange but its answer was lost "
                f"({type(exc).__name__}).", provider=mailbox.provider,
                code=type(exc).__name__, retryable=False,
                remedy="Look in the Sent folder for the message's Message-ID before storing "
                       "the copy again: it may already be there.",
            ) from exc
        raise
    for result in results:
        if isinstance(result, Exception):
            raise result
    first = results[0] if results else None
    return getattr(first, "id", None), getattr(first, "changekey", None)
