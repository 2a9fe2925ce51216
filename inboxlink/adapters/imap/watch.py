"""``watch()`` for IMAP: IDLE (RFC 2177) on one dedicated connection, or NOOP polling.

A watch takes one connection from the mailbox's budget (so with the default budget of four,
three remain for everything else) and keeps it for its whole life:

* with IDLE it waits for the server's untagged EXISTS / EXPUNGE / VANISHED / FETCH notices
  and turns each burst into a `ChangeHint` (on Dovecot within
  milliseconds). IDLE is re-issued every ``settings.idle_restart`` seconds, well before the
  29 minutes after which RFC 2177 lets a server drop an idle client, and ended with DONE when
  the watch stops, times out or the mailbox closes;
* without IDLE it sends NOOP, which makes the server report the same notices, with the
  mailbox's `PollPolicy` back-off.

A dropped connection (or a server restart) is re-opened with bounded back-off and gives a
``"reconnected"`` hint, since changes may have been missed meanwhile; after
``_MAX_RECONNECTS`` failures in a row the typed error is raised.
"""

from __future__ import annotations

import contextlib
import imaplib
import time
import weakref
from collections.abc import Callable
from typing import Any

import attrs

from inboxlink import errors
from inboxlink.adapters.imap import _imapclient_shim as shim
from inboxlink.adapters.imap.connection import ConnectionBudget, Session
from inboxlink.changes import ChangeHint
from inboxlink.mailbox_sync import PollPolicy, Watch

__all__ = ["Watcher"]

#: untagged notices that mean "something changed" → the hint's reason
_REASONS = {b"EXISTS": "exists", b"EXPUNGE": "expunge", b"VANISHED": "expunge",
            b"FETCH": "flags"}
#: how long one wait on the socket lasts at most, so stop() and close() are seen quickly
_TICK = 0.5
_MAX_RECONNECTS = 6
_DROPPED: tuple[type[BaseException], ...] = (imaplib.IMAP4.abort, OSError, EOFError)
class _Dropped(Exception):
    """The server said BYE or the connection ended under IDLE."""


#: a watch connection that is gone
_LOST: tuple[type[BaseException], ...] = (_Dropped, *_DROPPED)
#: what a reconnect may cure (anything else, e.g. a refused login, is raised at once)
_CURABLE: tuple[type[BaseException], ...] = (errors.TransientError, *_DROPPED)



@attrs.define
class _State:
    session: Session | None = None
    idle_since: float | None = None  #: monotonic time IDLE was entered (None: not idling)
    delay: float = 0.0  #: NOOP polling interval
    reconnected: bool = False


def _reason(responses: list[Any]) -> str | None:
    for response in responses:
        if isinstance(response, tuple) and len(response) >= 2:
            kind = response[1] if isinstance(response[0], int) else response[0]
            if isinstance(kind, bytes) and kind.upper() == b"BYE":
                raise _Dropped("the server said BYE")
            if isinstance(kind, bytes) and kind.upper() in _REASONS:
                return _REASONS[kind.upper()]
    return None


class Watcher:
    """Runs the watches of one mailbox on connections from its budget."""

    def __init__(self, pool: ConnectionBudget[Session], idle_restart: float,
                 poll: Callable[[], PollPolicy]) -> None:
        self._pool = pool
        self._idle_restart = idle_restart
        self._poll = poll
        self._states: weakref.WeakKeyDictionary[Watch, _State] = weakref.WeakKeyDictionary()

    # ------------------------------------------------------------------ lifecycle
    def _state(self, watch: Watch) -> _State:
        state = self._states.get(watch)
        if state is None:
            state = self._states[watch] = _State()
            # A watch abandoned without stop() still gives its connection back.
            weakref.finalize(watch, self._release, state)
        return state

    def _release(self, state: _State, *, broken: bool = False) -> None:
        session, state.session = state.session, None
        if session is None:
            return
        if state.idle_since is not None and not broken:
            with contextlib.suppress(Exception):  # leaving anyway: DONE is a courtesy
                session.client.idle_done()
        state.idle_since = None
        # Never pooled again: its selection and IDLE state are the watch's own.
        self._pool.release(session, discard=True)

    def _connect(self, state: _State, watch: Watch) -> None:
        """Open the watch's connection and select its folder (read-only)."""
        failures = 0
        while True:
            try:
                state.session = self._pool.acquire()
                state.session.select(watch.folder.id, refresh=True)
                return
            except _CURABLE:
                if state.session is not None:
                    self._pool.release(state.session, discard=True)
                    state.session = None
                failures += 1
                if failures >= _MAX_RECONNECTS or not watch.sleep(min(0.25 * 2 ** failures, 8)):
                    if failures >= _MAX_RECONNECTS:
                        raise
                    return

    # ------------------------------------------------------------------ waiting
    def wait(self, watch: Watch) -> ChangeHint | None:
        """Block until the folder changes (a hint) or the watch ends (``None``)."""
        state = self._state(watch)
        while True:
            if watch.expired() or self._pool.closed:
                self._release(state)
                return None
            if state.session is None:
                self._connect(state, watch)
                if state.session is None:  # stopped while reconnecting
                    continue
                if state.reconnected:
                    state.reconnected = False
                    return ChangeHint(folder_id=watch.folder.id, reason="reconnected")
            try:
                reason = self._listen(state, watch)
            except _LOST:
                self._release(state, broken=True)
                state.reconnected = True
                continue
            if reason is not None:
                return ChangeHint(folder_id=watch.folder.id, reason=reason)

    def _listen(self, state: _State, watch: Watch) -> str | None:
        """One tick of IDLE (or one NOOP poll); the hint's reason, if anything changed."""
        session = state.session
        assert session is not None
        client = session.client
        if "IDLE" not in session.capabilities:
            return self._noop(state, watch)
        now = time.monotonic()
        if state.idle_since is not None and now - state.idle_since >= self._idle_restart:
            state.idle_since = None
            reason = _reason(client.idle_done()[1])
            shim.forget_expunges(client)
            if reason is not None:  # a notice that came just before DONE
                return reason
        if state.idle_since is None:
            client.idle()
            state.idle_since = now
        left = watch.remaining()
        timeout = _TICK if left is None else max(0.0, min(_TICK, left))
        started = time.monotonic()
        responses = client.idle_check(timeout=timeout)
        if not responses and time.monotonic() - started < timeout / 2:
            # imapclient's idle_check swallows EOF and returns nothing at once: ending IDLE
            # tells a dead connection (it raises) from a spurious wake-up.
            state.idle_since = None
            reason = _reason(client.idle_done()[1])
            shim.forget_expunges(client)
            return reason
        return _reason(responses)

    def _noop(self, state: _State, watch: Watch) -> str | None:
        policy = self._poll()
        state.delay = state.delay or policy.initial
        if not watch.sleep(state.delay):
            return None
        if state.session is None:
            return None
        reason = _reason(state.session.client.noop()[1])
        shim.forget_expunges(state.session.client)  # imaplib keeps them otherwise, forever
        state.delay = policy.initial if reason else min(state.delay * policy.factor,
                                                        policy.maximum)
        return reason
