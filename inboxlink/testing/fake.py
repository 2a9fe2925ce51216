"""A faithful `Mailbox` client for the in-memory `FakeMailServer`.

Everything a real adapter does, the fake does the same way: folders with roles, paging
cursors, the sent copy, the change feed (``sync_token``/``changes``/``watch``), actions and
search, with the same typed errors. ``fail_next(operation, error)`` injects any failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from email.message import EmailMessage
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from inboxlink import errors, mime
from inboxlink.models import (
    Capability,
    Folder,
    FolderRole,
    Message,
    MessageSummary,
    Page,
    RoleSource,
    SendResult,
    SentCopy,
    save_stream,
)
from inboxlink.retry import RetryPolicy
from inboxlink.spool import Spool
from inboxlink.testing.fake_feed import FakeFeed, listing_cursor
from inboxlink.testing.fake_server import (
    FakeMailServer,
    SentMail,
    summary,
)
from inboxlink.testing.routing import current_server
from inboxlink.testing.seeds import SEEDS, seed_names

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["IGNORED_OPTIONS", "FakeMailServer", "FakeMailbox", "SentMail"]

#: what the real adapters take to reach and sign in to a server; meaningless for the fake,
#: accepted so that only the URL changes when an application switches to it
IGNORED_OPTIONS = frozenset({
    "password", "access_token", "username", "smtp", "ssl_context", "verify_tls",
    "credential", "credentials", "timeout",
})
#: the fake's own options (its ``__init__`` keywords)
_OWN_OPTIONS = frozenset({"server", "sent_folder", "role_overrides", "retry"})


class FakeMailbox(FakeFeed):
    """A `Mailbox` backed by a `FakeMailServer` (scheme ``fake``).

    Args:
        address: the account's address.
        server: the shared server; a new private one when omitted.
        sent_folder, role_overrides, retry: as for every `BaseMailbox`.
    """

    provider = "fake"
    capabilities = frozenset({
        Capability.SEND, Capability.APPEND_TO_SENT, Capability.STREAM_TO_FILE,
        Capability.SYNC, Capability.ACTIONS, Capability.SEARCH, Capability.WATCH,
    })

    def __init__(
        self,
        address: str = "alice@example.com",
        *,
        server: FakeMailServer | None = None,
        sent_folder: str | None = None,
        role_overrides: Any = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(address=address, sent_folder=sent_folder,
                         role_overrides=role_overrides, retry=retry)
        self.server = server if server is not None else FakeMailServer()
        if self.server.saves_sent_copy:
            self.capabilities = type(self).capabilities | {Capability.PROVIDER_SAVES_SENT}
        self.closed = False
        self.server._check("connect", address)
        self.server.account(address)

    @classmethod
    def from_url(cls, url: str, /, **options: Any) -> Self:
        """``fake://alice@example.com[?seed=demo]`` — a drop-in for any real adapter's URL.

        Own options: ``server=`` (default: the server of `use_server()`,
        which the pytest plugin sets to the test's ``fake_mail_server``; else a private new
        one), ``sent_folder=``, ``role_overrides=``, ``retry=``. The real adapters' common
        options (`IGNORED_OPTIONS`: ``password=``, ``access_token=``, ``smtp=``,
        ``ssl_context=``, ``verify_tls=`` …) are accepted and ignored, so an application
        switches to the fake by changing only the URL; any other option raises
        ``ConfigurationError`` naming it, as the real adapters do. ``?seed=demo`` fills a
        new account with a few realistic messages (`inboxlink.testing.seeds`).
        """
        parts = urlsplit(url)
        user = unquote(parts.username or "")
        host = parts.hostname or "example.com"
        address = user if "@" in user else f"{user or 'alice'}@{host}"
        query = parse_qs(parts.query, keep_blank_values=True)
        unknown = sorted(set(options) - _OWN_OPTIONS - IGNORED_OPTIONS)
        unknown += [f"?{name}=" for name in sorted(set(query) - {"seed"})]
        if unknown:
            raise errors.ConfigurationError(
                f"Unknown option(s) for the fake adapter: {', '.join(unknown)}.",
                provider="fake", code="option",
                remedy="It takes " + ", ".join(sorted(_OWN_OPTIONS)) + " and ?seed=; the "
                "real adapters' common options (" + ", ".join(sorted(IGNORED_OPTIONS))
                + ") are accepted and ignored.")
        seed_name = query.get("seed", [""])[-1]
        if seed_name and seed_name not in SEEDS:
            raise errors.ConfigurationError(
                f"The fake has no seed named {seed_name!r}.", provider="fake", code="seed",
                remedy="Use one of: " + ", ".join(seed_names()) + ".")
        own = {key: value for key, value in options.items() if key in _OWN_OPTIONS}
        if own.get("server") is None:
            own["server"] = current_server() or FakeMailServer()
        server: FakeMailServer = own["server"]
        # Seed an account only when it is new, so reopening the URL never duplicates mail.
        fresh = address.lower() not in server._accounts
        mailbox = cls(address, **own)
        if seed_name and fresh:
            for item in SEEDS[seed_name](address):
                server.add_folder(address, item.folder)  # a custom folder set may lack it
                server._store(address, item.folder, item.raw, set(item.flags))
        return mailbox

    # ------------------------------------------------------------------ test helpers
    def deliver(self, message: bytes | EmailMessage, folder: str = "INBOX",
                *, flags: Iterable[str] = ()) -> str:
        """Deliver an incoming message into this mailbox; returns its id."""
        return self.server.deliver(message, folder, to=self.address, flags=flags)

    def fail_next(self, operation: str, error: errors.InboxLinkError, times: int = 1) -> None:
        """Make this mailbox's next ``times`` calls of ``operation`` raise ``error``."""
        self.server._add_failure(operation, error, times, self.address.lower())

    @property
    def sent(self) -> list[SentMail]:
        """Messages this mailbox sent, oldest first."""
        me = self.address.lower()
        return [m for m in self.server.sent if m.sender.lower() == me]

    # ------------------------------------------------------------------ primitives
    def _list_folders(self) -> list[Folder]:
        self._guard("folders")
        with self.server._lock:
            states = list(self.server.account(self.address).folders.values())
        result = []
        for state in states:
            attributes = frozenset({state.special_use} if state.special_use else ())
            role = FolderRole.INBOX if state.path.upper() == "INBOX" else None
            source: RoleSource | None = RoleSource.PROVIDER if role else None
            if state.special_use:
                from inboxlink.folders import role_from_attributes

                role = role_from_attributes(attributes)
                source = RoleSource.SPECIAL_USE
            parent, _, leaf = state.path.rpartition("/")
            result.append(Folder(
                id=state.path, name=leaf, path=state.path, role=role, role_source=source,
                parent_id=parent or None, attributes=attributes,
                total=len(state.messages),
                unread=sum(1 for m in state.messages.values() if "\\Seen" not in m.flags),
            ))
        return result

    def _list_page(self, folder: Folder, limit: int, cursor: str | None) -> Page[MessageSummary]:
        self._guard("list_messages")
        with self.server._lock:
            state = self._state(folder)
            before = self._cursor_position(state, cursor) if cursor else None
            uids = sorted((u for u in state.messages if before is None or u < before),
                          reverse=True)
            chosen = uids[:limit]
            items = [summary(state.path, state.uidvalidity, state.messages[u]) for u in chosen]
            next_cursor = None
            if len(uids) > limit:
                next_cursor = listing_cursor(state, chosen[-1])
        return Page(items, next_cursor)

    def _fetch_many(self, message_ids: list[str]) -> list[Message]:
        self._guard("fetch")
        result = []
        with self.server._lock:
            for message_id in message_ids:
                found = self._lookup(message_id)
                if found is None:
                    raise errors.MessageNotFound(f"Message {message_id!r} was not found.",
                                                 provider="fake", code=message_id)
                state, stored = found
                result.append(Message(id=message_id, folder_id=state.path, raw=stored.raw,
                                      flags=frozenset(stored.flags)))
        return result

    def fetch_to_file(self, message_id: str, target: str | os.PathLike[str] | IO[bytes]) -> int:
        """Write the raw message to ``target`` in 64 KiB chunks."""
        raw = self.fetch(message_id).raw

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(raw), 65536):
                yield raw[start:start + 65536]

        return save_stream(chunks(), target)

    def _send(self, prepared: mime.PreparedMessage, save_copy: bool) -> SendResult:
        self._guard("send")
        if prepared.size > self.server.max_message_size:
            raise errors.MessageTooLarge(provider="fake", code="552 5.3.4",
                                         limit=self.server.max_message_size,
                                         size=prepared.size)
        recipients = tuple(a.email for a in prepared.recipients)
        raw = prepared.raw  # the fake keeps every message in memory
        with self.server._lock:
            self.server._sent.append(SentMail(raw, self.address, recipients))
            local = [r for r in recipients if r.lower() in self.server._accounts]
            for address in dict.fromkeys(r.lower() for r in local):
                self.server._store(self.server._accounts[address].address, "INBOX",
                                   raw, set())
        if self.server.saves_sent_copy:
            sent = self.folder(FolderRole.SENT)
            copy_id = self.server._store(self.address, sent.id, raw, {"\\Seen"})
            return SendResult(message_id=prepared.message_id, raw=prepared.spool,
                              sent_copy=SentCopy.SAVED_BY_PROVIDER, sent_folder_id=sent.id,
                              provider_id=copy_id)
        if not save_copy:
            return SendResult(message_id=prepared.message_id, raw=prepared.spool,
                              sent_copy=SentCopy.SKIPPED)
        return self._save_copy(prepared)

    def _append(self, spool: Spool, folder: Folder) -> str | None:
        self._guard("append_to_sent")
        raw = spool.read()  # the fake keeps every message in memory
        return self.server._store(self.address, folder.id, raw, {"\\Seen"})

    def close(self) -> None:
        """Mark the client closed; the server's state stays."""
        self.closed = True
        with self.server._changed:
            self.server._changed.notify_all()
