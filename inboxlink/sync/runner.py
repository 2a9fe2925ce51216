"""The sync runner: keeps many mailboxes current and hands every change to the application.

Delivery is at least once: a folder's token is stored only after the handler returned, so
a crash (of the handler, the process or the machine) replays the batch on the next round
rather than skipping it. Handlers must therefore be idempotent by message id.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import attrs

from inboxlink import errors
from inboxlink.changes import ChangeSet
from inboxlink.mailbox import Mailbox
from inboxlink.models import FolderRole
from inboxlink.sync.store import TokenStore

__all__ = ["Handler", "Resolver", "RoundReport", "Runner"]

log = logging.getLogger("inboxlink.sync")

#: opens the application's mailbox for a key (credentials stay with the application)
Resolver = Callable[[str], Mailbox]
#: receives each non-empty batch; must be idempotent by message id
Handler = Callable[[str, ChangeSet], None]


def folder_key(folder: FolderRole | str) -> str:
    """How a folder is named in the store: a role's value or the folder id/path."""
    return folder.value if isinstance(folder, FolderRole) else str(folder)


@attrs.define
class RoundReport:
    """What one round did: batches handed over, baselines taken, re-syncs and failures."""

    batches: int = 0
    changes: int = 0
    baselines: int = 0
    resyncs: int = 0
    #: (mailbox key, folder, error) of every folder that failed this round
    failures: list[tuple[str, str, BaseException]] = attrs.field(factory=list)

    def merge(self, other: RoundReport) -> None:
        """Add another report's counts to this one."""
        self.batches += other.batches
        self.changes += other.changes
        self.baselines += other.baselines
        self.resyncs += other.resyncs
        self.failures.extend(other.failures)


class Runner:
    """Keeps a set of mailboxes current by calling ``changes()`` and handing each batch on.

    Args:
        store: where tokens live (`SQLiteStore`, `RedisStore`).
        resolver: opens a mailbox for a key; called again after a connection-level failure.
        handler: called with ``(key, batch)`` for every non-empty batch.
        on_resync: called with ``(key, folder)`` when a token expired and the folder was
            re-baselined: the application should list that folder again. Default: a warning.
        on_error: called with ``(key, folder, error)`` when a folder fails a round (typed
            mailbox errors and handler exceptions); the runner goes on with the others.
        workers: mailboxes synced at once in a round (threads).
        batch_limit: ``limit=`` for each ``changes()`` call.
        keep_open: keep each mailbox open between rounds (the embedded runner); ``False``
            closes it after its round, giving its connection slots back to the budget (a
            Celery worker process must not hold slots of mailboxes it may never see again).
    """

    def __init__(self, *, store: TokenStore, resolver: Resolver, handler: Handler,
                 on_resync: Callable[[str, str], None] | None = None,
                 on_error: Callable[[str, str, BaseException], None] | None = None,
                 workers: int = 8, batch_limit: int = 500, keep_open: bool = True) -> None:
        self.store = store
        self.resolver = resolver
        self.handler = handler
        self.on_resync = on_resync
        self.on_error = on_error
        self.workers = workers
        self.batch_limit = batch_limit
        self.keep_open = keep_open
        self._folders: dict[str, tuple[str, ...]] = {}
        self._open: dict[str, Mailbox] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()

    # ------------------------------------------------------------------ membership
    def add(self, key: str, folders: Iterable[FolderRole | str] = (FolderRole.INBOX,)) -> None:
        """Keep ``key``'s ``folders`` current (a baseline is taken on the first round)."""
        with self._lock:
            self._folders[key] = tuple(folder_key(f) for f in folders)

    def remove(self, key: str, *, forget: bool = False) -> None:
        """Stop syncing ``key``; ``forget=True`` also drops its stored tokens."""
        with self._lock:
            self._folders.pop(key, None)
            mailbox = self._open.pop(key, None)
        if mailbox is not None:
            _close_quietly(mailbox)
        if forget:
            self.store.forget(key)

    @property
    def keys(self) -> list[str]:
        """The mailbox keys being kept current."""
        with self._lock:
            return list(self._folders)

    # ------------------------------------------------------------------ rounds
    def run_once(self) -> RoundReport:
        """One round over every mailbox: each folder drained until ``more`` is false."""
        with self._lock:
            plan = list(self._folders.items())
        report = RoundReport()
        if not plan:
            return report
        with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(plan))),
                                thread_name_prefix="inboxlink-sync") as pool:
            for part in pool.map(lambda item: self.sync_mailbox(*item), plan):
                report.merge(part)
        return report

    def run(self, *, until: float | Callable[[], bool] | None = None,
            interval: float = 30.0) -> RoundReport:
        """Run rounds every ``interval`` seconds until ``until`` (a deadline in
        ``time.monotonic()`` seconds, or a callable returning True) or `stop`."""
        total = RoundReport()
        self._stop.clear()
        while not self._done(until):
            started = time.monotonic()
            total.merge(self.run_once())
            wait = max(0.0, interval - (time.monotonic() - started))
            if isinstance(until, (int, float)):
                wait = min(wait, max(0.0, until - time.monotonic()))
            if self._stop.wait(wait):
                break
        return total

    def stop(self) -> None:
        """End `run` after the current round."""
        self._stop.set()

    def close(self) -> None:
        """Close every mailbox the runner opened."""
        with self._lock:
            opened, self._open = list(self._open.values()), {}
        for mailbox in opened:
            _close_quietly(mailbox)

    def _done(self, until: float | Callable[[], bool] | None) -> bool:
        if self._stop.is_set():
            return True
        if until is None:
            return False
        if callable(until):
            return bool(until())
        return time.monotonic() >= until

    # ------------------------------------------------------------------ one mailbox
    def _mailbox(self, key: str) -> Mailbox:
        with self._lock:
            found = self._open.get(key)
        if found is not None:
            return found
        opened = self.resolver(key)
        with self._lock:
            self._open[key] = opened
        return opened

    def _discard(self, key: str) -> None:
        with self._lock:
            mailbox = self._open.pop(key, None)
        if mailbox is not None:
            _close_quietly(mailbox)

    def sync_mailbox(self, key: str,
                     folders: Iterable[FolderRole | str] | None = None) -> RoundReport:
        """One round for one mailbox (its added folders, or ``folders``); never raises for
        a mailbox's or handler's failure: they are in the report (and ``on_error``)."""
        if folders is None:
            with self._lock:
                names = self._folders.get(key, (folder_key(FolderRole.INBOX),))
        else:
            names = tuple(folder_key(f) for f in folders)
        report = RoundReport()
        for folder in names:
            try:
                self._sync_folder(key, folder, report)
            except Exception as exc:  # one mailbox's failure never stops the others
                report.failures.append((key, folder, exc))
                if isinstance(exc, errors.ConnectError) or not isinstance(
                        exc, errors.InboxLinkError):
                    self._discard(key)  # reconnect next round
                self._report_error(key, folder, exc)
        if not self.keep_open:
            self._discard(key)
        return report

    def _sync_folder(self, key: str, folder: str, report: RoundReport) -> None:
        mailbox = self._mailbox(key)
        token = self.store.load(key, folder)
        if token is None:
            self.store.save(key, folder, mailbox.sync_token(folder))
            report.baselines += 1
            return
        while True:
            try:
                batch = mailbox.changes(folder, token, limit=self.batch_limit)
            except errors.SyncTokenExpired:
                self.store.save(key, folder, mailbox.sync_token(folder))
                report.resyncs += 1
                self._report_resync(key, folder)
                return
            if batch:
                self.handler(key, batch)  # raises → the token stays: the batch is replayed
                report.batches += 1
                report.changes += len(batch)
            if batch.token != token:  # an idle round costs the store nothing
                self.store.save(key, folder, batch.token)
            token = batch.token
            if not batch.more:
                return

    def _report_resync(self, key: str, folder: str) -> None:
        if self.on_resync is not None:
            self.on_resync(key, folder)
        else:
            log.warning("sync token of %s/%s expired: re-baselined; list the folder again",
                        key, folder)

    def _report_error(self, key: str, folder: str, exc: BaseException) -> None:
        if self.on_error is not None:
            self.on_error(key, folder, exc)
        else:
            log.warning("sync of %s/%s failed: %s", key, folder, exc)


def _close_quietly(mailbox: Mailbox) -> None:
    try:
        mailbox.close()
    except errors.InboxLinkError:  # closing is best effort
        log.debug("closing a mailbox failed", exc_info=True)
