"""Sending through EWS, and storing a Sent copy: exactly one CreateItem each, never repeated.

A message goes out as its MIME content in one ``CreateItem`` (``SendAndSaveCopy`` into the
resolved Sent folder, or ``SendOnly``); Bcc recipients travel as ``BccRecipients`` beside the
MIME, which never carries them. A Sent copy is one ``CreateItem`` (``SaveOnly``) created as a
sent, read message rather than a draft.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchangelib.extended_properties import ExtendedProperty
from exchangelib.items import SEND_AND_SAVE_COPY, SEND_ONLY, SEND_TO_NONE
from exchangelib.items import Message as EwsMessage
from exchangelib.properties import Mailbox as EwsAddress

from inboxlink import errors
from inboxlink.adapters.ews import errors as ews_errors
from inboxlink.adapters.ews.fields import message_fields_with
from inboxlink.adapters.ews.services import CreateItemOnce
from inboxlink.models import Folder, FolderRole, SendResult, SentCopy

if TYPE_CHECKING:
    from inboxlink.adapters.ews.mailbox import EwsMailbox
    from inboxlink.mime import PreparedMessage

__all__ = ["append", "send"]

# PR_MESSAGE_FLAGS bits (MS-OXCMSG 2.2.1.6): read, and "unsent" which makes a draft.
_MSGFLAG_READ = 0x1


class _MessageFlags(ExtendedProperty):  # type: ignore[misc]
    """PidTagMessageFlags (0x0E07): settable only when an item is created."""

    property_tag = 0x0E07
    property_type = "Integer"


class _SentCopy(EwsMessage):  # type: ignore[misc]
    """A Message carrying PR_MESSAGE_FLAGS, in schema order, without touching exchangelib's
    own Message class (``Message.register`` would add the field for every user)."""

    FIELDS = message_fields_with("message_flags", _MessageFlags)


def send(mailbox: EwsMailbox, prepared: PreparedMessage, save_copy: bool) -> SendResult:
    """Send ``prepared``; Exchange keeps the Sent copy when ``save_copy``."""
    with mailbox._boundary():
        sent_folder = mailbox.folder(FolderRole.SENT) if save_copy else None
        message = EwsMessage(
            account=mailbox.account, mime_content=prepared.raw,
            bcc_recipients=[EwsAddress(email_address=a.email) for a in prepared.bcc] or None,
        )
        try:
            results = list(CreateItemOnce(account=mailbox.account).call(
                items=[message],
                folder=mailbox._ews_folder(sent_folder) if sent_folder else None,
                message_disposition=SEND_AND_SAVE_COPY if save_copy else SEND_ONLY,
                send_meeting_invitations=SEND_TO_NONE))
        except Exception as exc:
            if ews_errors.send_answer_lost(exc):
                raise errors.SendOutcomeUnknown(
                    "Exchange received the message but its answer was lost "
                    f"({type(exc).__name__}).", raw=prepared.raw,
                    message_id=prepared.message_id, provider=mailbox.provider,
                    code=type(exc).__name__,
                ) from exc
            raise
        for result in results:
            if isinstance(result, Exception):
                raise result
    if sent_folder is None:
        return SendResult(message_id=prepared.message_id, raw=prepared.raw,
                          sent_copy=SentCopy.SKIPPED)
    return SendResult(message_id=prepared.message_id, raw=prepared.raw,
                      sent_copy=SentCopy.SAVED_BY_PROVIDER, sent_folder_id=sent_folder.id)


def append(mailbox: EwsMailbox, raw: bytes, folder: Folder) -> str | None:
    """Store ``raw`` in ``folder`` as a sent, read message; its id when Exchange returns one."""
    with mailbox._boundary():
        # SaveOnly alone makes an unsent draft. PR_MESSAGE_FLAGS = MSGFLAG_READ (without
        # MSGFLAG_UNSENT) at creation makes it a sent, read message, as Outlook's own
        # copies are; IsRead is set too for servers that derive the flag from it.
        copy = _SentCopy(account=mailbox.account, mime_content=raw, is_read=True,
                         message_flags=_MSGFLAG_READ)
        # Once: a repeated CreateItem would store a second Sent copy.
        try:
            results = list(CreateItemOnce(account=mailbox.account).call(
                items=[copy], folder=mailbox._ews_folder(folder),
                message_disposition="SaveOnly", send_meeting_invitations=SEND_TO_NONE))
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
        return getattr(first, "id", None)
