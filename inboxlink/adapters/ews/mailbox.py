"""The EWS mailbox: exchangelib's service classes driven for few, batched round trips.

Connecting costs at most five requests and checks everything a set-up flow needs: the
auth type (unless known), the server version (Exchange 2010 SP2+), the mailbox's primary
SMTP address (ResolveNames), and the folders (one GetFolder for the distinguished folders,
one deep FindFolder for the tree). Listing is one FindItem (summary fields only) plus one
GetItem for the sender/recipient fields FindItem cannot return; fetching is GetItem with
MIME content for ``fetch_batch_size`` ids per request.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from typing import IO, Any, ClassVar

import requests
from exchangelib import DELEGATE, Account, Configuration, Credentials, FailFast, FaultTolerance
from exchangelib.autodiscover import Autodiscovery
from exchangelib.credentials import OAuth2AuthorizationCodeCredentials
from exchangelib.errors import ErrorAccessDenied, TransportError, UnauthorizedError
from exchangelib.extended_properties import ExtendedProperty
from exchangelib.fields import FieldOrder, FieldPath
from exchangelib.folders import (
    DeletedItems,
    Drafts,
    Inbox,
    JunkEmail,
    MsgFolderRoot,
    Outbox,
    Root,
    SentItems,
)
from exchangelib.folders import Folder as EwsFolder
from exchangelib.items import ID_ONLY, SEND_AND_SAVE_COPY, SEND_ONLY, SEND_TO_NONE, SHALLOW
from exchangelib.items import Message as EwsMessage
from exchangelib.properties import DistinguishedFolderId, ItemId
from exchangelib.properties import Mailbox as EwsAddress
from exchangelib.protocol import Protocol
from exchangelib.restriction import Q, Restriction
from exchangelib.version import Build

from inboxlink import errors, mime
from inboxlink.adapters.ews import errors as ews_errors
from inboxlink.adapters.ews import tokens
from inboxlink.adapters.ews.actions import EwsActions
from inboxlink.adapters.ews.attachments import EwsAttachments
from inboxlink.adapters.ews.budget import budgeted_protocol
from inboxlink.adapters.ews.errors import (
    NO_SMTP_ADDRESS,
    TABLE,
    UNAUTHORIZED_BARE_USERNAME,
    VERSION_TOO_OLD,
)
from inboxlink.adapters.ews.fields import FLAGGED, flag_path, message_fields_with
from inboxlink.adapters.ews.fields import paths as _paths
from inboxlink.adapters.ews.notifications import EwsStreaming
from inboxlink.adapters.ews.oauth import ProviderCredentials, refreshing
from inboxlink.adapters.ews.services import (
    CreateItemOnce,
    FindFolder,
    FindItemRows,
    GetFolder,
    GetItemRows,
)
from inboxlink.adapters.ews.settings import MIN_BUILD, EwsSettings
from inboxlink.adapters.ews.streaming import StreamingMimeGetItem
from inboxlink.adapters.ews.sync import EwsSync
from inboxlink.adapters.ews.tls import protocol_class
from inboxlink.mailbox import BaseMailbox
from inboxlink.models import (
    Address,
    Capability,
    Folder,
    FolderRole,
    Message,
    MessageSummary,
    OutgoingMessage,
    Page,
    RoleSource,
    SendResult,
    SentCopy,
    save_stream,
)
from inboxlink.retry import bounded
from inboxlink.spool import Spool
from inboxlink.translate import Signal, translating

__all__ = ["EwsMailbox"]

#: distinguished folders asked for in one GetFolder, and the role each one states
_DISTINGUISHED: tuple[tuple[type[EwsFolder], FolderRole | None], ...] = (
    (Inbox, FolderRole.INBOX),
    (SentItems, FolderRole.SENT),
    (Drafts, FolderRole.DRAFTS),
    (DeletedItems, FolderRole.TRASH),
    (JunkEmail, FolderRole.JUNK),
    (Outbox, None),
)
_FOLDER_FIELDS = ("name", "parent_folder_id", "folder_class", "total_count", "unread_count")
#: what FindItem can return for a summary (everything but addresses)
_LIST_FIELDS = ("subject", "datetime_received", "datetime_sent", "size", "message_id", "is_read",
                "is_draft", "in_reply_to", "references", "conversation_id")
#: what FindItem cannot return (Exchange refuses recipient collections there): one GetItem
_ADDRESS_FIELDS = ("author", "to_recipients", "cc_recipients")
_FETCH_FIELDS = ("mime_content", "is_read", "is_draft", "parent_folder_id", "conversation_id")
_CURSOR_PREFIX = "ews1."
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


def _utc(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def _address(box: tuple[str | None, str] | None) -> Address | None:
    if box is None:
        return None
    name, email = box
    return Address(email=email, name=name if name and name != email else None)


def _flags(item: Any) -> frozenset[str]:
    flags = set()
    if item.is_read:
        flags.add("\\Seen")
    if item.is_draft:
        flags.add("\\Draft")
    if getattr(item, "flag_status", None) == FLAGGED:
        flags.add("\\Flagged")
    return frozenset(flags)


def _encode_cursor(folder_id: str, offset: int, anchor: str | None) -> str:
    return tokens.encode(_CURSOR_PREFIX, {"f": folder_id, "o": offset, "a": anchor})


def _decode_cursor(cursor: str, folder_id: str) -> tuple[int, str | None]:
    try:
        data = tokens.decode(_CURSOR_PREFIX, cursor)
        offset, anchor = int(data["o"]), data["a"]
        if data["f"] != folder_id or offset < 0:
            raise ValueError(cursor)
    except (ValueError, KeyError, TypeError) as exc:
        raise errors.CursorExpired(
            "The cursor does not belong to this folder listing.", provider="ews", code="cursor",
            remedy="Pass the next_cursor of a page of the same folder, or start without a cursor.",
        ) from exc
    return offset, anchor


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
        #: the EWS URL in use: as given, or found by autodiscover while connecting
        self.endpoint: str | None = settings.endpoint
        #: "Exchange2016 (15.1.2507.6)" once connected
        self.server_version: str | None = None
        #: the SMTP address the server resolved the mailbox to (``None`` when the address
        #: book is closed to the account or does not list it)
        self.primary_smtp_address: str | None = None
        self._config: Configuration | None = None
        self._protocol: Any = None
        self._account: Account | None = None
        self._ews_folders: dict[str, EwsFolder] = {}
        try:
            with self._boundary():
                self._connect()
            self.folders()
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_url(cls, url: str, /, **options: Any) -> EwsMailbox:
        """``ews://alice@example.com`` with ``password=``/``access_token=``, ``url=`` …"""
        return cls(EwsSettings.from_url(url, **options))

    # ------------------------------------------------------------------ boundary
    def _boundary(self) -> Any:
        # The endpoint is read when an error happens: autodiscover may set it mid-connect.
        return translating(TABLE, ews_errors.extract, self.endpoint)

    def _fail(self, code: str, text: str, **details: Any) -> errors.InboxLinkError:
        """The table's error for a check inboxlink makes itself (no exchangelib exception)."""
        rule = TABLE.match(Signal("ews", code, text))
        if rule is None:
            return TABLE.error_for(Signal("ews", code, text, details=details))
        message = None if details.get("server_version") else text
        return rule.error(message, provider="ews", code=code, remedy=rule.remedy, **details)

    @property
    def account(self) -> Account:
        """The exchangelib `Account` (for what inboxlink does not cover)."""
        if self._account is None:
            raise errors.ConnectionLost("The mailbox is closed.", provider="ews",
                                        remedy="Connect again.", retryable=False)
        return self._account

    # ------------------------------------------------------------------ connecting
    def _credentials(self) -> Any:
        settings = self.settings
        if settings.token_provider is not None:
            return ProviderCredentials(settings.token_provider)
        if settings.access_token:
            return OAuth2AuthorizationCodeCredentials(
                access_token={"access_token": settings.access_token, "token_type": "Bearer"})
        if settings.password is None:
            raise errors.ConfigurationError(
                "No password or access token was given.", provider="ews", code="credentials",
                remedy="Pass password= (or an app password), or access_token= for OAuth.")
        return Credentials(username=settings.login, password=settings.password)

    def _discover(self, credentials: Any) -> str:
        settings = self.settings
        if settings.autodiscover_url:
            from exchangelib.autodiscover.protocol import AutodiscoverProtocol
            from exchangelib.services import GetUserSettings

            cls = protocol_class(settings.ssl_context, settings.verify_tls, AutodiscoverProtocol)
            protocol = cls(config=Configuration(
                service_endpoint=settings.autodiscover_url, credentials=credentials,
                auth_type=settings.exchangelib_auth_type(), retry_policy=FailFast()))
            try:
                response = GetUserSettings(protocol=protocol).get(
                    users=[settings.address], settings=["external_ews_url", "internal_ews_url"])
            finally:
                protocol.close()
            response.raise_errors()
            url = response.ews_url
        else:
            discovery = Autodiscovery(email=settings.address, credentials=credentials)
            # exchangelib allows 120 s per DNS query; a set-up flow should not wait that long.
            discovery.DNS_RESOLVER_LIFETIME = min(settings.timeout, 15.0)
            discovery.DNS_RESOLVER_ATTRS = {"timeout": min(settings.timeout, 5.0)}
            response, protocol = discovery.discover()
            url = protocol.service_endpoint
        if not url:
            raise self._fail("AutoDiscoverFailed", "Autodiscover returned no EWS URL.")
        return str(url)

    def _connect(self) -> None:
        credentials = self._credentials()
        if self.endpoint is None:
            self.endpoint = self._discover(credentials)
        config = Configuration(
            service_endpoint=self.endpoint, credentials=credentials,
            auth_type=self.settings.exchangelib_auth_type(),
            # FailFast while connecting: FaultTolerance would retry a 401 for up to an hour.
            retry_policy=refreshing(FailFast(), credentials),
        )
        # exchangelib caches one Protocol per (endpoint, credentials), server version included;
        # a new connection must see the server as it is now.
        self._forget_protocol(config)
        self._config = config
        # Created first so that the Account below finds it in exchangelib's protocol cache.
        self._protocol = self._protocol_class()(config=config)
        account = Account(primary_smtp_address=self.settings.address, config=config,
                          autodiscover=False, access_type=DELEGATE,
                          default_timezone=None, locale="en_US")
        account.protocol.TIMEOUT = self.settings.timeout
        try:
            version = account.protocol.version
        except UnauthorizedError as exc:
            login = self.settings.login
            if not self.settings.access_token and "\\" not in login and "@" not in login:
                raise self._fail(UNAUTHORIZED_BARE_USERNAME, str(exc)) from exc
            raise
        except TransportError as exc:
            offered = self._offered_auth_schemes() if "Failed to get auth type" in str(exc) \
                else None
            if offered:
                raise self._fail("UnauthorizedError",
                                 "No compatible auth type was reported by server (it offers: "
                                 f"{offered}).") from exc
            raise
        self.server_version = f"{version.fullname} ({version.build})"
        if version.build < Build(*MIN_BUILD):
            raise self._fail(VERSION_TOO_OLD, f"Server version {version.build}",
                             server_version=self.server_version)
        self._account = account
        self._check_smtp_address(account)
        if self.settings.throttle_max_wait > 0:
            config.retry_policy = refreshing(
                FaultTolerance(max_wait=self.settings.throttle_max_wait), credentials)

    def _protocol_class(self) -> type[Any]:
        cls = protocol_class(self.settings.ssl_context, self.settings.verify_tls)
        if self.settings.budget is None:
            return cls
        return budgeted_protocol(cls, self.settings.budget, f"ews:{self.endpoint}/"
                                 f"{self.settings.address.casefold()}",
                                 self.settings.max_concurrent, self.settings.timeout)

    def _check_smtp_address(self, account: Account) -> None:
        try:
            results = list(account.protocol.resolve_names(names=[self.settings.address]))
        except ErrorAccessDenied:
            return  # the address book is closed to this account: nothing to check against
        boxes = [r for r in results if not isinstance(r, Exception)]
        if not boxes:
            # Not resolvable (e.g. hidden from the address book): the folder look-up that
            # follows still proves the mailbox exists.
            return
        mine = [b for b in boxes
                if (b.email_address or "").lower() == self.settings.address.lower()]
        box = (mine or boxes)[0]
        if (box.routing_type or "SMTP").upper() != "SMTP" or "@" not in (box.email_address or ""):
            raise self._fail(
                NO_SMTP_ADDRESS,
                f"The mailbox {self.settings.address} resolves to {box.email_address!r} "
                f"({box.routing_type}), not to an SMTP address.")
        self.primary_smtp_address = box.email_address

    def _offered_auth_schemes(self) -> str | None:
        """After exchangelib found no usable auth type: what the server does offer, if it
        answers like EWS (401 + WWW-Authenticate) rather than like a web page."""
        assert self.endpoint is not None
        try:
            response = requests.post(self.endpoint, data=b"", allow_redirects=False,
                                     timeout=self.settings.timeout,
                                     headers={"Content-Type": "text/xml; charset=utf-8"})
        except requests.RequestException:
            return None
        with response:
            offered = response.headers.get("WWW-Authenticate")
            return offered if response.status_code == 401 and offered else None

    @staticmethod
    def _forget_protocol(config: Configuration, only: Any = None) -> None:
        """Drop exchangelib's cached Protocol for ``config`` (only if it is ``only``, if given).

        Another open mailbox may still use a dropped protocol; it keeps working, it is just
        no longer handed to new connections.
        """
        try:
            cached, _ = Protocol[config]
        except KeyError:
            return
        if only is None or cached is only:
            del Protocol[config]

    def close(self) -> None:
        """Close exchangelib's sessions for this mailbox. Safe to call twice."""
        self._stop_watches()
        if self._protocol is not None and self._config is not None:
            self._protocol.close()
            self._forget_protocol(self._config, only=self._protocol)
        self._protocol = None
        self._account = None

    # ------------------------------------------------------------------ folders
    def _list_folders(self) -> list[Folder]:
        with self._boundary():
            return self._load_folders()

    def _load_folders(self) -> list[Folder]:
        account = self.account
        owner = EwsAddress(email_address=self.settings.address)
        top = Root(account=account,
                   _distinguished_id=DistinguishedFolderId(id="root", mailbox=owner))
        wanted = [MsgFolderRoot, *(cls for cls, _ in _DISTINGUISHED)]
        asked = [cls(root=top, _distinguished_id=DistinguishedFolderId(
            id=cls.DISTINGUISHED_FOLDER_ID, mailbox=owner)) for cls in wanted]
        found = list(GetFolder(account=account).call(
            folders=asked, additional_fields=_paths(EwsFolder, _FOLDER_FIELDS), shape=ID_ONLY))
        roles: dict[str, FolderRole] = {}
        distinguished: dict[str, str] = {}
        root_folder = None
        for cls, result in zip(wanted, found, strict=True):
            if isinstance(result, Exception):
                if type(result).__name__ in ("ErrorFolderNotFound", "ErrorInvalidRequest"):
                    continue  # a distinguished folder this server or mailbox does not have
                raise result
            distinguished[result.id] = cls.DISTINGUISHED_FOLDER_ID
            if cls is MsgFolderRoot:
                root_folder = result
                continue
            role = dict(_DISTINGUISHED).get(cls)
            if role is not None:
                roles[result.id] = role
        if root_folder is None:
            raise self._fail("ErrorFolderNotFound", "The mailbox has no message folder root.")
        tree = [f for f in FindFolder(account=account).call(
            folders=[root_folder], additional_fields=_paths(EwsFolder, _FOLDER_FIELDS),
            restriction=None, shape=ID_ONLY, depth="Deep", max_items=None, offset=0)]
        for item in tree:
            if isinstance(item, Exception):
                raise item
        return self._to_folders(root_folder.id, tree, roles, distinguished)

    def _to_folders(self, root_id: str, tree: list[Any], roles: dict[str, FolderRole],
                    distinguished: dict[str, str]) -> list[Folder]:
        by_id = {f.id: f for f in tree}
        self._ews_folders = dict(by_id)

        def path_of(folder: Any) -> str:
            parts = [folder.name or ""]
            parent = folder.parent_folder_id.id if folder.parent_folder_id else None
            while parent and parent != root_id and parent in by_id:
                parts.append(by_id[parent].name or "")
                parent = by_id[parent].parent_folder_id.id if by_id[parent].parent_folder_id \
                    else None
            return "/".join(reversed(parts))

        result = []
        for ews in tree:
            folder_class = ews.folder_class or ""
            if folder_class and not folder_class.startswith("IPF.Note"):
                continue  # calendars, contacts, tasks: not mail folders
            role = roles.get(ews.id)
            parent = ews.parent_folder_id.id if ews.parent_folder_id else None
            marks = {f"distinguished:{distinguished[ews.id]}"} if ews.id in distinguished else set()
            result.append(Folder(
                id=ews.id, name=ews.name or "", path=path_of(ews), role=role,
                role_source=RoleSource.PROVIDER if role else None,
                parent_id=None if parent == root_id else parent, attributes=frozenset(marks),
                total=ews.total_count, unread=ews.unread_count,
            ))
        return result

    def _ews_folder(self, folder: Folder) -> EwsFolder:
        found = self._ews_folders.get(folder.id)
        if found is None:
            self.folders(refresh=True)
            found = self._ews_folders.get(folder.id)
        if found is None:
            raise errors.FolderNotFound(f"No folder with id {folder.id!r}.", provider="ews")
        return found

    # ------------------------------------------------------------------ listing
    def _list_page(self, folder: Folder, limit: int, cursor: str | None) -> Page[MessageSummary]:
        offset, anchor = _decode_cursor(cursor, folder.id) if cursor else (0, None)
        with self._boundary():
            return self._find_page(folder, limit, offset, anchor)

    def _find_page(self, folder: Folder, limit: int, offset: int,
                   anchor: str | None) -> Page[MessageSummary]:
        account = self.account
        ews_folder = self._ews_folder(folder)
        restriction = None
        if anchor is not None:
            # Later pages only see what existed when the listing started, so mail arriving
            # meanwhile (newest first = at offset 0) does not shift the offsets.
            bound = dt.datetime.fromisoformat(anchor)
            restriction = Restriction(Q(datetime_received__lte=bound), folders=[ews_folder],
                                      applies_to=Restriction.ITEMS)
        received = FieldPath(field=EwsMessage.get_field_by_fieldname("datetime_received"))
        finder = FindItemRows(account=account, page_size=limit)
        found = list(finder.call(
            folders=[ews_folder],
            additional_fields=[*_paths(EwsMessage, _LIST_FIELDS), flag_path()],
            restriction=restriction, order_fields=[FieldOrder(field_path=received, reverse=True)],
            shape=ID_ONLY, query_string=None, depth=SHALLOW, calendar_view=None,
            max_items=limit, offset=offset))
        for entry in found:
            if isinstance(entry, Exception):
                raise entry
        total = finder.total_in_view
        more = offset + len(found) < total if total is not None else len(found) == limit
        if not found:
            return Page(items=(), next_cursor=None)
        addresses = self._addresses_for([i.id for i in found])
        newest = _utc(found[0].datetime_received)
        if anchor is None and newest is not None:
            anchor = newest.isoformat()
        items = [self._summary(folder.id, item, addresses.get(item.id)) for item in found]
        next_cursor = _encode_cursor(folder.id, offset + len(found), anchor) if more else None
        return Page(items=items, next_cursor=next_cursor)

    def _addresses_for(self, ids: list[str]) -> dict[str, Any]:
        getter = GetItemRows(account=self.account, chunk_size=max(len(ids), 1))
        result = {}
        for item in getter.call(items=[ItemId(id=i) for i in ids],
                                additional_fields=_paths(EwsMessage, _ADDRESS_FIELDS),
                                shape=ID_ONLY):
            if isinstance(item, Exception):
                if type(item).__name__ == "ErrorItemNotFound":
                    continue  # deleted between FindItem and GetItem: listed without addresses
                raise item
            result[item.id] = item
        return result

    @staticmethod
    def _summary(folder_id: str, item: Any, extra: Any) -> MessageSummary:
        return MessageSummary(
            id=item.id, folder_id=folder_id, subject=item.subject,
            from_=_address(extra.author) if extra is not None else None,
            to=tuple(a for a in map(_address, extra.to_recipients if extra else []) if a),
            cc=tuple(a for a in map(_address, extra.cc_recipients if extra else []) if a),
            date=_utc(item.datetime_sent), received_at=_utc(item.datetime_received),
            message_id=item.message_id, in_reply_to=item.in_reply_to,
            references=mime.split_msgids(item.references), flags=_flags(item),
            size=item.size, thread_id=item.conversation_id,
        )

    # ------------------------------------------------------------------ fetching
    def _fetch_many(self, message_ids: list[str]) -> list[Message]:
        with self._boundary():
            getter = GetItemRows(account=self.account,
                                 chunk_size=self.settings.fetch_batch_size)
            results = list(getter.call(items=[ItemId(id=i) for i in message_ids],
                                       additional_fields=[*_paths(EwsMessage, _FETCH_FIELDS),
                                                          flag_path()],
                                       shape=ID_ONLY))
            messages = []
            for wanted, item in zip(message_ids, results, strict=True):
                if isinstance(item, Exception):
                    raise item
                messages.append(Message(
                    id=wanted, folder_id=item.parent_folder_id or "",
                    raw=item.mime_content or b"", flags=_flags(item),
                    thread_id=item.conversation_id,
                ))
            return messages

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
            copy = _SentCopy(account=self.account, mime_content=raw, is_read=True,
                             message_flags=_MSGFLAG_READ)
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
