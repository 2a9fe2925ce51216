"""A small Exchange Web Services emulator: a real HTTP server on 127.0.0.1 speaking SOAP.

It answers the operations exchangelib sends for what the EWS adapter uses — ConvertId
(exchangelib's version probe), ResolveNames, GetFolder, FindFolder, FindItem, GetItem
(with MimeContent), CreateItem (SendAndSaveCopy / SendOnly / SaveOnly) and the autodiscover
GetUserSettings — with response bodies shaped like Exchange's, including its error bodies
(ResponseMessage errors, SOAP faults with BackOffMilliseconds, HTTP 401/503, X-CasErrorCode).

Other paths behave like the other things an "Exchange URL" can point at: ``/owa`` and
``/home`` redirect to the Outlook Web App login page, ``/portal`` answers an HTML page.

Tests change ``server.version`` (the ServerVersionInfo every response carries), queue
failures with :meth:`EwsEmulator.fail_next`, deliver mail with :meth:`EwsEmulator.deliver`
and read :attr:`EwsEmulator.outbox` and :attr:`EwsEmulator.requests`.

The change half (change log, SyncFolderItems, UpdateItem, MoveItem, DeleteItem, FindItem
restrictions) lives in ``emulator_changes.py``, streaming notifications (Subscribe,
GetStreamingEvents, Unsubscribe) in ``emulator_streaming.py``, drafts sent in steps
(CreateAttachment, SendItem) and the size limits in ``emulator_send.py``; all are mixed in.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.utils
import hashlib
import http.server
import itertools
import re
import socket
import ssl
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesHeaderParser
from typing import Any
from xml.sax.saxutils import escape

from .emulator_attachments import AttachmentOps
from .emulator_changes import ChangeOps, RestrictionError, SchemaError, restrict
from .emulator_send import REQUEST_TOO_LARGE, SendOps
from .emulator_streaming import StreamOps

S = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
E = "http://schemas.microsoft.com/exchange/services/2006/errors"
A_REQ = "http://schemas.microsoft.com/exchange/2010/Autodiscover"

#: (major, minor) → the schema name Exchange puts in ServerVersionInfo/@Version
_SCHEMA = {
    (8, 3): "Exchange2007_SP1", (14, 0): "Exchange2010", (14, 1): "Exchange2010_SP1",
    (14, 2): "Exchange2010_SP2", (14, 3): "Exchange2010_SP2", (15, 0): "Exchange2013_SP1",
    (15, 1): "Exchange2016", (15, 2): "Exchange2019", (15, 20): "V2018_01_08",
}

#: distinguished folder id → display name (the folders every mailbox gets)
DISTINGUISHED = {
    "inbox": "Inbox", "sentitems": "Sent Items", "drafts": "Drafts",
    "deleteditems": "Deleted Items", "junkemail": "Junk Email", "outbox": "Outbox",
}
#: ordinary folders a new mailbox gets too. Outlook's one-click "Archive" folder is a plain
#: folder under the message root (EWS has no distinguished id for it; "archivemsgfolderroot"
#: is the separate online-archive mailbox), so clients find it by name.
PLAIN_FOLDERS = ("Archive",)

#: Exchange's standard MessageText for the codes tests inject
MESSAGE_TEXT = {
    "ErrorItemNotFound": "The specified object was not found in the store.",
    "ErrorFolderNotFound": "The specified folder could not be found in the store.",
    "ErrorInvalidIdMalformed": "Id is malformed.",
    "ErrorServerBusy": "The server cannot service this request right now. Try again later.",
    "ErrorNonExistentMailbox": "The SMTP address has no mailbox associated with it.",
    "ErrorSendAsDenied": "The user account which was used to submit this request does not "
                         "have the right to send mail on behalf of the specified sending account.",
    "ErrorAccessDenied": "Access is denied. Check credentials and try again.",
    "ErrorImpersonateUserDenied": "The account does not have permission to impersonate the "
                                  "requested user.",
    "ErrorMailboxStoreUnavailable": "The mailbox database is temporarily unavailable.",
    "ErrorMailboxMoveInProgress": "The mailbox is being moved.",
    "ErrorQuotaExceeded": "The mailbox quota has been exceeded.",
    "ErrorMessageSizeExceeded": "The message exceeds the maximum supported size.",
    "ErrorSubmissionQuotaExceeded": "The message can't be submitted because the sender's "
                                    "submission quota was exceeded.",
    "ErrorExceededConnectionCount": "You have exceeded the available concurrent connections "
                                    "for your account. Try again once your other requests "
                                    "have completed.",
    "ErrorTooManyObjectsOpened": "Too many objects opened.",
    "ErrorInvalidServerVersion": "The specified server version is invalid.",
    "ErrorNameResolutionNoResults": "No results were found.",
    "ErrorInvalidPropertyRequest": "The property can't be used in FindItem requests.",
    "ErrorInternalServerError": "An internal server error occurred. The operation failed.",
    "ErrorInvalidSyncStateData": "Synchronization state data is corrupt or otherwise invalid.",
    "ErrorSchemaValidation": "The request failed schema validation.",
}

#: FindItem cannot return these (Exchange answers ErrorInvalidPropertyRequest); GetItem can
_GETITEM_ONLY = {"message:ToRecipients", "message:CcRecipients", "message:BccRecipients",
                 "item:MimeContent", "item:Body", "item:Attachments"}

_HEADERS = BytesHeaderParser(policy=policy.default)
#: Exchange 2013+ default throttling policy: at most 1,000 items per FindItem page
FIND_COUNT_LIMIT = 1000


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Item:
    """One stored message."""

    id: str
    folder_id: str
    mime: bytes
    received: dt.datetime
    seq: int
    is_read: bool = False
    is_draft: bool = False
    change_key: str = "CQAAABYAAAB"
    #: PidTagFlagStatus (0x1090): 0 none, 1 complete, 2 flagged
    flag_status: int = 0
    #: BccRecipients given with a draft (they are not in its MIME)
    bcc: tuple[str, ...] = ()
    _headers: Any = field(default=None, repr=False, compare=False)

    def header(self, name: str) -> str | None:
        if self._headers is None:
            self._headers = _HEADERS.parsebytes(self.mime)
        value = self._headers.get(name)
        return None if value is None else str(value)

    @property
    def conversation_id(self) -> str:
        """Exchange groups a conversation by its root message (the first References entry,
        else In-Reply-To, else the message itself), never by subject."""
        refs = (self.header("References") or "").split()
        root = (refs[0] if refs else None) or self.header("In-Reply-To") \
            or self.header("Message-ID") or self.id
        digest = hashlib.sha1(root.strip().encode()).digest()[:16]
        return base64.b64encode(b"\x01\x00conv" + digest).decode()

    @property
    def has_attachments(self) -> bool:
        message = email.message_from_bytes(self.mime, policy=policy.default)
        return any(True for _ in message.iter_attachments()) \
            if message.is_multipart() else False

    def body_text(self) -> str:
        message = email.message_from_bytes(self.mime, policy=policy.default)
        found = message.get_body(preferencelist=("plain", "html"))
        return str(found.get_content()) if found is not None else ""


@dataclass
class Folder:
    """One folder of a mailbox."""

    id: str
    name: str
    parent_id: str | None
    distinguished: str | None = None


@dataclass
class User:
    """An account that can sign in, and its mailbox."""

    address: str
    password: str
    logins: tuple[str, ...]  #: accepted login names (UPN, DOMAIN\\user, the address)
    smtp: bool = True  #: False: the mailbox has no primary SMTP address
    send_as: set[str] = field(default_factory=set)  #: other From addresses allowed
    folders: dict[str, Folder] = field(default_factory=dict)
    root_id: str = ""


@dataclass
class Failure:
    """A queued failure: what to answer instead of the operation's normal response."""

    operation: str | None  #: SOAP operation name, or None for the next request of any kind
    kind: str  #: "code" | "fault" | "http" | "close"
    code: str = ""
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    back_off_ms: int | None = None
    times: int = 1


class EwsEmulator(ChangeOps, StreamOps, AttachmentOps, SendOps):
    """The emulator's state; :meth:`start` serves it on a loopback port."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, host: str = "127.0.0.1"):
        self.version: tuple[int, int, int, int] = (15, 1, 2507, 6)
        self.auth_schemes: list[str] = ["Basic"]
        self.users: dict[str, User] = {}
        self.tokens: dict[str, str] = {}  #: bearer token → user address
        self.items: dict[str, Item] = {}
        self.outbox: list[tuple[bytes, list[str]]] = []  #: (raw sent, envelope recipients)
        self.requests: list[str] = []  #: "GetItem", "FindItem", "POST /owa" …
        self.request_sizes: list[int] = []
        self.response_sizes: list[int] = []  #: bytes of each response body
        self.server_seconds = 0.0  #: time spent answering (benchmarks subtract it)
        self.delay = 0.0  #: seconds every POST is held before it is answered
        self.in_flight = 0  #: POSTs being answered now
        self.peak = 0  #: the most POSTs ever answered at once
        self.lock = threading.Lock()
        self.failures: list[Failure] = []
        self.locked_out: set[str] = set()
        self.change_log: list[tuple[int, str, str, str]] = []
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._lock = threading.RLock()
        self._ssl = ssl_context
        self._host = host
        self._httpd: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ set-up
    def add_user(self, address: str, password: str, *, logins: Iterable[str] = (),
                 smtp: bool = True) -> User:
        """Create an account with an empty mailbox holding the distinguished folders."""
        user = User(address=address, password=password,
                    logins=(address, *logins), smtp=smtp)
        top = Folder(self._new_id("F"), "Root", None, "root")
        root = Folder(self._new_id("F"), "Top of Information Store", top.id, "msgfolderroot")
        user.root_id = root.id
        user.folders[top.id] = top
        user.folders[root.id] = root
        for key, name in DISTINGUISHED.items():
            folder = Folder(self._new_id("F"), name, root.id, key)
            user.folders[folder.id] = folder
        for name in PLAIN_FOLDERS:
            folder = Folder(self._new_id("F"), name, root.id)
            user.folders[folder.id] = folder
        self.users[address.lower()] = user
        return user

    def add_folder(self, address: str, name: str, parent: str | None = None) -> str:
        """Create a user folder under ``parent`` (a folder id; the root by default)."""
        user = self.users[address.lower()]
        folder = Folder(self._new_id("F"), name, parent or user.root_id)
        user.folders[folder.id] = folder
        return folder.id

    def folder_id(self, address: str, distinguished: str) -> str:
        """The id of a distinguished folder of a mailbox."""
        user = self.users[address.lower()]
        return next(f.id for f in user.folders.values() if f.distinguished == distinguished)

    def deliver(self, address: str, raw: bytes, folder: str = "inbox",
                received: dt.datetime | None = None) -> str:
        """Store an incoming message (as the transport would), unread; returns its id."""
        with self._lock:
            item = Item(self._new_id("I"), self.folder_id(address, folder), raw,
                        received or dt.datetime.now(dt.timezone.utc), next(self._seq))
            self._store(item)
            return item.id

    def fail_next(self, operation: str | None, code: str = "", *, kind: str = "code",
                  status: int = 500, headers: dict[str, str] | None = None, body: bytes = b"",
                  back_off_ms: int | None = None, times: int = 1) -> None:
        """Answer the next ``operation`` (None: any request) with a failure instead."""
        with self._lock:
            self.failures.append(Failure(operation, kind, code, status, dict(headers or {}),
                                         body, back_off_ms, times))

    def sent_raw(self) -> list[bytes]:
        """What left the server, oldest first."""
        return [raw for raw, _ in self.outbox]

    def count(self, operation: str) -> int:
        """How many requests of ``operation`` arrived."""
        return sum(1 for r in self.requests if r == operation)

    def _new_id(self, kind: str) -> str:
        # Shaped like Exchange ids: base64 of an opaque binary blob, padded.
        blob = b"\x00\x00inboxlink-emu" + kind.encode() + next(self._ids).to_bytes(6, "big")
        return base64.b64encode(blob).decode()

    # ------------------------------------------------------------------ serving
    def start(self) -> str:
        """Serve on a free loopback port; returns the base URL (``http(s)://127.0.0.1:PORT``)."""
        emulator = self

        class Handler(_Handler):
            state = emulator

        httpd = http.server.ThreadingHTTPServer((self._host, 0), Handler)
        httpd.daemon_threads = True
        if self._ssl is not None:
            httpd.socket = self._ssl.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        scheme = "https" if self._ssl else "http"
        return f"{scheme}://{self._host}:{httpd.server_address[1]}"

    def stop(self) -> None:
        """Stop serving."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None
        scheme = "https" if self._ssl else "http"
        return f"{scheme}://{self._host}:{self._httpd.server_address[1]}"

    @property
    def ews_url(self) -> str:
        return self.base_url + "/EWS/Exchange.asmx"

    # ------------------------------------------------------------------ failures
    def _take_failure(self, operation: str) -> Failure | None:
        with self._lock:
            for failure in self.failures:
                if failure.operation in (None, operation):
                    failure.times -= 1
                    if failure.times <= 0:
                        self.failures.remove(failure)
                    return failure
        return None

    # ------------------------------------------------------------------ auth
    def authenticate(self, header: str | None) -> User | None:
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                login, _, password = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return None
            for user in self.users.values():
                if login.lower() in (x.lower() for x in user.logins) and password == user.password:
                    return user
            return None
        if scheme.lower() == "bearer":
            address = self.tokens.get(value.strip())
            return self.users.get(address.lower()) if address else None
        return None

    def user_for_login(self, login: str) -> User | None:
        for user in self.users.values():
            if login.lower() in (x.lower() for x in user.logins):
                return user
        return None

    def write_ntlm_users(self, path: str) -> None:
        """Write pyspnego's NTLM_USER_FILE (DOMAIN:USER:PASSWORD) for every login."""
        lines = []
        for user in self.users.values():
            for login in user.logins:
                domain, _, name = login.rpartition("\\")
                lines.append(f"{domain}:{name}:{user.password}")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")

    # ------------------------------------------------------------------ SOAP
    def soap(self, user: User, operation: str, body: ET.Element) -> tuple[int, bytes]:
        failure = self._take_failure(operation)
        if failure is not None and failure.kind == "code":
            return 200, self._envelope(self._error_response(operation, failure))
        if failure is not None and failure.kind == "fault":
            return 500, self._fault(failure)
        handler = getattr(self, f"_op_{operation}", None)
        if handler is None:
            return 500, self._fault(Failure(operation, "fault", "ErrorInvalidRequest"))
        with self._lock:
            try:
                return 200, self._envelope(handler(user, body))
            except SchemaError:
                return 500, self._fault(Failure(operation, "fault", "ErrorSchemaValidation"))
            except RestrictionError as exc:
                return 200, self._envelope(self._wrap(operation, [self._message(
                    operation, "ErrorUnsupportedPathForQuery",
                    text=f"The property path {exc} can't be used in a restriction.")]))

    def _envelope(self, content: str) -> bytes:
        major, minor, build, minor_build = self.version
        schema = _SCHEMA.get((major, minor), "Exchange2016")
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<s:Envelope xmlns:s="{S}"><s:Header>'
            f'<h:ServerVersionInfo MajorVersion="{major}" MinorVersion="{minor}" '
            f'MajorBuildNumber="{build}" MinorBuildNumber="{minor_build}" Version="{schema}" '
            f'xmlns:h="{T}" xmlns="{T}"/>'
            f'</s:Header><s:Body xmlns:m="{M}" xmlns:t="{T}">{content}</s:Body></s:Envelope>'
        ).encode()

    def _fault(self, failure: Failure) -> bytes:
        # Exchange's SOAP faults carry no ServerVersionInfo header.
        code = failure.code
        text = escape(MESSAGE_TEXT.get(code, code))
        extra = ""
        if failure.back_off_ms is not None:
            extra = (f'<t:MessageXml xmlns:t="{T}"><t:Value Name="BackOffMilliseconds">'
                     f"{failure.back_off_ms}</t:Value></t:MessageXml>")
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<s:Envelope xmlns:s="{S}"><s:Body>'
            f'<s:Fault><faultcode xmlns:a="{T}">a:{code}</faultcode>'
            f'<faultstring xml:lang="en-US">{text}</faultstring><detail>'
            f'<e:ResponseCode xmlns:e="{E}">{code}</e:ResponseCode>'
            f'<e:Message xmlns:e="{E}">{text}</e:Message>{extra}</detail></s:Fault>'
            "</s:Body></s:Envelope>"
        ).encode()

    @staticmethod
    def _message(operation: str, code: str, inner: str = "", back_off_ms: int | None = None,
                 text: str | None = None) -> str:
        if code == "NoError":
            return (f'<m:{operation}ResponseMessage ResponseClass="Success">'
                    f"<m:ResponseCode>NoError</m:ResponseCode>{inner}"
                    f"</m:{operation}ResponseMessage>")
        extra = ""
        if back_off_ms is not None:
            extra = (f'<m:MessageXml><t:Value Name="BackOffMilliseconds">{back_off_ms}'
                     f"</t:Value></m:MessageXml>")
        message = escape(text or MESSAGE_TEXT.get(code, code))
        return (f'<m:{operation}ResponseMessage ResponseClass="Error">'
                f"<m:MessageText>{message}</m:MessageText>"
                f"<m:ResponseCode>{code}</m:ResponseCode>"
                f"<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>{extra}{inner}"
                f"</m:{operation}ResponseMessage>")

    def _error_response(self, operation: str, failure: Failure) -> str:
        message = self._message(operation, failure.code, back_off_ms=failure.back_off_ms)
        return self._wrap(operation, [message])

    @staticmethod
    def _wrap(operation: str, messages: list[str]) -> str:
        return (f"<m:{operation}Response><m:ResponseMessages>{''.join(messages)}"
                f"</m:ResponseMessages></m:{operation}Response>")

    # ------------------------------------------------------------------ helpers
    def _mailbox_of(self, user: User, elem: ET.Element) -> User | str:
        mailbox = elem.find(_q(T, "Mailbox"))
        if mailbox is None:
            return user
        address = (mailbox.findtext(_q(T, "EmailAddress")) or "").lower()
        target = self.users.get(address)
        if target is None:
            return "ErrorNonExistentMailbox"
        if target is not user:
            return "ErrorAccessDenied"
        return target

    def _resolve_folder(self, user: User, elem: ET.Element) -> Folder | str:
        if elem.tag == _q(T, "DistinguishedFolderId"):
            owner = self._mailbox_of(user, elem)
            if isinstance(owner, str):
                return owner
            key = elem.get("Id")
            for folder in owner.folders.values():
                if folder.distinguished == key:
                    return folder
            return "ErrorFolderNotFound"
        folder_id = elem.get("Id", "")
        if not _valid_id(folder_id):
            return "ErrorInvalidIdMalformed"
        found = user.folders.get(folder_id)
        return found if found is not None else "ErrorFolderNotFound"

    def _folder_xml(self, user: User, folder: Folder) -> str:
        total = sum(1 for i in self.items.values() if i.folder_id == folder.id)
        unread = sum(1 for i in self.items.values() if i.folder_id == folder.id and not i.is_read)
        children = sum(1 for f in user.folders.values() if f.parent_id == folder.id)
        parent = f'<t:ParentFolderId Id="{folder.parent_id}" ChangeKey="AQAAAA=="/>' \
            if folder.parent_id else ""
        return (f'<t:Folder><t:FolderId Id="{folder.id}" ChangeKey="AQAAABYAAAA="/>{parent}'
                f"<t:FolderClass>IPF.Note</t:FolderClass>"
                f"<t:DisplayName>{escape(folder.name)}</t:DisplayName>"
                f"<t:TotalCount>{total}</t:TotalCount><t:ChildFolderCount>{children}"
                f"</t:ChildFolderCount><t:UnreadCount>{unread}</t:UnreadCount></t:Folder>")

    @staticmethod
    def _requested(body: ET.Element, shape_tag: str) -> set[str]:
        shape = body.find(_q(M, shape_tag))
        fields: set[str] = set()
        if shape is None:
            return fields
        for path in shape.iter(_q(T, "FieldURI")):
            fields.add(path.get("FieldURI", ""))
        for prop in shape.iter(_q(T, "ExtendedFieldURI")):
            tag = prop.get("PropertyTag", "")
            fields.add("ext:" + (hex(int(tag, 0)) if tag else ""))
        return fields

    def _item_xml(self, item: Item, fields: set[str]) -> str:
        parts = []
        if "item:MimeContent" in fields:
            parts.append(f'<t:MimeContent CharacterSet="UTF-8">'
                         f"{base64.b64encode(item.mime).decode()}</t:MimeContent>")
        parts.append(f'<t:ItemId Id="{item.id}" ChangeKey="{item.change_key}"/>')
        if "item:ParentFolderId" in fields:
            parts.append(f'<t:ParentFolderId Id="{item.folder_id}" ChangeKey="AQAAAA=="/>')
        if "item:Subject" in fields:
            parts.append(f"<t:Subject>{escape(item.header('Subject') or '')}</t:Subject>")
        if "item:Attachments" in fields:
            parts.append(self.attachments_xml(item))
        if "item:DateTimeReceived" in fields:
            parts.append(f"<t:DateTimeReceived>{_iso(item.received)}</t:DateTimeReceived>")
        if "item:Size" in fields:
            parts.append(f"<t:Size>{len(item.mime)}</t:Size>")
        if "item:InReplyTo" in fields and item.header("In-Reply-To"):
            parts.append(f"<t:InReplyTo>{escape(item.header('In-Reply-To') or '')}</t:InReplyTo>")
        if "item:IsDraft" in fields:
            parts.append(f"<t:IsDraft>{str(item.is_draft).lower()}</t:IsDraft>")
        if "item:DateTimeSent" in fields:
            sent = _parse_date(item.header("Date")) or item.received
            parts.append(f"<t:DateTimeSent>{_iso(sent)}</t:DateTimeSent>")
        if "item:HasAttachments" in fields:
            parts.append(f"<t:HasAttachments>{str(item.has_attachments).lower()}"
                         "</t:HasAttachments>")
        if "ext:0x1090" in fields and item.flag_status:
            parts.append('<t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="0x1090" '
                         f'PropertyType="Integer"/><t:Value>{item.flag_status}</t:Value>'
                         "</t:ExtendedProperty>")
        if "item:ConversationId" in fields:
            parts.append(f'<t:ConversationId Id="{item.conversation_id}"/>')
        for tag, header in (("ToRecipients", "To"), ("CcRecipients", "Cc")):
            if f"message:{tag}" in fields:
                boxes = "".join(_mailbox_xml(n, a) for n, a in _addresses(item.header(header)))
                if boxes:
                    parts.append(f"<t:{tag}>{boxes}</t:{tag}>")
        if "message:From" in fields:
            found = _addresses(item.header("From"))
            if found:
                parts.append(f"<t:From>{_mailbox_xml(*found[0])}</t:From>")
        if "message:InternetMessageId" in fields and item.header("Message-ID"):
            parts.append(f"<t:InternetMessageId>{escape(item.header('Message-ID') or '')}"
                         f"</t:InternetMessageId>")
        if "message:IsRead" in fields:
            parts.append(f"<t:IsRead>{str(item.is_read).lower()}</t:IsRead>")
        if "message:References" in fields and item.header("References"):
            parts.append(f"<t:References>{escape(item.header('References') or '')}</t:References>")
        return f"<t:Message>{''.join(parts)}</t:Message>"

    # ------------------------------------------------------------------ operations
    def _op_ConvertId(self, user: User, body: ET.Element) -> str:
        messages = []
        for alt in body.iter(_q(T, "AlternateId")):
            messages.append(self._message(
                "ConvertId", "NoError",
                f'<m:AlternateId xsi:type="t:AlternateIdType" Format="EntryId" '
                f'Id="{alt.get("Id")}" Mailbox="{alt.get("Mailbox")}" '
                f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'))
        return self._wrap("ConvertId", messages)

    def _op_ResolveNames(self, user: User, body: ET.Element) -> str:
        messages = []
        for entry in body.iter(_q(M, "UnresolvedEntry")):
            wanted = (entry.text or "").removeprefix("smtp:").removeprefix("SMTP:").lower()
            target = self.users.get(wanted)
            if target is None:
                messages.append(self._message("ResolveNames", "ErrorNameResolutionNoResults"))
                continue
            local = target.address.split("@")[0]
            if target.smtp:
                mailbox = _mailbox_xml(local.title(), target.address, "SMTP")
            else:
                legacy_dn = f"/o=Emulator/ou=Exchange/cn=Recipients/cn={local}"
                mailbox = _mailbox_xml(local.title(), legacy_dn, "EX")
            messages.append(self._message(
                "ResolveNames", "NoError",
                '<m:ResolutionSet TotalItemsInView="1" IncludesLastItemInRange="true">'
                f"<t:Resolution>{mailbox}</t:Resolution></m:ResolutionSet>"))
        return self._wrap("ResolveNames", messages)

    def _op_GetFolder(self, user: User, body: ET.Element) -> str:
        ids = body.find(_q(M, "FolderIds"))
        messages = []
        for elem in list(ids) if ids is not None else []:
            found = self._resolve_folder(user, elem)
            if isinstance(found, str):
                messages.append(self._message("GetFolder", found, "<m:Folders/>"))
                continue
            owner = user
            messages.append(self._message(
                "GetFolder", "NoError", f"<m:Folders>{self._folder_xml(owner, found)}</m:Folders>"))
        return self._wrap("GetFolder", messages)

    def _op_FindFolder(self, user: User, body: ET.Element) -> str:
        deep = body.get("Traversal") == "Deep"
        parents = body.find(_q(M, "ParentFolderIds"))
        messages = []
        for elem in list(parents) if parents is not None else []:
            found = self._resolve_folder(user, elem)
            if isinstance(found, str):
                messages.append(self._message("FindFolder", found))
                continue
            result: list[Folder] = []
            frontier = [found.id]
            while frontier:
                current = frontier.pop(0)
                children = [f for f in user.folders.values() if f.parent_id == current]
                result.extend(children)
                if deep:
                    frontier.extend(c.id for c in children)
            messages.append(self._page("FindFolder", "Folders", result, body,
                                       lambda f: self._folder_xml(user, f)))
        return self._wrap("FindFolder", messages)

    def _page(self, operation: str, tag: str, found: list[Any], body: ET.Element,
              render: Callable[[Any], str], cap: int | None = None) -> str:
        """One indexed page of ``found`` as a RootFolder response message."""
        offset, limit = _paging(body)
        if cap is not None:
            limit = min(limit, cap)
        window = found[offset:offset + limit]
        last = offset + len(window) >= len(found)
        xml = "".join(render(entry) for entry in window)
        return self._message(
            operation, "NoError",
            f'<m:RootFolder IndexedPagingOffset="{offset + len(window)}" '
            f'TotalItemsInView="{len(found)}" IncludesLastItemInRange="{str(last).lower()}">'
            f"<t:{tag}>{xml}</t:{tag}></m:RootFolder>")

    def _op_FindItem(self, user: User, body: ET.Element) -> str:
        fields = self._requested(body, "ItemShape")
        refused = fields & _GETITEM_ONLY
        if refused:
            return self._wrap("FindItem", [self._message(
                "FindItem", "ErrorInvalidPropertyRequest",
                text=f"The property {sorted(refused)[0]} can't be used in FindItem requests.")])
        parents = body.find(_q(M, "ParentFolderIds"))
        messages = []
        for elem in list(parents) if parents is not None else []:
            found = self._resolve_folder(user, elem)
            if isinstance(found, str):
                messages.append(self._message("FindItem", found))
                continue
            items = [i for i in self.items.values() if i.folder_id == found.id]
            items = restrict(items, body.find(_q(M, "Restriction")))
            descending = True
            order = body.find(f"{_q(M, 'SortOrder')}/{_q(T, 'FieldOrder')}")
            if order is not None:
                descending = order.get("Order") == "Descending"
            items.sort(key=lambda i: (i.received, i.seq), reverse=descending)
            messages.append(self._page("FindItem", "Items", items, body,
                                       lambda i: self._item_xml(i, fields), FIND_COUNT_LIMIT))
        return self._wrap("FindItem", messages)

    def _op_GetItem(self, user: User, body: ET.Element) -> str:
        fields = self._requested(body, "ItemShape")
        ids = body.find(_q(M, "ItemIds"))
        messages = []
        for elem in list(ids) if ids is not None else []:
            item_id = elem.get("Id", "")
            item = self.items.get(item_id)
            if not _valid_id(item_id):
                messages.append(self._message("GetItem", "ErrorInvalidIdMalformed", "<m:Items/>"))
            elif item is None or item.folder_id not in user.folders:
                messages.append(self._message("GetItem", "ErrorItemNotFound", "<m:Items/>"))
            else:
                messages.append(self._message(
                    "GetItem", "NoError", f"<m:Items>{self._item_xml(item, fields)}</m:Items>"))
        return self._wrap("GetItem", messages)

    def _op_CreateItem(self, user: User, body: ET.Element) -> str:
        disposition = body.get("MessageDisposition", "SaveOnly")
        saved = body.find(_q(M, "SavedItemFolderId"))
        target: Folder | str | None = None
        if saved is not None and len(saved):
            target = self._resolve_folder(user, saved[0])
        elif disposition != "SendOnly":
            target = user.folders[self.folder_id(user.address, "sentitems" if disposition ==
                                                 "SendAndSaveCopy" else "drafts")]
        items = body.find(_q(M, "Items"))
        messages = []
        for message in list(items) if items is not None else []:
            if isinstance(target, str):
                messages.append(self._message("CreateItem", target, "<m:Items/>"))
                continue
            mime_elem = message.find(_q(T, "MimeContent"))
            raw = base64.b64decode(mime_elem.text or "") if mime_elem is not None else b""
            parsed = _HEADERS.parsebytes(raw)
            bcc = message.find(_q(T, "BccRecipients"))
            hidden = tuple(m.findtext(_q(T, "EmailAddress")) or ""
                           for m in (bcc.iter(_q(T, "Mailbox")) if bcc is not None else ()))
            if disposition in ("SendAndSaveCopy", "SendOnly"):
                refused = self.send_refusal(user, raw)
                if refused is None and self.message_size_limit is not None \
                        and len(raw) > self.message_size_limit:
                    refused = "ErrorMessageSizeExceeded"
                if refused is not None:
                    messages.append(self._message(
                        "CreateItem", refused, "<m:Items/>",
                        text="The mailbox has no SMTP address."
                        if refused == "ErrorInvalidSender" else None))
                    continue
                recipients = [a for h in ("To", "Cc")
                              for _, a in _addresses(str(parsed.get(h) or ""))]
                self.outbox.append((raw, recipients + list(hidden)))
                if disposition == "SendAndSaveCopy" and isinstance(target, Folder):
                    copy = Item(self._new_id("I"), target.id, raw,
                                dt.datetime.now(dt.timezone.utc), next(self._seq), is_read=True)
                    self._store(copy)
                messages.append(self._message("CreateItem", "NoError", "<m:Items/>"))
                continue
            assert isinstance(target, Folder)
            flags = _message_flags(message)
            is_read_text = message.findtext(_q(T, "IsRead"))
            # Exchange stores a SaveOnly message as an unsent draft unless PR_MESSAGE_FLAGS
            # says otherwise (MSGFLAG_UNSENT = 0x8 cleared, MSGFLAG_READ = 0x1).
            is_draft = flags is None or bool(flags & 0x8)
            is_read = (is_read_text == "true") or bool(flags and flags & 0x1)
            item = Item(self._new_id("I"), target.id, raw, dt.datetime.now(dt.timezone.utc),
                        next(self._seq), is_read=is_read, is_draft=is_draft, bcc=hidden)
            self._store(item)
            messages.append(self._message(
                "CreateItem", "NoError",
                f'<m:Items><t:Message><t:ItemId Id="{item.id}" ChangeKey="{item.change_key}"/>'
                f"</t:Message></m:Items>"))
        return self._wrap("CreateItem", messages)

    def send_refusal(self, user: User, raw: bytes) -> str | None:
        """The ResponseCode refusing to submit ``raw`` for ``user``, or None to send it."""
        parsed = _HEADERS.parsebytes(raw)
        sender = [a for _, a in _addresses(str(parsed.get("From") or ""))]
        allowed = {user.address.lower(), *(a.lower() for a in user.send_as)}
        if sender and sender[0].lower() not in allowed:
            return "ErrorSendAsDenied"
        if not user.smtp:
            return "ErrorInvalidSender"
        return None

    # ------------------------------------------------------------------ autodiscover
    def autodiscover(self, user: User, body: ET.Element) -> bytes:
        mailbox = body.findtext(f".//{{{A_REQ}}}Mailbox") or ""
        known = self.users.get(mailbox.lower())
        if known is None:
            inner = ("<UserResponse><ErrorCode>InvalidUser</ErrorCode><ErrorMessage>Invalid user."
                     "</ErrorMessage><RedirectAddress i:nil=\"true\"/>"
                     "<RedirectTarget i:nil=\"true\"/>"
                     "<UserSettingErrors/><UserSettings/></UserResponse>")
        else:
            inner = ("<UserResponse><ErrorCode>NoError</ErrorCode><ErrorMessage/>"
                     "<RedirectAddress i:nil=\"true\"/><RedirectTarget i:nil=\"true\"/>"
                     "<UserSettingErrors/><UserSettings>"
                     f"<UserSetting i:type=\"StringSetting\"><Name>ExternalEwsUrl</Name>"
                     f"<Value>{escape(self.ews_url)}</Value></UserSetting>"
                     f"<UserSetting i:type=\"StringSetting\"><Name>AutoDiscoverSMTPAddress</Name>"
                     f"<Value>{escape(known.address)}</Value></UserSetting>"
                     "</UserSettings></UserResponse>")
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<s:Envelope xmlns:s="{S}" xmlns:a="http://www.w3.org/2005/08/addressing">'
            '<s:Header><a:Action s:mustUnderstand="1">http://schemas.microsoft.com/exchange/2010/'
            'Autodiscover/Autodiscover/GetUserSettingsResponse</a:Action>'
            f'<h:ServerVersionInfo xmlns:h="{A_REQ}" '
            'xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><h:MajorVersion>15</h:MajorVersion>'
            '<h:MinorVersion>1</h:MinorVersion><h:MajorBuildNumber>2507</h:MajorBuildNumber>'
            '<h:MinorBuildNumber>6</h:MinorBuildNumber><h:Version>Exchange2015</h:Version>'
            '</h:ServerVersionInfo></s:Header><s:Body>'
            f'<GetUserSettingsResponseMessage xmlns="{A_REQ}"><Response '
            'xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><ErrorCode>NoError</ErrorCode>'
            '<ErrorMessage/><UserResponses>'
            f"{inner}</UserResponses></Response></GetUserSettingsResponseMessage>"
            "</s:Body></s:Envelope>"
        ).encode()


# ---------------------------------------------------------------------- pure helpers
def _valid_id(value: str) -> bool:
    try:
        return base64.b64decode(value, validate=True).startswith(b"\x00\x00inboxlink-emu")
    except ValueError:
        return False


def _parse_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _addresses(value: str | None) -> list[tuple[str, str]]:
    if not value:
        return []
    return [(n, a) for n, a in email.utils.getaddresses([value]) if a]


def _mailbox_xml(name: str, address: str, routing: str = "SMTP") -> str:
    return (f"<t:Mailbox><t:Name>{escape(name or address)}</t:Name>"
            f"<t:EmailAddress>{escape(address)}</t:EmailAddress>"
            f"<t:RoutingType>{routing}</t:RoutingType><t:MailboxType>Mailbox</t:MailboxType>"
            "</t:Mailbox>")


def _paging(body: ET.Element) -> tuple[int, int]:
    view = body.find(_q(M, "IndexedPageItemView"))
    if view is None:
        view = body.find(_q(M, "IndexedPageFolderView"))
    if view is None:
        return 0, 1000
    return int(view.get("Offset", "0")), int(view.get("MaxEntriesReturned", "1000"))


def _message_flags(message: ET.Element) -> int | None:
    for prop in message.iter(_q(T, "ExtendedProperty")):
        uri = prop.find(_q(T, "ExtendedFieldURI"))
        if uri is not None and uri.get("PropertyTag", "").lower() in ("0xe07", "0x0e07", "3591"):
            return int(prop.findtext(_q(T, "Value")) or "0")
    return None


_OPERATION = re.compile(rb"<(?:\w+:)?Body[^>]*>\s*<(?:\w+:)?(\w+)[\s>/]")


class _Handler(http.server.BaseHTTPRequestHandler):
    state: EwsEmulator
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.ntlm_context: Any = None  # NTLM authenticates the TCP connection, not a request
        self.ntlm_user: User | None = None
        # Headers and body go out in two writes; without NODELAY, Nagle + delayed ACK
        # would add ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              content_type: str = "text/xml; charset=utf-8") -> None:
        self.send_response(status)
        merged = {"Content-Type": content_type, **(headers or {})}
        for key, value in merged.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.state.response_sizes.append(len(body))
        self.wfile.write(body)

    def _owa_redirect(self) -> None:
        host = self.headers.get("Host", "localhost")
        scheme = "https" if self.state._ssl else "http"
        target = f"{scheme}://{host}/owa/auth/logon.aspx?replaceCurrent=1&url={scheme}%3a%2f%2f{host}%2fowa%2f"
        self._send(302, b"<html><body>Object moved</body></html>", {"Location": target},
                   "text/html; charset=utf-8")

    def do_GET(self) -> None:
        self.state.requests.append("GET " + self.path.split("?")[0])
        if self.path.lower().startswith("/owa/auth/logon.aspx"):
            self._send(200, _LOGIN_PAGE, content_type="text/html; charset=utf-8")
        elif self.path.lower().startswith(("/owa", "/home")):
            self._owa_redirect()
        else:
            self._send(404, b"", content_type="text/html")

    def do_POST(self) -> None:
        started = time.perf_counter()
        state = self.state
        with state.lock:
            state.in_flight += 1
            state.peak = max(state.peak, state.in_flight)
        try:
            if state.delay:
                time.sleep(state.delay)
            self._post()
        finally:
            with state.lock:
                state.in_flight -= 1
            self.state.server_seconds += time.perf_counter() - started

    def _post(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        path = self.path.split("?")[0].lower()
        state = self.state
        state.request_sizes.append(length)
        if state.request_size_limit is not None and length > state.request_size_limit:
            # As IIS request filtering does: refused by its length, the body never parsed.
            state.requests.append("413")
            remaining = length
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
            self._send(413, REQUEST_TOO_LARGE, content_type="text/html")
            return
        data = self.rfile.read(length)
        if path.startswith(("/owa", "/home")):
            state.requests.append("POST " + path)
            self._owa_redirect()
            return
        if path.startswith("/portal"):
            state.requests.append("POST " + path)
            self._send(200, _LOGIN_PAGE, content_type="text/html; charset=utf-8")
            return
        match = _OPERATION.search(data)
        operation = match.group(1).decode() if match else "?"
        state.requests.append(operation)
        failure = state._take_failure("http:" + operation)
        if failure is not None:
            if failure.kind == "close":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self._send(failure.status, failure.body, failure.headers,
                       failure.headers.get("Content-Type", "text/html; charset=utf-8"))
            return
        if path.startswith("/autodiscover/autodiscover.svc"):
            user = state.authenticate(self.headers.get("Authorization"))
            if user is None:
                self._challenge()
                return
            self._send(200, state.autodiscover(user, ET.fromstring(data)))
            return
        if path != "/ews/exchange.asmx":
            self._send(404, b"<html>Not found</html>", content_type="text/html")
            return
        header = self.headers.get("Authorization")
        if header and header.lower().startswith("ntlm "):
            if not self._ntlm_step(header[5:].strip()):
                return
            header = None
        user = self.ntlm_user or state.authenticate(header)
        if user is None:
            login = _basic_login(header)
            if login and login.lower() in state.locked_out:
                self._send(401, b"The referenced account is currently locked out.",
                           {"WWW-Authenticate": ", ".join(state.auth_schemes)}, "text/plain")
                return
            self._challenge()
            return
        try:
            envelope = ET.fromstring(data)
        except ET.ParseError:
            self._send(400, b"bad xml", content_type="text/plain")
            return
        body = envelope.find(_q(S, "Body"))
        if body is None or not len(body):
            self._send(500, b"no body", content_type="text/plain")
            return
        if operation == "GetStreamingEvents" and not any(
                f.operation in (None, operation) for f in state.failures):
            state.stream_events(self, user, body[0])  # a long-lived chunked answer
            return
        status, answer = state.soap(user, operation, body[0])
        self._send(status, answer)

    def _ntlm_step(self, token: str) -> bool:
        """One NTLM leg (pyspnego's acceptor; users from NTLM_USER_FILE). True when done."""
        import spnego

        if self.ntlm_context is None:
            self.ntlm_context = spnego.server(protocol="ntlm")
        try:
            answer = self.ntlm_context.step(base64.b64decode(token))
        except Exception:  # a wrong password fails the last leg
            self.ntlm_context = None
            self._challenge()
            return False
        if not self.ntlm_context.complete:
            self._send(401, b"", {"WWW-Authenticate": "NTLM " + base64.b64encode(answer).decode()},
                       "text/html")
            return False
        principal = str(self.ntlm_context.client_principal or "")
        domain, _, name = principal.rpartition("\\")
        self.ntlm_user = self.state.user_for_login(f"{domain}\\{name}" if domain else name)
        self.ntlm_context = None
        return self.ntlm_user is not None

    def _challenge(self) -> None:
        headers = {"WWW-Authenticate": ", ".join(self.state.auth_schemes)}
        self._send(401, b"", headers, "text/html")


def _basic_login(header: str | None) -> str | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        return base64.b64decode(header[6:]).decode().partition(":")[0]
    except ValueError:
        return None


_LOGIN_PAGE = (
    b"<!DOCTYPE html><html><head><title>Outlook</title></head><body>"
    b"<form action=\"/owa/auth.owa\" method=\"POST\"><input name=\"username\">"
    b"<input name=\"password\" type=\"password\"></form></body></html>"
)

__all__ = ["DISTINGUISHED", "EwsEmulator", "Failure", "Item", "User"]


def main() -> None:
    """Serve alice@example.com holding one message of about ``--size`` bytes, in its own
    process (so a test can measure the client's memory alone). Prints one JSON line with
    ``url``, ``id`` and ``size``; stops when stdin closes."""
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=10_000_000)
    size = parser.parse_args().size
    server = EwsEmulator()
    server.start()
    server.add_user("alice@example.com", "pw")
    line = "x" * 76 + "\n"
    body = line * (size // len(line))
    raw = (b"From: bob@example.net\r\nTo: alice@example.com\r\nSubject: big\r\n"
           b"Message-ID: <big@example.net>\r\n\r\n" + body.encode())
    item_id = server.deliver("alice@example.com", raw)
    print(json.dumps({"url": server.ews_url, "id": item_id, "size": len(raw)}), flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
