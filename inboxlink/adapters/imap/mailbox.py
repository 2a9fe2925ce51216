"""``ImapMailbox``: the IMAP/SMTP adapter (imapclient for reading, smtplib for sending)."""

from __future__ import annotations

import functools
import imaplib
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any, TypeVar

from inboxlink import deadline, errors, mime
from inboxlink.adapters.imap import (
    _imaplib_shim,
    actions,
    attachments,
    ids,
    send,
    summaries,
    sync,
    wire,
)
from inboxlink.adapters.imap.connection import (
    ConnectionBudget,
    Session,
    budget_permit,
    open_session,
)
from inboxlink.adapters.imap.errors import PROVIDER, TABLE, extract
from inboxlink.adapters.imap.settings import ImapSettings, settings_from_url
from inboxlink.adapters.imap.tls import client_context
from inboxlink.adapters.imap.watch import Watcher
from inboxlink.changes import ChangeHint, ChangeSet
from inboxlink.folders import role_from_attributes
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
    RoleSource,
    SendResult,
    save_stream,
)
from inboxlink.query import SearchQuery
from inboxlink.retry import bounded
from inboxlink.spool import Spool
from inboxlink.translate import translating

__all__ = ["ImapMailbox"]

log = logging.getLogger("inboxlink.imap")

R = TypeVar("R")

#: exceptions after which a session cannot be trusted any more
_DROPPED: tuple[type[BaseException], ...] = (imaplib.IMAP4.abort, OSError, EOFError)

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
        return cls(settings_from_url(url, **options))

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
        """Run ``work`` on a pooled session; a dropped connection is retried once on a new one.

        Every network wait is cut to what is left of the call's deadline, and no reconnect
        starts after it. A session that saw anything but a clean tagged NO/BAD (a drop, a
        timeout, a protocol violation, a response the parser choked on) is discarded: it may
        be in the middle of a response and must never serve another call.
        """
        attempts = 2 if reconnect else 1
        for attempt in range(attempts):
            session = self._pool.acquire()
            try:
                _imaplib_shim.set_wait(session.client._imap,
                                       deadline.bound(self.settings.timeout, provider=PROVIDER))
                result = work(session)
            except errors.InboxLinkError:
                # Typed errors raised by our own checks: the session itself is fine (and
                # some typed errors are OSError subclasses, e.g. PermissionDenied).
                self._pool.release(session)
                raise
            except _DROPPED as exc:
                self._pool.release(session, discard=True)
                refused = _imaplib_shim.violation(session.client._imap)
                if refused is not None:
                    # Not retried: the server would send the same thing again.
                    raise refused from exc
                left = deadline.remaining()
                if attempt + 1 == attempts or (left is not None and left <= 0):
                    raise
                continue
            except BaseException as exc:
                self._pool.release(session, discard=not _clean_refusal(exc))
                raise
            self._pool.release(session)
            return result
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ folders
    def _list_folders(self) -> list[Folder]:
        with self._translating():
            return self._with_session(self._folders_on)

    def _folders_on(self, session: Session) -> list[Folder]:
        client = session.client
        use_xlist = "SPECIAL-USE" not in session.capabilities and "XLIST" in session.capabilities
        rows = client.xlist_folders() if use_xlist else client.list_folders()
        result: list[Folder] = []
        for flags, delimiter, name in rows:
            attributes = frozenset(f.decode("ascii", "replace") if isinstance(f, bytes) else str(f)
                                   for f in flags)
            delim = delimiter.decode() if isinstance(delimiter, bytes) else delimiter
            levels = name.split(delim) if delim else [name]
            role = role_from_attributes(attributes)
            source = RoleSource.SPECIAL_USE if role else None
            if name.upper() == "INBOX" or role is FolderRole.INBOX:
                # RFC 3501 reserves the name INBOX: the server states this role.
                role, source = FolderRole.INBOX, RoleSource.PROVIDER
            result.append(Folder(
                id=name, name=levels[-1], path="/".join(levels), role=role, role_source=source,
                parent_id=delim.join(levels[:-1]) if delim and len(levels) > 1 else None,
                attributes=attributes,
            ))
        return result

    # ------------------------------------------------------------------ listing
    def _list_page(self, folder: Folder, limit: int, cursor: str | None) -> Page[MessageSummary]:
        position = ids.decode_cursor(cursor) if cursor else None
        if position is not None and position.folder != folder.id:
            raise errors.CursorExpired("This cursor belongs to another folder's listing.",
                                       provider=PROVIDER)
        with self._translating():
            return self._with_session(lambda s: self._page_on(s, folder, limit, position))

    def _page_on(self, session: Session, folder: Folder, limit: int,
                 position: ids.Cursor | None) -> Page[MessageSummary]:
        # A continuing page may reuse the selection: UIDVALIDITY cannot change while a
        # folder is selected, and new arrivals (above the cursor) do not concern it.
        session.select(folder.id, refresh=position is None)
        if position is not None and position.uidvalidity != session.uidvalidity:
            raise errors.CursorExpired(
                f"The folder {folder.path!r} was rebuilt on the server (UIDVALIDITY changed "
                f"from {position.uidvalidity} to {session.uidvalidity}).", provider=PROVIDER,
                code="UIDVALIDITY",
            )
        if session.exists == 0 or (position is not None and position.below <= 1):
            return Page(items=())
        chunk, more = wire.newest_uids(session.client, position.below if position else None,
                                       limit, esearch="ESEARCH" in session.capabilities)
        if not chunk:
            return Page(items=())
        data = wire.uid_fetch(session.client, wire.uid_set(chunk), summaries.SUMMARY_ITEMS)
        validity = session.uidvalidity
        items = [summaries.summary(ids.message_id(folder.id, validity, uid), folder.id, data[uid])
                 for uid in chunk if uid in data]
        next_cursor = None
        if more:
            next_cursor = ids.encode_cursor(ids.Cursor(folder.id, validity, chunk[-1]))
        return Page(items=items, next_cursor=next_cursor)

    # ------------------------------------------------------------------ fetching
    def _fetch_many(self, message_ids: list[str]) -> list[Message]:
        refs = [ids.parse_message_id(m) for m in message_ids]
        by_folder: dict[str, list[ids.MessageRef]] = {}
        for ref in refs:
            by_folder.setdefault(ref.folder, []).append(ref)
        found: dict[str, Message] = {}
        with self._translating():
            for folder, group in by_folder.items():
                found.update(self._with_session(functools.partial(self._bodies_on,
                                                                  folder=folder, group=group)))
        missing = [m for m in message_ids if m not in found]
        if missing:
            raise errors.MessageNotFound(
                f"{len(missing)} message(s) no longer exist: {', '.join(missing[:5])}.",
                provider=PROVIDER,
            )
        return [found[m] for m in message_ids]

    def _select_for(self, session: Session, folder: str, validity: int) -> bool:
        """Select ``folder``; False when it is gone or was rebuilt (its messages are gone)."""
        return actions.select_checked(session, folder, validity)

    def _bodies_on(self, session: Session, folder: str,
                   group: list[ids.MessageRef]) -> dict[str, Message]:
        validity = group[0].uidvalidity
        if not self._select_for(session, folder, validity):
            return {}
        wanted = sorted({r.uid for r in group if r.uidvalidity == validity})
        result: dict[str, Message] = {}
        step = self.settings.fetch_chunk
        for start in range(0, len(wanted), step):
            data = wire.uid_fetch(session.client, wire.uid_set(wanted[start:start + step]),
                                  ("UID", "FLAGS", "BODY.PEEK[]"))
            for uid, item in data.items():
                raw = item.get(b"BODY[]")
                if raw is None:
                    continue
                message_id = ids.message_id(folder, validity, uid)
                result[message_id] = Message(
                    id=message_id, folder_id=folder, raw=bytes(raw),
                    flags=frozenset(f.decode("utf-8", "replace") if isinstance(f, bytes) else str(f)
                                    for f in item.get(b"FLAGS", ())),
                )
        return result

    def fetch_to_file(self, message_id: str, target: str | os.PathLike[str] | IO[bytes]) -> int:
        """Stream the raw message to ``target`` in partial FETCHes (bounded memory)."""
        ref = ids.parse_message_id(message_id)
        with self._translating():
            return self._with_session(lambda s: self._stream_on(s, ref, target), reconnect=False)

    def _stream_on(self, session: Session, ref: ids.MessageRef,
                   target: str | os.PathLike[str] | IO[bytes]) -> int:
        if not self._select_for(session, ref.folder, ref.uidvalidity):
            raise self._gone(ref)
        if ref.uid not in wire.uid_fetch(session.client, str(ref.uid), ("UID",)):
            raise self._gone(ref)
        return save_stream(self._section_chunks(session, ref.uid, ""), target)

    def _section_chunks(self, session: Session, uid: int, section: str) -> Iterator[bytes]:
        """A body section (``""``: the whole message) in partial FETCHes of ``stream_chunk``.

        Reads until a part comes back short: RFC822.SIZE and BODYSTRUCTURE sizes are only
        estimates on some servers, so they must not decide where the data ends.
        """
        step = self.settings.stream_chunk
        offset = 0
        while True:
            data = wire.uid_fetch(session.client, str(uid),
                                  ("UID", f"BODY.PEEK[{section}]<{offset}.{step}>"))
            piece = data.get(uid, {}).get(f"BODY[{section}]<{offset}>".encode()) or b""
            if piece:
                yield bytes(piece)
            offset += len(piece)
            if len(piece) < step:
                return

    # ------------------------------------------------------------------ attachments
    def list_attachments(self, message_id: str) -> list[AttachmentInfo]:
        """Attachments read from one BODYSTRUCTURE fetch; ``part`` is the IMAP section."""
        ref = ids.parse_message_id(message_id)
        sections = self._retry.call(self._sections, ref)
        return [attachments.info(section) for section in sections]

    def _sections(self, ref: ids.MessageRef) -> list[attachments.Section]:
        with self._translating():
            return self._with_session(lambda s: self._sections_on(s, ref))

    def _sections_on(self, session: Session, ref: ids.MessageRef) -> list[attachments.Section]:
        if not self._select_for(session, ref.folder, ref.uidvalidity):
            raise self._gone(ref)
        data = wire.uid_fetch(session.client, str(ref.uid), ("UID", "BODYSTRUCTURE"))
        structure = data.get(ref.uid, {}).get(b"BODYSTRUCTURE")
        if structure is None:
            raise self._gone(ref)
        return attachments.attachment_sections(structure)

    @staticmethod
    def _gone(ref: ids.MessageRef) -> errors.MessageNotFound:
        return errors.MessageNotFound(f"Message {ref.uid} is not in {ref.folder!r}.",
                                      provider=PROVIDER)

    def save_attachment(
        self, message_id: str, part: str, target: str | os.PathLike[str] | IO[bytes]
    ) -> int:
        """Stream one attachment, decoded, to ``target`` in partial FETCHes of its section
        (bounded memory; never marks the message as read)."""
        ref = ids.parse_message_id(message_id)
        with self._translating():
            return self._with_session(lambda s: self._save_part_on(s, ref, part, target),
                                      reconnect=False)

    def _save_part_on(self, session: Session, ref: ids.MessageRef, part: str,
                      target: str | os.PathLike[str] | IO[bytes]) -> int:
        chosen = {s.number: s for s in self._sections_on(session, ref)}.get(part)
        if chosen is None:
            raise self._no_attachment(ids.message_id(ref.folder, ref.uidvalidity, ref.uid), part)
        chunks = self._section_chunks(session, ref.uid, part)
        return save_stream(attachments.decoded(chosen.encoding, chunks), target)

    # ------------------------------------------------------------------ sending (send.py)
    def _send(self, prepared: mime.PreparedMessage, save_copy: bool) -> SendResult:
        return send.submit(self, prepared, save_copy)

    def _append(self, raw: Spool, folder: Folder) -> str | None:
        return send.append(self, raw, folder)

    # ------------------------------------------------------------------ round 2 (delegates)
    def _run(self, work: Callable[[Session], R]) -> R:
        """``work`` on a pooled session inside the error boundary (reconnects once)."""
        with self._translating():
            return self._with_session(work)

    def _once(self, work: Callable[[Session], R]) -> R:
        """The same without the reconnect-and-repeat: moves and expunges never run twice."""
        with self._translating():
            return self._with_session(work, reconnect=False)

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




def _clean_refusal(exc: BaseException) -> bool:
    """Whether ``exc`` is the server's tagged NO/BAD to a command: the session is in step.

    imaplib raises ``IMAP4.error`` for those; imapclient's ``ProtocolError`` (a subclass) and
    anything else (a parser's ``ValueError`` …) mean the response was not understood.
    """
    from imapclient.exceptions import ProtocolError

    return isinstance(exc, imaplib.IMAP4.error) and not isinstance(
        exc, imaplib.IMAP4.abort | ProtocolError)
