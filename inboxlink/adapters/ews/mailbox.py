"""The EWS mailbox: the adapter class, delegating to its parts.

Connecting (`connection.EwsConnection`) costs at most five requests with the folders and
checks everything a set-up flow needs; listing and fetching are in ``_listing``, folders in
``_folders``, the change feed in ``sync``, actions and search in ``actions``, attachments in
``attachments``, ``watch()`` in ``watch``. Every call runs inside the one error boundary,
`_boundary`: ``translating(TABLE, extract, endpoint)``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import IO, Any, ClassVar

from exchangelib import Account
from exchangelib.folders import Folder as EwsFolder
from exchangelib.items import SEND_AND_SAVE_COPY, SEND_ONLY, SEND_TO_NONE
from exchangelib.items import Message as EwsMessage
from exchangelib.properties import Mailbox as EwsAddress

from inboxlink import errors, mime
from inboxlink.adapters.ews import _folders, _listing
from inboxlink.adapters.ews import errors as ews_errors
from inboxlink.adapters.ews._exchangelib_shim import (
    MSGFLAG_READ,
    CreateItemOnce,
    SentCopyMessage,
    StreamingMimeGetItem,
)
from inboxlink.adapters.ews.actions import EwsActions
from inboxlink.adapters.ews.attachments import EwsAttachments
from inboxlink.adapters.ews.connection import EwsConnection
from inboxlink.adapters.ews.errors import TABLE
from inboxlink.adapters.ews.settings import EwsSettings
from inboxlink.adapters.ews.sync import EwsSync
from inboxlink.adapters.ews.watch import EwsStreaming
from inboxlink.mailbox import BaseMailbox
from inboxlink.models import (
    Capability,
    Folder,
    FolderRole,
    Message,
    MessageSummary,
    OutgoingMessage,
    Page,
    SendResult,
    SentCopy,
    save_stream,
)
from inboxlink.retry import bounded
from inboxlink.spool import Spool
from inboxlink.translate import translating

__all__ = ["EwsMailbox"]


class EwsMailbox(EwsSync, EwsActions, EwsAttachments, EwsStreaming, BaseMailbox):
    """A mailbox on Exchange 2010 SP2 or newer, through Exchange Web Services.

    Build it with `inboxlink.connect` (``ews://alice@example.com`` plus ``password=``,
    ``url=``, ``username=``, ``access_token=`` …) or directly from `EwsSettings`.
    Connecting validates the whole set-up and raises a typed error when it cannot work.
    """

    provider: ClassVar[str] = "ews"
    capabilities = frozenset({Capability.SEND, Capability.APPEND_TO_SENT,
                              Capability.STREAM_TO_FILE, Capability.PROVIDER_SAVES_SENT,
                              Capability.SYNC, Capability.ACTIONS, Capability.SEARCH,
                              Capability.WATCH})
    #: EWS returns at most 1,000 items per FindItem on Exchange 2013+ (EWSFindCountLimit)
    max_page_size: ClassVar[int] = 1000

    def __init__(self, settings: EwsSettings) -> None:
        super().__init__(address=settings.address, sent_folder=settings.sent_folder,
                         role_overrides=settings.role_overrides,
                         retry=bounded(settings.retry, settings.timeout))
        self.settings = settings
        self._connection = EwsConnection(settings)
        self._ews_folders: dict[str, EwsFolder] = {}
        try:
            with self._boundary():
                self._connection.open()
            self.folders()
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_url(cls, url: str, /, **options: Any) -> EwsMailbox:
        """``ews://alice@example.com`` with ``password=``/``access_token=``, ``url=`` …"""
        return cls(EwsSettings.from_url(url, **options))

    def _boundary(self) -> Any:
        # The endpoint is read when an error happens: autodiscover may set it mid-connect.
        return translating(TABLE, ews_errors.extract, self._connection.endpoint)

    # ------------------------------------------------------------------ connection
    @property
    def endpoint(self) -> str | None:
        """The EWS URL in use: as given, or found by autodiscover while connecting."""
        return self._connection.endpoint

    @property
    def server_version(self) -> str | None:
        """``"Exchange2016 (15.1.2507.6)"`` once connected."""
        return self._connection.server_version

    @property
    def primary_smtp_address(self) -> str | None:
        """The SMTP address the server resolved the mailbox to (``None`` when the address
        book is closed to the account or does not list it)."""
        return self._connection.primary_smtp_address

    @property
    def account(self) -> Account:
        """The exchangelib `Account` (for what inboxlink does not cover)."""
        account = self._connection.account
        if account is None:
            raise errors.MailboxClosed(provider="ews")
        return account

    def close(self) -> None:
        """Close exchangelib's sessions for this mailbox. Safe to call twice."""
        self._stop_watches()
        self._connection.close()

    # ------------------------------------------------------------------ folders
    def _list_folders(self) -> list[Folder]:
        with self._boundary():
            found, self._ews_folders = _folders.load(self.account, self.settings.address)
            return found

    def _ews_folder(self, folder: Folder) -> EwsFolder:
        found = self._ews_folders.get(folder.id)
        if found is None:
            self.folders(refresh=True)
            found = self._ews_folders.get(folder.id)
        if found is None:
            raise errors.FolderNotFound(f"No folder with id {folder.id!r}.", provider="ews")
        return found

    # ------------------------------------------------------------------ listing, fetching
    def _list_page(self, folder: Folder, limit: int, cursor: str | None) -> Page[MessageSummary]:
        offset, anchor = _listing.decode_cursor(cursor, folder.id) if cursor else (0, None)
        with self._boundary():
            return _listing.page(self.account, self._ews_folder(folder), folder.id, limit,
                                 offset, anchor)

    def _fetch_many(self, message_ids: list[str]) -> list[Message]:
        with self._boundary():
            return _listing.fetch(self.account, message_ids, self.settings.fetch_batch_size)

    def fetch_to_file(self, message_id: str, target: str | os.PathLike[str] | IO[bytes]) -> int:
        """Stream the MIME content to ``target``, decoding base64 as the response arrives."""
        def chunks() -> Iterator[bytes]:
            with self._boundary():
                yield from StreamingMimeGetItem(account=self.account).stream(message_id)

        return save_stream(chunks(), target)

    # ------------------------------------------------------------------ sending
    def _send(self, prepared: mime.PreparedMessage, save_copy: bool) -> SendResult:
        with self._boundary():
            sent_folder = self.folder(FolderRole.SENT) if save_copy else None
            message = EwsMessage(
                account=self.account, mime_content=prepared.raw,
                bcc_recipients=[EwsAddress(email_address=a.email) for a in prepared.bcc] or None,
            )
            try:
                results = list(CreateItemOnce(account=self.account).call(
                    items=[message],
                    folder=self._ews_folder(sent_folder) if sent_folder else None,
                    message_disposition=SEND_AND_SAVE_COPY if save_copy else SEND_ONLY,
                    send_meeting_invitations=SEND_TO_NONE))
            except Exception as exc:
                if ews_errors.send_answer_lost(exc):
                    raise errors.SendOutcomeUnknown(
                        "Exchange received the message but its answer was lost "
                        f"({type(exc).__name__}).", raw=prepared.raw,
                        message_id=prepared.message_id, provider=self.provider,
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

    def verify(self, bcc: str, *, from_: str | None = None,
               subject: str = "inboxlink connection test") -> SendResult:
        """Send a test message to ``bcc`` (hidden) as connection set-up flows do.

        The message goes out From ``from_`` (the mailbox address by default) and no copy is
        kept in Sent. Raises `SendAsDenied` when the account may not
        send as that address.
        """
        message = OutgoingMessage(bcc=[bcc], from_=from_ or self.address, subject=subject,
                                  text="This message checks that the mailbox can send mail.\n")
        return self.send(message, save_copy=False)

    def _append(self, spool: Spool, folder: Folder) -> str | None:
        raw = spool.read()  # TODO(issue 15): stream large copies
        with self._boundary():
            # SaveOnly alone makes an unsent draft. PR_MESSAGE_FLAGS = MSGFLAG_READ (without
            # MSGFLAG_UNSENT) at creation makes it a sent, read message, as Outlook's own
            # copies are; IsRead is set too for servers that derive the flag from it.
            copy = SentCopyMessage(account=self.account, mime_content=raw, is_read=True,
                             message_flags=MSGFLAG_READ)
            # Once: a repeated CreateItem would store a second Sent copy.
            try:
                results = list(CreateItemOnce(account=self.account).call(
                    items=[copy], folder=self._ews_folder(folder),
                    message_disposition="SaveOnly", send_meeting_invitations=SEND_TO_NONE))
            except Exception as exc:
                if ews_errors.send_answer_lost(exc):  # may be stored: never retried
                    raise errors.ConnectionLost(
                        "The Sent copy reached Exchange but its answer was lost "
                        f"({type(exc).__name__}).", provider=self.provider,
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
