"""An in-memory mail server and a faithful :class:`~inboxlink.Mailbox` client for it.

:class:`FakeMailServer` holds accounts, folders with roles, messages with UIDs and flags,
and what left by "SMTP". Several :class:`FakeMailbox` clients can share one server; mail
sent from one account to another on the same server is delivered to its INBOX. The server
can be taken offline and can be told to fail the next operations with any typed error.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import threading
from collections.abc import Iterable, Iterator
from email.message import EmailMessage
from typing import IO, Any
from urllib.parse import unquote, urlsplit

import attrs

from inboxlink import errors, mime
from inboxlink.mailbox import BaseMailbox
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

__all__ = ["FakeMailServer", "FakeMailbox", "SentMail"]

#: operations ``fail_next`` understands
OPERATIONS = frozenset(
    {"connect", "folders", "list_messages", "fetch", "send", "append_to_sent"}
)

_DEFAULT_FOLDERS: tuple[tuple[str, str | None], ...] = (
    ("INBOX", None),
    ("Sent", "\\Sent"),
    ("Drafts", "\\Drafts"),
    ("Trash", "\\Trash"),
    ("Junk", "\\Junk"),
    ("Archive", "\\Archive"),
)


@attrs.frozen
class SentMail:
    """One message that left the server: the exact bytes and the SMTP envelope."""

    raw: bytes = attrs.field(repr=lambda r: f"<{len(r)} bytes>")
    sender: str
    recipients: tuple[str, ...]

    @property
    def email(self) -> EmailMessage:
        """The parsed message."""
        return mime.parse(self.raw)


@attrs.define
class _Stored:
    uid: int
    raw: bytes
    flags: set[str]
    received_at: dt.datetime


@attrs.define
class _FolderState:
    path: str
    special_use: str | None
    uidvalidity: int
    next_uid: int = 1
    messages: dict[int, _Stored] = attrs.field(factory=dict)


@attrs.define
class _Account:
    address: str
    folders: dict[str, _FolderState] = attrs.field(factory=dict)


_uidvalidity = itertools.count(int(dt.datetime.now(dt.timezone.utc).timestamp()))


class FakeMailServer:
    """In-memory server state shared by :class:`FakeMailbox` clients.

    Args:
        folders: ``(path, special-use attribute or None)`` pairs created for each new account.
        saves_sent_copy: behave like Gmail/Microsoft 365, which file sent mail themselves.
        max_message_size: messages larger than this are refused with ``MessageTooLarge``.
    """

    def __init__(
        self,
        *,
        folders: Iterable[tuple[str, str | None]] = _DEFAULT_FOLDERS,
        saves_sent_copy: bool = False,
        max_message_size: int = 35 * 1024 * 1024,
    ) -> None:
        self._folder_template = tuple(folders)
        self.saves_sent_copy = saves_sent_copy
        self.max_message_size = max_message_size
        self.offline = False
        self._accounts: dict[str, _Account] = {}
        self._failures: list[tuple[str, errors.InboxLinkError, str | None]] = []
        self._sent: list[SentMail] = []
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ accounts
    def account(self, address: str) -> _Account:
        """The account for ``address``, created with the default folders on first use."""
        key = address.lower()
        with self._lock:
            if key not in self._accounts:
                account = _Account(address=address)
                for path, special_use in self._folder_template:
                    account.folders[path] = _FolderState(path, special_use, next(_uidvalidity))
                self._accounts[key] = account
            return self._accounts[key]

    def add_folder(self, address: str, path: str, special_use: str | None = None) -> None:
        """Create a folder (optionally with a special-use attribute) in an account."""
        with self._lock:
            self.account(address).folders.setdefault(
                path, _FolderState(path, special_use, next(_uidvalidity))
            )

    def reset_uidvalidity(self, address: str, path: str) -> None:
        """Simulate the server rebuilding a folder: old cursors and ids no longer apply."""
        with self._lock:
            self.account(address).folders[path].uidvalidity = next(_uidvalidity)

    # ------------------------------------------------------------------ helpers for tests
    def deliver(
        self,
        message: bytes | EmailMessage,
        folder: str = "INBOX",
        *,
        to: str | None = None,
        flags: Iterable[str] = (),
    ) -> str:
        """Put an incoming message into ``folder`` of account ``to`` (default: its recipients).

        Returns the message's id (of the last account it was delivered to).
        """
        raw = message if isinstance(message, bytes) else message.as_bytes()
        if to is not None:
            targets = [to]
        else:
            parsed = mime.parse(raw)
            targets = [
                a.email for a in mime.addresses(", ".join(
                    str(v) for v in (*parsed.get_all("To", []), *parsed.get_all("Cc", []))
                )) if a.email.lower() in self._accounts
            ] or list(self._accounts)[:1]
        if not targets:
            raise ValueError("no account to deliver to: connect a mailbox or pass to=")
        last = ""
        for address in targets:
            last = self._store(address, folder, raw, set(flags))
        return last

    def fail_next(self, operation: str, error: errors.InboxLinkError, times: int = 1) -> None:
        """Make the next ``times`` calls of ``operation`` raise ``error`` (on any account)."""
        self._add_failure(operation, error, times, None)

    def _add_failure(self, operation: str, error: errors.InboxLinkError, times: int,
                     address: str | None) -> None:
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; use one of {sorted(OPERATIONS)}")
        if not isinstance(error, errors.InboxLinkError):
            raise TypeError("fail_next needs an inboxlink.errors.InboxLinkError instance")
        with self._lock:
            self._failures.extend([(operation, error, address)] * times)

    @property
    def sent(self) -> list[SentMail]:
        """Every message that left the server, oldest first."""
        with self._lock:
            return list(self._sent)

    def messages(self, address: str, folder: str = "INBOX") -> list[bytes]:
        """Raw messages stored in a folder, oldest first."""
        with self._lock:
            state = self._folder(address, folder)
            return [m.raw for m in state.messages.values()]

    # ------------------------------------------------------------------ internals
    def _check(self, operation: str, address: str) -> None:
        with self._lock:
            if self.offline:
                raise errors.ServerUnreachable(
                    "The fake mail server is offline.", provider="fake", code="offline"
                )
            for i, (op, error, who) in enumerate(self._failures):
                if op == operation and (who is None or who == address.lower()):
                    del self._failures[i]
                    raise error

    def _folder(self, address: str, path: str) -> _FolderState:
        account = self.account(address)
        state = account.folders.get(path)
        if state is None:
            raise errors.FolderNotFound(f"No folder named {path!r}.", provider="fake")
        return state

    def _store(self, address: str, path: str, raw: bytes, flags: set[str]) -> str:
        with self._lock:
            state = self._folder(address, path)
            uid = state.next_uid
            state.next_uid += 1
            state.messages[uid] = _Stored(uid, raw, flags, dt.datetime.now(dt.timezone.utc))
            return _message_id(path, state.uidvalidity, uid)


def _message_id(path: str, uidvalidity: int, uid: int) -> str:
    return f"{path}:{uidvalidity}:{uid}"


def _parse_message_id(message_id: str) -> tuple[str, int, int]:
    try:
        path, validity, uid = message_id.rsplit(":", 2)
        return path, int(validity), int(uid)
    except ValueError:
        raise errors.MessageNotFound(f"{message_id!r} is not a message id of this mailbox.",
                                     provider="fake") from None


def _summary(path: str, uidvalidity: int, stored: _Stored) -> MessageSummary:
    parsed = mime.parse(stored.raw)

    def header(name: str) -> str | None:
        return mime.header_str(parsed, name)

    from_ = mime.addresses(header("From"))
    return MessageSummary(
        id=_message_id(path, uidvalidity, stored.uid),
        folder_id=path,
        subject=header("Subject"),
        from_=from_[0] if from_ else None,
        to=mime.addresses(header("To")),
        cc=mime.addresses(header("Cc")),
        date=mime.parse_date(header("Date")),
        received_at=stored.received_at,
        message_id=(header("Message-ID") or "").strip() or None,
        in_reply_to=(header("In-Reply-To") or "").strip() or None,
        references=mime.split_msgids(header("References")),
        flags=frozenset(stored.flags),
        size=len(stored.raw),
    )


class FakeMailbox(BaseMailbox):
    """A :class:`~inboxlink.Mailbox` backed by a :class:`FakeMailServer` (scheme ``fake``).

    Args:
        address: the account's address.
        server: the shared server; a new private one when omitted.
        sent_folder, role_overrides, retry: as for every :class:`~inboxlink.BaseMailbox`.
    """

    provider = "fake"
    capabilities = frozenset(
        {Capability.SEND, Capability.APPEND_TO_SENT, Capability.STREAM_TO_FILE}
    )

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
    def from_url(cls, url: str, /, **options: Any) -> FakeMailbox:
        """``fake://alice@example.com``; options: ``server=``, ``sent_folder=``, ``retry=``."""
        parts = urlsplit(url)
        user = unquote(parts.username or "")
        host = parts.hostname or "example.com"
        address = user if "@" in user else f"{user or 'alice'}@{host}"
        return cls(address, **options)

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
    def _guard(self, operation: str) -> None:
        if self.closed:
            raise errors.ConnectionLost("The mailbox is closed.", provider="fake",
                                        remedy="Connect again.", retryable=False)
        self.server._check(operation, self.address)

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
            state = self.server._folder(self.address, folder.id)
            before: int | None = None
            if cursor:
                try:
                    data = json.loads(cursor)
                    path, validity, before = data["f"], int(data["v"]), int(data["b"])
                except (ValueError, KeyError, TypeError):
                    raise errors.CursorExpired("The cursor is not valid for this mailbox.",
                                               provider="fake", code="bad-cursor") from None
                if path != state.path:
                    raise errors.CursorExpired("The cursor belongs to another folder.",
                                               provider="fake", code="wrong-folder")
                if validity != state.uidvalidity:
                    raise errors.CursorExpired(provider="fake", code="UIDVALIDITY")
            uids = sorted((u for u in state.messages if before is None or u < before),
                          reverse=True)
            chosen = uids[:limit]
            items = [_summary(state.path, state.uidvalidity, state.messages[u]) for u in chosen]
            next_cursor = None
            if len(uids) > limit:
                next_cursor = json.dumps({"f": state.path, "v": state.uidvalidity,
                                          "b": chosen[-1]})
        return Page(items, next_cursor)

    def _fetch_many(self, message_ids: list[str]) -> list[Message]:
        self._guard("fetch")
        result = []
        with self.server._lock:
            for message_id in message_ids:
                path, validity, uid = _parse_message_id(message_id)
                try:
                    state = self.server._folder(self.address, path)
                except errors.FolderNotFound:
                    state = None
                current = state is not None and state.uidvalidity == validity
                stored = state.messages.get(uid) if state is not None and current else None
                if stored is None:
                    raise errors.MessageNotFound(f"Message {message_id!r} was not found.",
                                                 provider="fake", code=message_id)
                result.append(Message(id=message_id, folder_id=path, raw=stored.raw,
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
        if len(prepared.raw) > self.server.max_message_size:
            raise errors.MessageTooLarge(provider="fake", code="552 5.3.4")
        recipients = tuple(a.email for a in prepared.recipients)
        with self.server._lock:
            self.server._sent.append(SentMail(prepared.raw, self.address, recipients))
            local = [r for r in recipients if r.lower() in self.server._accounts]
            for address in dict.fromkeys(r.lower() for r in local):
                self.server._store(self.server._accounts[address].address, "INBOX",
                                   prepared.raw, set())
        if self.server.saves_sent_copy:
            sent = self.folder(FolderRole.SENT)
            copy_id = self.server._store(self.address, sent.id, prepared.raw, {"\\Seen"})
            return SendResult(message_id=prepared.message_id, raw=prepared.raw,
                              sent_copy=SentCopy.SAVED_BY_PROVIDER, sent_folder_id=sent.id,
                              provider_id=copy_id)
        if not save_copy:
            return SendResult(message_id=prepared.message_id, raw=prepared.raw,
                              sent_copy=SentCopy.SKIPPED)
        return self._save_copy(prepared)

    def _append(self, raw: bytes, folder: Folder) -> str | None:
        self._guard("append_to_sent")
        return self.server._store(self.address, folder.id, raw, {"\\Seen"})

    def close(self) -> None:
        """Mark the client closed; the server's state stays."""
        self.closed = True

