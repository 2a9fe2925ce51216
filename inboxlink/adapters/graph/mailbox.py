"""The Microsoft 365 mailbox: msgraph-sdk driven from synchronous code.

Every public call goes through `GraphMailbox._run`: the coroutine runs on the caller's
loop when the call came through the async face, else on the shared loop (`._loop`), and
any exception is translated once, by `.errors.TABLE`.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Coroutine
from typing import IO, Any, TypeVar

from inboxlink import deadline, errors, mime
from inboxlink.adapters.graph import _auth, _loop, _reads, send
from inboxlink.adapters.graph.actions import GraphActions
from inboxlink.adapters.graph.attachments import GraphAttachments
from inboxlink.adapters.graph.connection import GraphSession, SessionHolder, TokenSource
from inboxlink.adapters.graph.errors import (
    PROVIDER,
    TABLE,
    ErrorContext,
    extract,
    signal_from_item,
)
from inboxlink.adapters.graph.settings import GraphSettings
from inboxlink.adapters.graph.sync import GraphSync
from inboxlink.cursor import CursorCodec
from inboxlink.mailbox import BaseMailbox
from inboxlink.models import (
    Capability,
    Folder,
    Message,
    MessageSummary,
    OutgoingMessage,
    Page,
    SendResult,
)
from inboxlink.retry import bounded, carried
from inboxlink.spool import Spool
from inboxlink.translate import translating

__all__ = ["GraphMailbox"]

#: listing cursors: the @odata.nextLink, bound to its folder
_CURSORS = CursorCodec(PROVIDER)

log = logging.getLogger("inboxlink.graph")
T = TypeVar("T")

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
    #: msgraph-sdk is asynchronous: `inboxlink.aio` runs it on the caller's loop
    async_native = True

    def __init__(self, settings: GraphSettings) -> None:
        super().__init__(address=settings.address, sent_folder=settings.sent_folder,
                         role_overrides=settings.role_overrides,
                         retry=bounded(settings.retry, settings.timeout))
        self.settings = settings
        self._tokens = TokenSource(settings)
        self._sessions = SessionHolder(settings, self._tokens)
        self._folder_of: dict[str, str] = {}
        self._errors = ErrorContext(
            probe_mailbox=self._probe_mailbox if settings.probe_mailbox else None,
            granted=self._granted, consent_url=self._consent_url,
        )
        self._alias_checked = False
        self._check_alias(settings.address)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_url(cls, url: str, /, **options: Any) -> GraphMailbox:
        """``graph://alice@contoso.com`` with ``credential=`` or ``access_token=``.

        Options are `GraphSettings` fields; ``application=True`` uses app-only access
        to ``/users/<address>`` (same as ``user_id=<address>``).
        """
        return cls(GraphSettings.from_url(url, **options))

    # ------------------------------------------------------------------ plumbing
    def _ensure_session(self) -> GraphSession:
        return self._sessions.get()

    def _run(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        with translating(TABLE, extract, self._errors):
            session = self._ensure_session()
            # The coroutine runs on the caller's loop (async face) or the shared loop's
            # thread: carry the call's retry budget and deadline there, and never wait past
            # the deadline for it. Its failures are explained here, outside the coroutine:
            # the follow-up probe needs the loop.
            result: T = _loop.run(carried(fn(session, *args)),
                                  timeout=deadline.bound(self.settings.timeout,
                                                         provider=self.provider))
        if not self._alias_checked and self._tokens.last:
            self._alias_checked = True
            claims = _auth.token_claims(self._tokens.last)
            for key in ("preferred_username", "upn", "email", "unique_name"):
                self._check_alias(claims.get(key))
        return result

    def _check_alias(self, address: Any) -> None:
        if isinstance(address, str) and _auth.has_primary_alias_problem(address):
            log.warning("%s: %s", address, _auth.PRIMARY_ALIAS_REMEDY)
            warnings.warn(_auth.PrimaryAliasWarning(f"{address}: {_auth.PRIMARY_ALIAS_REMEDY}"),
                          stacklevel=3)

    def _granted(self) -> tuple[set[str], bool] | None:
        return _auth.granted_permissions(_auth.token_claims(self._tokens.last))

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
        return _auth.consent_url_for(_auth.token_claims(self._tokens.last),
                                     client_id=self.settings.client_id,
                                     tenant_id=self.settings.tenant_id,
                                     app_only=self.settings.user_id is not None,
                                     redirect_uri=self.settings.redirect_uri)

    def _probe_mailbox(self) -> bool | None:
        """After "REST API not enabled": does the account have an Exchange Online plan?"""
        try:
            return _loop.run(_reads.has_exchange_plan(self._ensure_session()),
                             timeout=min(30.0, self.settings.timeout))
        except Exception:  # the probe only refines an error; never let it replace one
            return None

    def _item_error(self, response: dict[str, Any]) -> errors.InboxLinkError:
        """The typed error for a failed ``$batch`` item judged after the call returned."""
        return self._errors.error_for(signal_from_item(response))

    # ------------------------------------------------------------------ reading (._reads)
    def _list_folders(self) -> list[Folder]:
        return self._run(_reads.folders, self._retry)

    def _check_link(self, url: object) -> None:
        _reads.check_link(self.settings.base_url, url)

    def _list_page(self, folder: Folder, limit: int, cursor: str | None) -> Page[MessageSummary]:
        # The cursor is the @odata.nextLink bound to its folder: another folder's is refused.
        link = None if cursor is None else _reads.check_link(
            self.settings.base_url, _CURSORS.decode(cursor, folder.id).get("link"))
        page = self._run(_reads.page, folder.id, limit, link)
        if page.next_cursor is not None:
            page = Page(page.items, _CURSORS.encode(folder.id, {"link": page.next_cursor}))
        if len(self._folder_of) > _FOLDER_CACHE_LIMIT:
            self._folder_of.clear()
        self._folder_of.update((s.id, s.folder_id) for s in page.items)
        return page

    def _fetch_many(self, message_ids: list[str]) -> list[Message]:
        raws = self._run(_reads.fetch_raw, message_ids, self._retry)
        return [Message(id=mid, folder_id=self._folder_of.get(mid, ""), raw=raw)
                for mid, raw in zip(message_ids, raws, strict=True)]

    def fetch_to_file(self, message_id: str, target: str | os.PathLike[str] | IO[bytes]) -> int:
        """Stream the MIME source (``/$value``) to a path or binary file, chunk by chunk.

        A path is opened afresh for each attempt, so a retried read never appends to a
        partial file; a file object is written once (its position is the caller's).
        """
        if isinstance(target, (str, os.PathLike)):
            def to_path() -> int:
                with open(target, "wb") as fh:
                    return self._run(_reads.stream_to, message_id, fh)

            return self._retry.call(to_path)
        return self._run(_reads.stream_to, message_id, target)

    # ------------------------------------------------------------------ sending
    def _send(self, prepared: mime.PreparedMessage, save_copy: bool) -> SendResult:
        return send.send(self, prepared, save_copy)

    def _refuse_early(self, message: OutgoingMessage) -> None:
        send.refuse_early(self.settings, message)

    def _append(self, raw: Spool, folder: Folder) -> str | None:
        return send.append(self, raw, folder)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Close the HTTP client for good (using the mailbox afterwards raises
        ``MailboxClosed``). Safe to call twice."""
        self._sessions.close()

    def __repr__(self) -> str:
        mode = "delegated" if self.settings.user_id is None else "application"
        return f"<GraphMailbox {self.address} {mode} {self.settings.base_url}>"
