"""The change feed half of `BaseMailbox`: ``sync_token``, ``changes``, ``watch``.

Adapters implement ``_sync_token`` and ``_changes`` on their provider's native feed; the
default ``watch`` polls ``changes`` with adaptive back-off, and adapters that can be told
(IMAP IDLE, EWS streaming) override ``_wait_for_change``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar

import attrs

from inboxlink import _bridge, errors
from inboxlink.changes import ChangeHint, ChangeSet
from inboxlink.models import Capability, Folder, FolderRef, FolderRole

if TYPE_CHECKING:
    from inboxlink.retry import RetryPolicy

__all__ = ["PollPolicy", "SyncMixin", "Watch"]


@attrs.frozen
class PollPolicy:
    """How ``watch()`` polls when the provider cannot push: start at ``initial`` seconds,
    multiply by ``factor`` while nothing changes, up to ``maximum``; back to ``initial``
    after any change. A ``RateLimited`` error's ``retry_after`` is always honoured."""

    initial: float = 2.0
    factor: float = 2.0
    maximum: float = 60.0


class Watch(Iterator[ChangeHint]):
    """An iterator of `ChangeHint` that ends after ``timeout`` quiet seconds or on
    `stop()` (callable from any thread)."""

    def __init__(self, mailbox: SyncMixin, folder: Folder, timeout: float | None) -> None:
        self._mailbox = mailbox
        self.folder = folder
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._stopped = threading.Event()
        self._token: str | None = None

    def stop(self) -> None:
        """End the iteration; the current wait returns within a second."""
        self._stopped.set()

    @property
    def stopped(self) -> bool:
        """Whether `stop()` was called or the watch ended."""
        return self._stopped.is_set()

    def remaining(self) -> float | None:
        """Seconds left before the timeout (``None``: no timeout)."""
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - time.monotonic())

    def sleep(self, seconds: float) -> bool:
        """Wait up to ``seconds`` (less if the timeout comes first); False once stopped."""
        left = self.remaining()
        if left is not None:
            seconds = min(seconds, left)
        return not _bridge.wait_event(self._stopped, max(0.0, seconds))

    def expired(self) -> bool:
        """Whether the watch should end now (stopped or timed out)."""
        left = self.remaining()
        return self._stopped.is_set() or (left is not None and left <= 0)

    def __iter__(self) -> Watch:
        return self

    def __next__(self) -> ChangeHint:
        if self.expired():
            self._stopped.set()
            raise StopIteration
        hint = self._mailbox._wait_for_change(self)
        if hint is None:
            self._stopped.set()
            raise StopIteration
        return hint

    # -- state for the polling default
    def poll_token(self) -> str | None:
        """The watch's own sync token (polling adapters only)."""
        return self._token

    def set_poll_token(self, token: str) -> None:
        """Remember the watch's own sync token (polling adapters only)."""
        self._token = token


class SyncMixin:
    """``sync_token``/``changes``/``watch`` built on the ``_sync_token``/``_changes`` primitives."""

    provider: ClassVar[str]
    capabilities: frozenset[Capability]
    _retry: RetryPolicy
    #: how the default ``watch`` polls; set per instance with ``poll=`` where offered
    poll_policy: PollPolicy = PollPolicy()
    #: the most changes one ``changes()`` call returns
    max_changes: ClassVar[int] = 1000

    if TYPE_CHECKING:
        def folder(self, which: FolderRef) -> Folder: ...

    # ------------------------------------------------------------------ primitives
    def _sync_token(self, folder: Folder) -> str:
        """A token for "now" in ``folder`` (opaque, JSON-safe)."""
        raise self._unsupported("sync_token")

    def _changes(self, folder: Folder, token: str, limit: int) -> ChangeSet:
        """Changes since ``token``; at most ``limit`` entries, ``more`` when there are others.

        Raise ``SyncTokenExpired`` when the token is unknown, malformed, or from another folder.
        """
        raise self._unsupported("changes")

    def _unsupported(self, operation: str) -> errors.UnsupportedOperation:
        return errors.UnsupportedOperation(
            f"The {self.provider!r} adapter does not support {operation}().",
            provider=self.provider, code=operation,
        )

    # ------------------------------------------------------------------ public
    def sync_token(self, folder: FolderRef = FolderRole.INBOX) -> str:
        """A token for the folder's current state: pass it to `changes()` later."""
        target = self.folder(folder)
        return self._retry.call(self._sync_token, target)

    def changes(self, folder: FolderRef = FolderRole.INBOX, token: str = "", *,
                limit: int = 500) -> ChangeSet:
        """What changed in ``folder`` since ``token``: added, updated and removed messages.

        Raises ``SyncTokenExpired`` when the provider forgot the token's state (or it is not
        a token of this folder): take a new `sync_token()` and list the folder again.
        """
        if not isinstance(token, str) or not token:
            raise errors.SyncTokenExpired("The sync token is empty or not a string.",
                                          provider=self.provider, code="bad-token")
        if limit < 1:
            raise errors.ConfigurationError("limit must be at least 1.", provider=self.provider,
                                            remedy="Pass limit=1 or more.")
        target = self.folder(folder)
        return self._retry.call(self._changes, target, token, min(limit, self.max_changes))

    def watch(self, folder: FolderRef = FolderRole.INBOX, *,
              timeout: float | None = None) -> Watch:
        """Yield a `ChangeHint` soon after anything changes in ``folder``.

        Ends quietly after ``timeout`` seconds, or when `Watch.stop()` is called from
        another thread. Adapters that the server can notify (IMAP IDLE, EWS streaming) wait
        for it; the others poll `changes()` (see `PollPolicy`).
        """
        return Watch(self, self.folder(folder), timeout)

    def _wait_for_change(self, watch: Watch) -> ChangeHint | None:
        """Block until something changes (a hint) or the watch ends (``None``).

        This default polls ``changes()`` on the watch's own token; push adapters override it.
        """
        policy = self.poll_policy
        if watch.poll_token() is None:
            watch.set_poll_token(self.sync_token(watch.folder))
        delay = policy.initial
        while True:
            if not watch.sleep(delay):
                return None
            if watch.expired():
                return None
            try:
                changed = self._poll_changed(watch)
            except errors.RateLimited as exc:
                delay = max(delay, exc.retry_after or policy.maximum)
                continue
            except errors.SyncTokenExpired:
                watch.set_poll_token(self.sync_token(watch.folder))
                return ChangeHint(folder_id=watch.folder.id, reason="resync")
            if changed:
                return ChangeHint(folder_id=watch.folder.id, reason="poll")
            delay = min(delay * policy.factor, policy.maximum)

    def _poll_changed(self, watch: Watch) -> bool:
        """One poll of the default `_wait_for_change`: advance the watch's token and say
        whether anything changed. Adapters with a cheaper probe than ``changes()`` (one that
        needs no summaries) override this, not the polling loop."""
        batch = self.changes(watch.folder, watch.poll_token() or "", limit=self.max_changes)
        watch.set_poll_token(batch.token)
        return bool(batch)
