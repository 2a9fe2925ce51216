"""``ImapMailbox``: the IMAP/SMTP adapter (imapclient for reading, smtplib for sending).

Each primitive opens (a pooled session, `connection`), calls (`_reads`, `attachments`,
`actions`, `sync`, `watch`) and converts (`convert`) inside the one error boundary.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any, TypeVar

from inboxlink import errors, mime
from inboxlink.adapters.imap import _ids as ids
from inboxlink.adapters.imap import (
    _reads,
    actions,
    attachments,
    send,
    sync,
)
from inboxlink.adapters.imap._tls import client_context
from inboxlink.adapters.imap.connection import (
    ConnectionBudget,
    Session,
    budget_permit,
    open_session,
    run_on_session,
)
from inboxlink.adapters.imap.errors import PROVIDER, TABLE, extract
from inboxlink.adapters.imap.settings import ImapSettings
from inboxlink.adapters.imap.watch import Watcher
from inboxlink.changes import ChangeHint, ChangeSet
from inboxlink.mailbox import BaseMailbox
from inboxlink.mailbox_sync import Watch
from inboxlink.models import (
    AttachmentInfo,
    Capability,
    Folder,
    FolderRole,
    Message,
    MessageSummary,
    Page,
    SendResult,
)
from inboxlink.query import SearchQuery
from inboxlink.retry import bounded
from inboxlink.spool import Spool
from inboxlink.translate import translating

__all__ = ["ImapMailbox"]

log = logging.getLogger("inboxlink.imap")

R = TypeVar("R")

#: exceptions after which a session cannot be trusted any more

class ImapMailbox(BaseMailbox):
    """A mailbox reached over IMAP (reading) and SMTP (sending).

    Build it with ``inboxlink.connect("imaps://alice@mail.example.com", password=…,
    smtp="smtp://smtp.example.com:587")`` or directly with `ImapSettings`. The first
    connection is opened (and authenticated) at once, so a wrong setting fails here.
    """

    provider = PROVIDER
    max_page_size = 1000

    def __init__(self, settings: ImapSettings) -> None:
        super().__init__(address=settings.address, sent_folder=settings.sent_folder,
                         role_overrides=settings.role_overrides,
                         retry=bounded(settings.retry, settings.timeout))
        self.settings = settings
        self._context = client_context(settings)
        self._saves_sent = settings.host_saves_sent()
        self.capabilities = self._declared_capabilities()
        self._pool: ConnectionBudget[Session] = ConnectionBudget(
            settings.max_connections, self._open, Session.close,
            wait_timeout=max(settings.timeout * 2, 30.0), permit=budget_permit(settings),
        )
        with self._translating():
            first = self._pool.acquire()
        self._pool.release(first)
        #: the IMAP capabilities the server announced after login (upper case)
        self.server_capabilities = first.capabilities
        self._watcher = Watcher(self._pool, settings.idle_restart, lambda: self.poll_policy)
        if self.settings.provider_saves_sent is None and "X-GM-EXT-1" in first.capabilities:
            self._saves_sent = True
            self.capabilities = self._declared_capabilities()
        if "IDLE" in first.capabilities:  # watch() is pushed, not polled
            self.capabilities |= {Capability.WATCH}

    @classmethod
    def from_url(cls, url: str, /, **options: Any) -> ImapMailbox:
        """``imaps://user@host[:port]`` (implicit TLS) or ``imap://…`` (STARTTLS on 143).

        Options: ``password=`` or ``access_token=``, ``smtp='smtp://host:587'`` (STARTTLS) or
        ``'smtps://host:465'``, ``ssl_context=``, ``verify_tls=``, and any
        `ImapSettings` field (``imap_host=``, ``smtp_port=``, ``sent_folder=`` …).
        """
        return cls(ImapSettings.from_url(url, **options))

    def _declared_capabilities(self) -> frozenset[Capability]:
        caps = {Capability.SEND, Capability.APPEND_TO_SENT, Capability.STREAM_TO_FILE,
                Capability.SYNC, Capability.ACTIONS, Capability.SEARCH}
        if self._saves_sent:
            caps.add(Capability.PROVIDER_SAVES_SENT)
        return frozenset(caps)

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def _translating(self) -> Iterator[None]:
        """The single boundary: every client-library exception leaves as a typed error."""
        with translating(TABLE, extract, None):
            yield

    def _open(self) -> Session:
        return open_session(self.settings, self._context)

    def _with_session(self, work: Callable[[Session], R], *, reconnect: bool = True) -> R:
        """``work`` on a pooled session (see `connection.run_on_session`)."""
        return run_on_session(self._pool, self.settings.timeout, work, reconnect=reconnect)

    def _run(self, work: Callable[[Session], R]) -> R:
        """``work`` on a pooled session inside the error boundary (reconnects once)."""
        with self._translating():
            return self._with_session(work)

    def _once(self, work: Callable[[Session], R]) -> R:
        """The same without the reconnect-and-repeat: moves and expunges never run twice."""
        with self._translating():
            return self._with_session(work, reconnect=False)

    # ------------------------------------------------------------------ reading
    def _list_folders(self) -> list[Folder]:
        return self._run(_reads.folders_on)

    def _list_page(self, folder: Folder, limit: int, cursor: str | None) -> Page[MessageSummary]:
        position = ids.decode_cursor(cursor) if cursor else None
        if position is not None and position.folder != folder.id:
            raise errors.CursorExpired("This cursor belongs to another folder's listing.",
                                       provider=PROVIDER)
        return self._run(lambda s: _reads.page_on(s, folder, limit, position))

    def _fetch_many(self, message_ids: list[str]) -> list[Message]:
        by_folder: dict[str, list[ids.MessageRef]] = {}
        for ref in (ids.parse_message_id(m) for m in message_ids):
            by_folder.setdefault(ref.folder, []).append(ref)
        found: dict[str, Message] = {}
        for folder, group in by_folder.items():
            found.update(self._run(functools.partial(
                _reads.bodies_on, folder=folder, group=group, chunk=self.settings.fetch_chunk)))
        missing = [m for m in message_ids if m not in found]
        if missing:
            raise errors.MessageNotFound(
                f"{len(missing)} message(s) no longer exist: {', '.join(missing[:5])}.",
                provider=PROVIDER,
            )
        return [found[m] for m in message_ids]

    def fetch_to_file(self, message_id: str, target: str | os.PathLike[str] | IO[bytes]) -> int:
        """Stream the raw message to ``target`` in partial FETCHes (bounded memory)."""
        ref = ids.parse_message_id(message_id)
        return self._once(lambda s: _reads.stream_on(s, ref, target, self.settings.stream_chunk))

    def list_attachments(self, message_id: str) -> list[AttachmentInfo]:
        """Attachments read from one BODYSTRUCTURE fetch; ``part`` is the IMAP section."""
        return self._retry.call(attachments.list_attachments, self._run, message_id)

    def save_attachment(
        self, message_id: str, part: str, target: str | os.PathLike[str] | IO[bytes]
    ) -> int:
        """Stream one attachment, decoded, to ``target`` in partial FETCHes of its section
        (bounded memory; never marks the message as read)."""
        return attachments.save_attachment(self._once, message_id, part, target,
                                           self.settings.stream_chunk, self._no_attachment)

    # ------------------------------------------------------------------ sending (send.py)
    def _send(self, prepared: mime.PreparedMessage, save_copy: bool) -> SendResult:
        return send.submit(self, prepared, save_copy)

    def _append(self, raw: Spool, folder: Folder) -> str | None:
        return send.append(self, raw, folder)

    # ------------------------------------------------------------------ round 2 (delegates)
    def _sync_token(self, folder: Folder) -> str:  # sync.py
        return self._run(lambda s: sync.sync_token(s, folder))

    def _changes(self, folder: Folder, token: str, limit: int) -> ChangeSet:
        return self._run(lambda s: sync.changes(s, folder, token, limit))

    def _wait_for_change(self, watch: Watch) -> ChangeHint | None:  # watch.py
        with self._translating():
            return self._watcher.wait(watch)

    def _set_flag(self, ids: list[str], flag: str, value: bool) -> list[str]:  # actions.py
        return actions.set_flag(self._run, ids, flag, value, chunk=self.settings.fetch_chunk)

    def _move(self, ids: list[str], target: Folder) -> dict[str, str | None]:
        return actions.move(self._once, ids, target, chunk=self.settings.fetch_chunk)

    def _delete(self, ids: list[str], permanent: bool) -> list[str]:
        trash = None if permanent else self.folder(FolderRole.TRASH)
        return actions.delete(self._once, ids, trash, chunk=self.settings.fetch_chunk)

    def _search(self, folder: Folder, query: SearchQuery, limit: int,
                cursor: str | None) -> Page[MessageSummary]:
        return actions.search(self._run, folder, query, limit, cursor)

    def _find_replies(self, message_id: str) -> list[MessageSummary]:
        return actions.find_replies(self._run, self.folders(), message_id)

    def _thread(self, message_id: str) -> list[MessageSummary]:
        return actions.thread(self._run, self.folders(), message_id)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Log out of every idle connection; safe to call twice."""
        self._pool.close()

    @property
    def open_connections(self) -> int:
        """How many connections this mailbox holds open now (for tests and monitoring)."""
        return self._pool.open_count
