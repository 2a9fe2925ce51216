"""The Microsoft 365 mailbox: msgraph-sdk driven from synchronous code.

Every public call goes through `GraphMailbox._run`: the coroutine runs on the shared
loop (`._loop`) and any exception is translated once, by `.errors.TABLE`.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import warnings
import weakref
from collections.abc import Callable, Coroutine
from typing import IO, Any, TypeVar
from urllib.parse import quote, unquote, urlsplit

from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.method import Method

from inboxlink import deadline, errors, mime
from inboxlink.adapters.graph import auth, batch, wire
from inboxlink.adapters.graph._loop import LOOP
from inboxlink.adapters.graph.actions import GraphActions
from inboxlink.adapters.graph.attachments import GraphAttachments
from inboxlink.adapters.graph.batch import BATCH_SIZE, ItemFailure, chunks
from inboxlink.adapters.graph.errors import (
    PROVIDER,
    TABLE,
    ErrorContext,
    extract,
    signal_from_body,
)
from inboxlink.adapters.graph.session import GraphSession, TokenSource
from inboxlink.adapters.graph.settings import GraphSettings
from inboxlink.adapters.graph.sync import GraphSync
from inboxlink.cursor import CursorCodec
from inboxlink.mailbox import BaseMailbox
from inboxlink.models import (
    Capability,
    Folder,
    FolderRole,
    Message,
    MessageSummary,
    Page,
    SendResult,
    SentCopy,
)
from inboxlink.retry import bounded, carried
from inboxlink.spool import Spool
from inboxlink.translate import translating

__all__ = ["GraphMailbox"]

#: listing cursors: the @odata.nextLink, bound to its folder
_CURSORS = CursorCodec(PROVIDER)

log = logging.getLogger("inboxlink.graph")
T = TypeVar("T")

_FOLDER_PAGE = 250
_FOLDER_CACHE_LIMIT = 100_000


class GraphMailbox(GraphSync, GraphActions, GraphAttachments, BaseMailbox):
    """A Microsoft 365 / Outlook.com mailbox reached through Microsoft Graph.

    Build it with `from_url` (``graph://alice@contoso.com``) or directly from
    `GraphSettings`.
    """

    provider = PROVIDER
    capabilities = frozenset({Capability.SEND, Capability.APPEND_TO_SENT,
                              Capability.STREAM_TO_FILE, Capability.PROVIDER_SAVES_SENT,
                              Capability.SYNC, Capability.ACTIONS, Capability.SEARCH})
    #: Graph's largest $top for messages
    max_page_size = 1000

    def __init__(self, settings: GraphSettings) -> None:
        super().__init__(address=settings.address, sent_folder=settings.sent_folder,
                         role_overrides=settings.role_overrides,
                         retry=bounded(settings.retry, settings.timeout))
        self.settings = settings
        self._tokens = TokenSource(settings)
        self._session: GraphSession | None = None
        self._session_key: tuple[int, int] | None = None
        self._session_lock = threading.Lock()
        self._closed = False
        self._folder_of: dict[str, str] = {}
        self._errors = ErrorContext(
            probe_mailbox=self._probe_mailbox if settings.probe_mailbox else None,
            granted=self._granted, consent_url=self._consent_url,
        )
        self._alias_checked = False
        self._check_alias(settings.address)
        _LIVE.add(self)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_url(cls, url: str, /, **options: Any) -> GraphMailbox:
        """``graph://alice@contoso.com`` with ``credential=`` or ``access_token=``.

        Options are `GraphSettings` fields; ``application=True`` uses app-only access
        to ``/users/<address>`` (same as ``user_id=<address>``).
        """
        parts = urlsplit(url)
        if parts.scheme.lower() != "graph" or not parts.username or not parts.hostname:
            raise errors.ConfigurationError(
                f"{url!r} is not a graph:// URL with an address.", provider=PROVIDER,
                remedy="Use graph://alice@contoso.com.",
            )
        address = f"{unquote(parts.username)}@{parts.hostname}"
        if options.pop("application", False):
            options.setdefault("user_id", address)
        try:
            settings = GraphSettings(address=address, **options)
        except TypeError as exc:
            raise errors.ConfigurationError(
                f"Unknown option for the Graph adapter: {exc}", provider=PROVIDER,
                remedy="See docs/graph.md for the options graph:// accepts.",
            ) from None
        return cls(settings)

    # ------------------------------------------------------------------ plumbing
    def _after_fork_in_child(self) -> None:
        # Another parent thread may have held the lock at the fork (mid _ensure_session); its
        # copy would stay locked forever here. The session is the parent's too: forget both,
        # as the loop forgets its thread, and build afresh on first use.
        self._session_lock = threading.Lock()
        self._session = None
        self._session_key = None

    def _ensure_session(self) -> GraphSession:
        if self._closed:
            raise errors.MailboxClosed(provider=PROVIDER)
        LOOP.get()
        key = (os.getpid(), LOOP.generation)
        with self._session_lock:
            if self._session is None or self._session_key != key:
                # A session from before a fork holds the parent's sockets and loop: build anew.
                self._session = LOOP.run(self._new_session())
                self._session_key = key
            return self._session

    async def _new_session(self) -> GraphSession:
        return GraphSession(self.settings, self._tokens)

    def _run(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        with translating(TABLE, extract, self._errors):
            session = self._ensure_session()
            try:
                # The coroutine runs on the loop's thread: carry the call's retry budget and
                # deadline there, and never wait past the deadline for it.
                result: T = LOOP.run(carried(fn(session, *args)),
                                     timeout=deadline.bound(self.settings.timeout,
                                                            provider=self.provider))
            except ItemFailure as failure:
                # Explained here, in the caller's thread: the follow-up probe needs the loop.
                raise self._item_error(failure.response) from None
        if not self._alias_checked and self._tokens.last:
            self._alias_checked = True
            claims = auth.token_claims(self._tokens.last)
            for key in ("preferred_username", "upn", "email", "unique_name"):
                self._check_alias(claims.get(key))
        return result

    def _check_alias(self, address: Any) -> None:
        if isinstance(address, str) and auth.has_primary_alias_problem(address):
            log.warning("%s: %s", address, auth.PRIMARY_ALIAS_REMEDY)
            warnings.warn(auth.PrimaryAliasWarning(f"{address}: {auth.PRIMARY_ALIAS_REMEDY}"),
                          stacklevel=3)

    def _granted(self) -> tuple[set[str], bool] | None:
        return auth.granted_permissions(auth.token_claims(self._tokens.last))

    @property
    def granted_permissions(self) -> tuple[frozenset[str], bool] | None:
        """What the last access token grants: ``(names, app_only)``, names lower-case.

        Delegated scopes (``scp``) or, for app-only access, application roles (``roles``).
        ``None`` before the first request or when the token is opaque (personal Microsoft
        accounts), so callers must not read ``None`` as "nothing granted".
        """
        granted = self._granted()
        return None if granted is None else (frozenset(granted[0]), granted[1])

    def _consent_url(self) -> str | None:
        claims = auth.token_claims(self._tokens.last)
        client_id = self.settings.client_id or claims.get("appid") or claims.get("azp")
        if not client_id:
            return None
        tenant = self.settings.tenant_id or claims.get("tid")
        # App-only permissions are consented as a whole, through /.default.
        scopes = (("https://graph.microsoft.com/.default",) if self.settings.user_id
                  else auth.REQUIRED_SCOPES)
        return auth.admin_consent_url(tenant, str(client_id), scopes, self.settings.redirect_uri)

    def _probe_mailbox(self) -> bool | None:
        """After "REST API not enabled": does the account have an Exchange Online plan?"""
        async def probe(session: GraphSession) -> Any:
            info = session.request(Method.GET, session.user_path
                                   + "?%24select=mail,assignedPlans")
            return await session.send_json(info)

        try:
            user = LOOP.run(probe(self._ensure_session()), timeout=min(30.0, self.settings.timeout))
        except Exception:  # the probe only refines an error; never let it replace one
            return None
        plans = user.get("assignedPlans") if isinstance(user, dict) else None
        if not isinstance(plans, list):
            return None
        exchange = [p for p in plans if str(p.get("service", "")).lower() == "exchange"]
        return any(p.get("capabilityStatus") == "Enabled" for p in exchange)

    # ------------------------------------------------------------------ batch
    async def _batch(self, session: GraphSession,
                     requests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return await batch.run(session, requests, self._retry)

    def _item_error(self, response: dict[str, Any]) -> errors.InboxLinkError:
        headers = response.get("headers") or {}
        signal = signal_from_body(int(response.get("status", 500)), headers, response.get("body"))
        return self._errors.error_for(signal)

    # ------------------------------------------------------------------ folders
    def _list_folders(self) -> list[Folder]:
        return self._run(self._folders)

    async def _folders(self, session: GraphSession) -> list[Folder]:
        from msgraph.generated.users.item.mail_folders.mail_folders_request_builder import (
            MailFoldersRequestBuilder,
        )

        query = MailFoldersRequestBuilder.MailFoldersRequestBuilderGetQueryParameters(
            top=_FOLDER_PAGE, select=list(wire.FOLDER_SELECT))
        info = session.user.mail_folders.to_get_request_information(
            RequestConfiguration(query_parameters=query))
        top_level = await self._collect(session, await session.send_json(info))
        roles = await self._well_known(session)

        folders: list[Folder] = []
        level: list[tuple[dict[str, Any], str | None]] = [(item, None) for item in top_level]
        while level:
            parents: list[tuple[Folder, dict[str, Any]]] = []
            for item, parent_path in level:
                folder = wire.folder_from_json(item, parent_path, roles)
                folders.append(folder)
                if item.get("childFolderCount"):
                    parents.append((folder, item))
            level = []
            for group in chunks(parents, BATCH_SIZE):
                requests = [{
                    "id": str(n), "method": "GET",
                    "url": f"{session.user_path}/mailFolders/{quote(folder.id, safe='')}"
                           f"/childFolders?$top={_FOLDER_PAGE}&$select={','.join(wire.FOLDER_SELECT)}",
                } for n, (folder, _) in enumerate(group)]
                answers = await self._batch(session, requests)
                for n, (folder, _) in enumerate(group):
                    response = answers[str(n)]
                    if int(response.get("status", 500)) >= 300:
                        raise ItemFailure(response)
                    children = await self._collect(session, response.get("body") or {})
                    level.extend((child, folder.path) for child in children)
        return folders

    async def _collect(self, session: GraphSession, page: dict[str, Any]) -> list[dict[str, Any]]:
        items = list(page.get("value", []))
        next_link = page.get("@odata.nextLink")
        while next_link:
            page = await session.send_json(self._absolute(session, next_link))
            items.extend(page.get("value", []))
            next_link = page.get("@odata.nextLink")
        return items

    def _absolute(self, session: GraphSession, url: str) -> Any:
        from kiota_abstractions.request_information import RequestInformation

        self._check_link(url)
        info = RequestInformation(Method.GET)
        info.url = url
        return info

    async def _well_known(self, session: GraphSession) -> dict[str, FolderRole]:
        names = list(wire.WELL_KNOWN_FOLDERS)
        requests = [{"id": name, "method": "GET",
                     "url": f"{session.user_path}/mailFolders/{name}?$select=id"}
                    for name in names]
        answers = await self._batch(session, requests)
        roles: dict[str, FolderRole] = {}
        for name in names:
            response = answers[name]
            status = int(response.get("status", 500))
            if status == 404:
                continue  # e.g. no Archive folder yet
            if status >= 300:
                raise ItemFailure(response)
            body = response.get("body") or {}
            if isinstance(body, dict) and body.get("id"):
                roles[str(body["id"])] = wire.WELL_KNOWN_FOLDERS[name]
        return roles

    # ------------------------------------------------------------------ listing
    def _check_link(self, url: object) -> None:
        """A followed link must be under this mailbox's Graph root: the token is attached to
        whatever URL is followed, so a forged cursor must never send it to another host."""
        if not isinstance(url, str) or not url.startswith(self.settings.base_url + "/"):
            raise errors.CursorExpired(
                "The cursor is not a listing cursor of this mailbox.", provider=PROVIDER,
                code="invalid-cursor",
                remedy="Pass page.next_cursor exactly as returned, to a mailbox with the same "
                       "base_url, or start the listing without a cursor.",
            )

    def _next_link(self, cursor: str, folder: Folder) -> str:
        """The @odata.nextLink inside a listing cursor of ``folder`` (a cursor of another
        folder would list that folder: refused)."""
        link = _CURSORS.decode(cursor, folder.id).get("link")
        self._check_link(link)
        assert isinstance(link, str)
        return link

    def _list_page(self, folder: Folder, limit: int, cursor: str | None) -> Page[MessageSummary]:
        link = self._next_link(cursor, folder) if cursor is not None else None
        page = self._run(self._page, folder.id, limit, link)
        if page.next_cursor is not None:
            page = Page(page.items, _CURSORS.encode(folder.id, {"link": page.next_cursor}))
        if len(self._folder_of) > _FOLDER_CACHE_LIMIT:
            self._folder_of.clear()
        self._folder_of.update((s.id, s.folder_id) for s in page.items)
        return page

    async def _page(self, session: GraphSession, folder_id: str, limit: int,
                    cursor: str | None) -> Page[MessageSummary]:
        from msgraph.generated.users.item.mail_folders.item.messages.messages_request_builder import (
            MessagesRequestBuilder,
        )

        if cursor is not None:
            info = self._absolute(session, cursor)
        else:
            query = MessagesRequestBuilder.MessagesRequestBuilderGetQueryParameters(
                select=list(wire.SUMMARY_SELECT), top=limit,
                orderby=["receivedDateTime desc"], expand=list(wire.SUMMARY_EXPAND))
            info = (session.user.mail_folders.by_mail_folder_id(folder_id).messages
                    .to_get_request_information(RequestConfiguration(query_parameters=query)))
        data = await session.send_json(info)
        items = tuple(wire.summary_from_json(item, folder_id) for item in data.get("value", []))
        next_link = data.get("@odata.nextLink")
        return Page(items=items, next_cursor=str(next_link) if next_link and items else None)

    # ------------------------------------------------------------------ fetching
    def _fetch_many(self, message_ids: list[str]) -> list[Message]:
        raws = self._run(self._fetch_raw, message_ids)
        return [Message(id=mid, folder_id=self._folder_of.get(mid, ""), raw=raw)
                for mid, raw in zip(message_ids, raws, strict=True)]

    async def _fetch_raw(self, session: GraphSession, message_ids: list[str]) -> list[bytes]:
        out: list[bytes] = []
        for group in chunks(message_ids, BATCH_SIZE):
            requests = [{"id": str(n), "method": "GET",
                         "url": f"{session.user_path}/messages/{quote(mid, safe='')}/$value"}
                        for n, mid in enumerate(group)]
            answers = await self._batch(session, requests)
            for n in range(len(group)):
                response = answers[str(n)]
                if int(response.get("status", 500)) >= 300:
                    raise ItemFailure(response)
                out.append(_batch_body_bytes(response.get("body")))
        return out

    def fetch_to_file(self, message_id: str, target: str | os.PathLike[str] | IO[bytes]) -> int:
        """Stream the MIME source (``/$value``) to a path or binary file, chunk by chunk."""
        if isinstance(target, (str, os.PathLike)):
            def to_path() -> int:
                with open(target, "wb") as fh:
                    return self._run(self._stream_to, message_id, fh)

            return self._retry.call(to_path)
        return self._run(self._stream_to, message_id, target)

    async def _stream_to(self, session: GraphSession, message_id: str, sink: IO[bytes]) -> int:
        builder = session.user.messages.by_message_id(message_id).content
        async with session.stream(builder.to_get_request_information()) as response:
            if response.status_code >= 300:
                await response.aread()
                raise ItemFailure({"status": response.status_code,
                                    "headers": dict(response.headers), "body": response.content})
            written = 0
            async for chunk in response.aiter_bytes(64 * 1024):
                sink.write(chunk)
                written += len(chunk)
            return written

    # ------------------------------------------------------------------ sending
    def _send(self, prepared: mime.PreparedMessage, save_copy: bool) -> SendResult:
        wire_bytes = _with_bcc(prepared)
        try:
            self._run(self._send_mime, wire_bytes)
        except errors.InboxLinkError as exc:
            if _answer_lost(exc):
                raise errors.SendOutcomeUnknown(
                    f"Microsoft Graph received the message but its answer was lost "
                    f"({exc.code or type(exc).__name__}).",
                    raw=prepared.raw, message_id=prepared.message_id, provider=self.provider,
                    code=exc.code,
                ) from exc
            raise
        cached = self._folders_cache or []
        sent = next((f for f in cached if f.role is FolderRole.SENT), None)
        if not save_copy:
            log.info("Graph's MIME sendMail always keeps the sent copy; save_copy=False ignored")
        # Graph files the copy itself (MIME sendMail cannot turn that off): report it as is,
        # and never store a second one.
        return SendResult(message_id=prepared.message_id, raw=prepared.raw,
                          sent_copy=SentCopy.SAVED_BY_PROVIDER,
                          sent_folder_id=sent.id if sent else None)

    async def _send_mime(self, session: GraphSession, raw: bytes) -> None:
        info = session.request(Method.POST, f"{session.user_path}/sendMail")
        info.set_stream_content(base64.b64encode(raw), "text/plain")
        await session.send_no_content(info)

    def _append(self, spool: Spool, folder: Folder) -> str | None:
        raw = spool.read()  # TODO(issue 15): stream large copies
        try:
            return self._run(self._create_sent_item, raw, folder.id)
        except errors.InboxLinkError as exc:
            # The copy left and its answer was lost (or came garbled): Graph may have stored
            # it, so this must not be retried by the policy around it.
            if _answer_lost(exc) or exc.code == "malformedResponse":
                raise errors.ConnectionLost(
                    f"The Sent copy reached Microsoft Graph but its answer was lost ({exc.code}).",
                    provider=self.provider, code=exc.code, retryable=False,
                    remedy="Look in the Sent folder for the message's Message-ID before storing "
                           "the copy again: it may already be there.",
                ) from exc
            raise

    async def _create_sent_item(self, session: GraphSession, raw: bytes, folder_id: str) -> str:
        body = wire.message_json_from_mime(raw)
        info = session.request(Method.POST,
                               f"{session.user_path}/mailFolders/{quote(folder_id, safe='')}"
                               "/messages")
        info.set_stream_content(json.dumps(body).encode(), "application/json")
        created = await session.send_json(info)
        return str(created.get("id")) if isinstance(created, dict) else ""

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Close the HTTP client for good (using the mailbox afterwards raises
        ``MailboxClosed``). Safe to call twice."""
        self._closed = True
        session, self._session = self._session, None
        if session is None or self._session_key != (os.getpid(), LOOP.generation):
            return
        try:
            LOOP.run(session.aclose(), timeout=10)
        except Exception as exc:  # closing must not fail the caller's with-block
            log.debug("closing the Graph client failed: %s", exc)

    def __repr__(self) -> str:
        mode = "delegated" if self.settings.user_id is None else "application"
        return f"<GraphMailbox {self.address} {mode} {self.settings.base_url}>"


#: every live mailbox, so a forked child can reset their locks (see _after_fork_in_child)
_LIVE: weakref.WeakSet[GraphMailbox] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for box in list(_LIVE):
        box._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def _batch_body_bytes(body: Any) -> bytes:
    # Graph base64-encodes non-JSON bodies (a $value MIME source) inside a JSON batch.
    if isinstance(body, str):
        try:
            return base64.b64decode(body, validate=True)
        except ValueError:
            return body.encode("utf-8")
    if body is None:
        return b""
    return json.dumps(body).encode()


def _with_bcc(prepared: mime.PreparedMessage) -> bytes:
    """The MIME to post: Graph takes every recipient, Bcc included, from the headers.

    Exchange removes the Bcc header from what it delivers; ``prepared.raw`` (returned to the
    caller) never had it.
    """
    if not prepared.bcc:
        return prepared.raw
    for address in prepared.bcc:
        mime.check_header_value("Bcc", address.email)
    line = "Bcc: " + ", ".join(a.email for a in prepared.bcc) + "\r\n"
    return line.encode("utf-8") + prepared.raw



#: httpx failures after the request was written: the answer was lost, not the request
_LOST_ANSWER = frozenset({"ReadError", "ReadTimeout", "RemoteProtocolError"})
#: httpx failures before the whole request was written: the server cannot have acted
_NOT_WRITTEN = frozenset({"ConnectError", "ConnectTimeout", "PoolTimeout", "WriteError",
                          "WriteTimeout"})
#: a gateway's own answer for a backend that may already have acted
_GATEWAY_STATUSES = ("502", "504")


def _answer_lost(exc: errors.InboxLinkError) -> bool:
    """Whether a failed ``sendMail`` may nevertheless have been accepted.

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
