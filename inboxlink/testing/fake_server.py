"""The in-memory mail server behind `FakeMailbox`.

`FakeMailServer` holds accounts, folders with roles, messages with UIDs and flags, a
per-folder change log (a modification sequence, like IMAP CONDSTORE) and what left by
"SMTP". Several clients can share one server; mail sent from one account to another on the
same server is delivered to its INBOX. The server can be taken offline and can be told to
fail the next operations with any typed error.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Iterable
from email.message import EmailMessage

import attrs

from inboxlink import errors, headers, mime
from inboxlink.models import MessageSummary

__all__ = ["OPERATIONS", "FakeMailServer", "SentMail"]

#: operations ``fail_next`` understands
OPERATIONS = frozenset({
    "connect", "folders", "list_messages", "fetch", "send", "append_to_sent",
    "sync_token", "changes", "set_flags", "move", "delete", "search", "watch",
})

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
    created: int = 0  #: modseq when it arrived in this folder
    modseq: int = 0  #: modseq of its last change


@attrs.define
class _FolderState:
    path: str
    special_use: str | None
    uidvalidity: int
    next_uid: int = 1
    messages: dict[int, _Stored] = attrs.field(factory=dict)
    modseq: int = 0
    #: (modseq, uid) of every message that left the folder, oldest first
    expunged: list[tuple[int, int]] = attrs.field(factory=list)

    def bump(self) -> int:
        self.modseq += 1
        return self.modseq


@attrs.define
class _Account:
    address: str
    folders: dict[str, _FolderState] = attrs.field(factory=dict)


_uidvalidity = itertools.count(int(dt.datetime.now(dt.timezone.utc).timestamp()))


class FakeMailServer:
    """In-memory server state shared by `FakeMailbox` clients.

    Args:
        folders: ``(path, special-use attribute or None)`` pairs created for each new account.
        saves_sent_copy: behave like Gmail/Microsoft 365, which file sent mail themselves.
        max_message_size: messages larger than this (encoded, as sent) are refused with
            ``MessageTooLarge``; 150 MB by default, the largest provider limit (Microsoft 365).
    """

    def __init__(
        self,
        *,
        folders: Iterable[tuple[str, str | None]] = _DEFAULT_FOLDERS,
        saves_sent_copy: bool = False,
        max_message_size: int = 150 * 1024 * 1024,
    ) -> None:
        self._folder_template = tuple(folders)
        self.saves_sent_copy = saves_sent_copy
        self.max_message_size = max_message_size
        self.offline = False
        self._accounts: dict[str, _Account] = {}
        self._failures: list[tuple[str, errors.InboxLinkError, str | None]] = []
        self._sent: list[SentMail] = []
        self._lock = threading.RLock()
        #: notified on every change, for ``watch()``
        self._changed = threading.Condition(self._lock)

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
        """Simulate the server rebuilding a folder: old cursors, ids and sync tokens no
        longer apply."""
        with self._lock:
            self.account(address).folders[path].uidvalidity = next(_uidvalidity)
            self._changed.notify_all()

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
            seq = state.bump()
            state.messages[uid] = _Stored(uid, raw, flags, dt.datetime.now(dt.timezone.utc),
                                          created=seq, modseq=seq)
            self._changed.notify_all()
            return message_id(path, state.uidvalidity, uid)

    def _expunge(self, state: _FolderState, uid: int) -> _Stored:
        stored = state.messages.pop(uid)
        state.expunged.append((state.bump(), uid))
        self._changed.notify_all()
        return stored

    def _touch(self, state: _FolderState, stored: _Stored) -> None:
        stored.modseq = state.bump()
        self._changed.notify_all()


def message_id(path: str, uidvalidity: int, uid: int) -> str:
    """The fake's message id: folder path, UIDVALIDITY and UID."""
    return f"{path}:{uidvalidity}:{uid}"


def parse_message_id(value: str) -> tuple[str, int, int] | None:
    """``(path, uidvalidity, uid)`` of a fake message id, or ``None`` when it is not one."""
    try:
        path, validity, uid = value.rsplit(":", 2)
        return path, int(validity), int(uid)
    except ValueError:
        return None


def summary(path: str, uidvalidity: int, stored: _Stored) -> MessageSummary:
    """The listing's view of a stored message."""
    # The same lenient reader as Message and every adapter's listing: they agree.
    env = headers.envelope(stored.raw)
    return MessageSummary(
        id=message_id(path, uidvalidity, stored.uid),
        folder_id=path,
        subject=env.subject,
        from_=env.from_,
        to=env.to,
        cc=env.cc,
        date=env.date,
        received_at=stored.received_at,
        message_id=env.message_id,
        in_reply_to=env.in_reply_to,
        references=env.references,
        flags=frozenset(stored.flags),
        size=len(stored.raw),
    )
