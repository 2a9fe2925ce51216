"""The msgraph-sdk client for one mailbox, built on the shared loop, and its raw requests.

Requests are built with the SDK's request builders (or a plain ``RequestInformation`` where
the SDK has no builder: MIME ``sendMail``, ``$batch``) and sent through its request adapter,
so authentication, the middleware pipeline and ``ODataError`` parsing are the SDK's own.
Response bodies are read as bytes and parsed with `json`: summaries are plain dicts
here, which is far cheaper than kiota's model objects for 1,000-item pages.

kiota's RetryHandler is switched off (`._msgraph_shim`): inboxlink's one `RetryPolicy`
retries reads, and ``sendMail`` must never be repeated behind our back (a 504 after the
message was accepted would send it twice).

Every HTTP request (each ``$batch`` POST, page, ``sendMail`` and streamed download) holds a
slot of the mailbox's `MailboxLimiter` from sending until its body is read
or closed, so the ``max_concurrent`` cap is enforced here, once, not per operation.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import logging
import os
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph.graph_service_client import GraphServiceClient

from inboxlink import _bridge, errors
from inboxlink.adapters.graph import _loop, _msgraph_shim
from inboxlink.adapters.graph._limit import limiter_for
from inboxlink.adapters.graph.errors import MalformedResponse
from inboxlink.adapters.graph.settings import GraphSettings

__all__ = ["ERROR_MAP", "GraphSession", "SessionHolder", "TokenSource"]

log = logging.getLogger("inboxlink.graph")

ERROR_MAP: dict[str, Any] = {"XXX": ODataError}


class TokenSource(AccessTokenProvider):
    """Bearer tokens for the base URL's host only: a static token or an azure-identity credential.

    Remembers the last token handed out, so errors can be explained from its claims.
    """

    def __init__(self, settings: GraphSettings) -> None:
        self._static = settings.access_token
        self._credential = settings.credential
        self._scopes = settings.token_scopes
        host = urlsplit(settings.base_url).hostname or ""
        self._hosts = AllowedHostsValidator([host])
        self.last: str | None = settings.access_token

    async def get_authorization_token(
        self, uri: str, additional_authentication_context: dict[str, Any] | None = None
    ) -> str:
        """The token for ``uri``; empty for any other host, so a token never leaks."""
        if not self._hosts.is_url_host_valid(uri):
            return ""
        if self._static is not None:
            return self._static
        claims = (additional_authentication_context or {}).get("claims")
        kwargs = {"claims": claims} if claims else {}
        get_token: Callable[..., Any] = self._credential.get_token
        if inspect.iscoroutinefunction(get_token):
            token = await get_token(*self._scopes, **kwargs)
        else:
            # A synchronous credential may do network I/O: keep it off the shared loop.
            token = await asyncio.get_running_loop().run_in_executor(
                None, functools.partial(get_token, *self._scopes, **kwargs))
        self.last = str(token.token)
        return self.last

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        """Hosts this provider attaches tokens for."""
        return self._hosts


class GraphSession:
    """msgraph-sdk objects for one mailbox. Create it on the shared loop (httpx binds to it,
    and so does the mailbox's concurrency limiter)."""

    def __init__(self, settings: GraphSettings, tokens: TokenSource) -> None:
        self.http = _msgraph_shim.http_client(settings.timeout)
        self.adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(tokens),
                                           client=self.http)
        self.adapter.base_url = settings.base_url
        self.client = GraphServiceClient(request_adapter=self.adapter)
        self.user = (self.client.me if settings.user_id is None
                     else self.client.users.by_user_id(settings.user_id))
        self.base_url = settings.base_url
        self.user_path = settings.user_path
        self.limiter = limiter_for(settings.origin, settings.address)
        self.max_concurrent = settings.max_concurrent
        budget, key = settings.budget, f"graph:{settings.origin}/{settings.address.casefold()}"
        #: the shared budget's slot, when one is given (the local limiter alone otherwise)
        self.shared = None if budget is None else (
            lambda: budget.slot(key, "requests", settings.max_concurrent,
                                timeout=settings.timeout))

    def request(self, method: Method, path: str) -> RequestInformation:
        """A request for ``base_url + path`` (``path`` already URL-encoded)."""
        info = RequestInformation(method)
        info.url = self.base_url + path
        return info

    def _slot(self) -> contextlib.AbstractAsyncContextManager[None]:
        return self.limiter.slot(self.max_concurrent, self.shared)

    async def send_bytes(self, info: RequestInformation) -> bytes:
        """Send and return the body; non-2xx raises the SDK's ``ODataError``/``APIError``."""
        async with self._slot():
            body = await self.adapter.send_primitive_async(info, "bytes", ERROR_MAP)
        return body or b""

    async def send_json(self, info: RequestInformation) -> dict[str, Any]:
        """Send and parse the JSON body, which must be a JSON object.

        A 2xx with anything else (an HTML page from a proxy, a cut or broken body) raises
        `MalformedResponse` (a `TransientError` once translated), never ``JSONDecodeError``.
        """
        body = await self.send_bytes(info)
        if not body:
            return {}
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedResponse(body) from exc
        if not isinstance(data, dict):
            raise MalformedResponse(body)
        return data

    async def send_no_content(self, info: RequestInformation) -> None:
        """Send a request whose success has no body (``sendMail``)."""
        async with self._slot():
            await self.adapter.send_no_response_content_async(info, ERROR_MAP)

    @contextlib.asynccontextmanager
    async def stream(self, info: RequestInformation) -> AsyncIterator[httpx.Response]:
        """Send through the SDK's pipeline and yield the response with its body unread.

        The slot is held until the body is closed, at the end of the ``async with``.
        """
        async with self._slot():
            native = await _msgraph_shim.native_request(self.adapter, info)
            response: httpx.Response = await self.http.send(native, stream=True)
            try:
                yield response
            finally:
                await response.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client and its connections."""
        await _msgraph_shim.aclose(self.http)


class SessionHolder:
    """One mailbox's `GraphSession` per event loop: on the shared loop for the synchronous
    face, on each caller's loop for the async face (httpx binds to the loop it runs on).
    Built on first use, built again in a forked child (the parent's sockets and loop are not
    the child's), closed for good by `close` — afterwards `get` raises ``MailboxClosed``, it
    never reopens behind the application's back."""

    def __init__(self, settings: GraphSettings, tokens: TokenSource) -> None:
        self._settings = settings
        self._tokens = tokens
        #: sessions by loop; a loop that is gone takes its session with it
        self._sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, GraphSession]
        self._sessions = weakref.WeakKeyDictionary()
        # Never held across an await: building a session does no I/O.
        self._lock = threading.Lock()
        self.closed = False
        _LIVE.add(self)

    def get(self) -> GraphSession:
        """The session for the loop this call runs on (built if needed)."""
        if self.closed:
            raise errors.MailboxClosed(provider="graph")
        loop = _loop.current()
        with self._lock:
            session = self._sessions.get(loop)
            if session is None:
                # A session's connections hold its loop, so a closed loop (each
                # asyncio.run() makes one) is never collected on its own: let go of it.
                for gone in [old for old in self._sessions if old.is_closed()]:
                    del self._sessions[gone]
                # A bridged caller is on its loop already and builds at once: waiting for
                # a coroutine would switch away while holding the lock. Anyone else builds
                # on the shared loop, which httpx will run on.
                session = self._sessions[loop] = (
                    GraphSession(self._settings, self._tokens) if _bridge.active()
                    else _loop.run(self._build()))
            return session

    async def _build(self) -> GraphSession:
        return GraphSession(self._settings, self._tokens)

    def close(self) -> None:
        """Close every loop's HTTP client for good; safe to call twice."""
        self.closed = True
        with self._lock:
            sessions = list(self._sessions.items())
            self._sessions.clear()
        for loop, session in sessions:
            try:
                _loop.run_on(loop, session.aclose(), timeout=10)
            except Exception as exc:  # closing must not fail the caller's with-block
                log.debug("closing the Graph client failed: %s", exc)

    def _after_fork_in_child(self) -> None:
        # Another parent thread may have held the lock at the fork (mid get()); its copy would
        # stay locked forever here. The sessions are the parent's too: forget them, as the
        # loop forgets its thread, and build afresh on first use.
        self._lock = threading.Lock()
        self._sessions = weakref.WeakKeyDictionary()


#: every live holder, so a forked child can reset their locks (see _after_fork_in_child)
_LIVE: weakref.WeakSet[SessionHolder] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for holder in list(_LIVE):
        holder._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
