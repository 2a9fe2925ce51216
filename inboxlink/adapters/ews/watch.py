"""``watch()`` on EWS streaming notifications: Subscribe (streaming) + GetStreamingEvents.

One watch holds one streaming subscription on its folder (NewMail, Created, Deleted,
Modified, Moved, Copied events) and one long-lived GetStreamingEvents connection, re-opened
when Exchange closes it after ``stream_minutes`` (``ConnectionStatus`` Closed). The
connection is an *extra* one: the watch raises exchangelib's session-pool limit by one
while it runs, so the mailbox's other calls never wait for it.

- A notification for the folder → a hint (``reason="notification"``) at once.
- The subscription expired (``ErrorSubscriptionNotFound`` / ``ErrorInvalidSubscription`` /
  ``ErrorExpiredSubscription``): subscribe again and yield a ``"resubscribed"`` hint, since
  events between the two subscriptions are lost (``changes()`` catches up).
- The connection dropped, or Exchange is busy (ErrorServerBusy): reconnect on the same
  subscription (Exchange keeps its events) with bounded back-off (0.5 s, 1 s, 2 s, 4 s, or
  the server's ``BackOffMilliseconds`` if longer); a fifth consecutive failure, or any
  other error from Exchange, raises the typed error.
- ``stop()``/timeout: a watchdog thread notices within 0.1 s, cuts the connection and
  unsubscribes (one request), so nothing is left on the server.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import TYPE_CHECKING, Any, ClassVar

from exchangelib.errors import (
    ErrorExpiredSubscription,
    ErrorInvalidSubscription,
    ErrorServerBusy,
    ErrorSubscriptionNotFound,
    ErrorTimeoutExpired,
    ResponseMessageError,
    TransportError,
)
from exchangelib.services import GetStreamingEvents, SubscribeToStreaming, Unsubscribe
from requests.exceptions import RequestException
from urllib3.exceptions import HTTPError as Urllib3Error

from inboxlink.adapters.ews._exchangelib_shim import streaming_socket
from inboxlink.changes import ChangeHint
from inboxlink.mailbox_sync import Watch
from inboxlink.models import Folder

if TYPE_CHECKING:
    from exchangelib import Account
    from exchangelib.folders import Folder as EwsFolder

    from inboxlink.adapters.ews.connection import EwsConnection

__all__ = ["EVENT_TYPES", "EwsStreaming"]

#: the events that change what ``changes()`` reports
EVENT_TYPES = ("NewMailEvent", "CreatedEvent", "DeletedEvent", "ModifiedEvent", "MovedEvent",
               "CopiedEvent")
_EXPIRED = (ErrorSubscriptionNotFound, ErrorInvalidSubscription, ErrorExpiredSubscription)
#: what a dropped or cut connection raises while the stream is read
_DROPPED = (TransportError, RequestException, Urllib3Error, OSError)


def _dropped(exc: BaseException) -> bool:
    """A lost connection or throttling (retry), not a refusal from Exchange (raise).

    exchangelib reports connection failures as ErrorTimeoutExpired, a ResponseMessageError
    like Exchange's real answers; ErrorServerBusy asks to come back later."""
    if isinstance(exc, ResponseMessageError):
        return isinstance(exc, (ErrorTimeoutExpired, ErrorServerBusy))
    return isinstance(exc, _DROPPED)


def _pause(exc: BaseException, attempt: int) -> float:
    """Seconds before reconnecting: the back-off, or longer if Exchange asked for it."""
    asked = getattr(exc, "back_off", None) if isinstance(exc, ErrorServerBusy) else None
    return max(_BACKOFF[attempt], min(float(asked or 0), 60.0))
_BACKOFF = (0.5, 1.0, 2.0, 4.0)


class _Stream:
    """One watch's subscription and its open GetStreamingEvents connection."""

    def __init__(self, mailbox: EwsStreaming, watch: Watch) -> None:
        self.mailbox = mailbox
        self.watch = watch
        self.subscription: str | None = None
        self.service: Any = None
        self.events: Any = None
        self.lock = threading.Lock()
        self.closed = False
        protocol = mailbox.account.protocol
        protocol.max_connections = protocol.max_connections + 1
        threading.Thread(target=self._watchdog, name="inboxlink-ews-watch", daemon=True).start()

    # ------------------------------------------------------------------ lifecycle
    def _watchdog(self) -> None:
        while not self.closed and not self.watch.expired():
            time.sleep(0.1)
        self.close()

    def close(self) -> None:
        """Cut the connection, unsubscribe, give the extra connection back. Idempotent."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            self._cut()
            subscription, self.subscription = self.subscription, None
        account = self.mailbox._connection.account
        if account is not None:
            if subscription is not None:
                with contextlib.suppress(Exception):  # best effort: it expires anyway
                    Unsubscribe(account=account).get(subscription_id=subscription)
            protocol = account.protocol
            protocol.max_connections = max(1, protocol.max_connections - 1)

    def _cut(self) -> None:
        # Shut the socket down (not just close it): that wakes the thread blocked reading.
        service, self.service, self.events = self.service, None, None
        sock = streaming_socket(service)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if service is not None:
            with contextlib.suppress(Exception):
                service.stop_streaming()

    # ------------------------------------------------------------------ waiting
    def _subscribe(self) -> None:
        account = self.mailbox.account
        folder = self.mailbox._ews_folder(self.watch.folder)
        for result in SubscribeToStreaming(account=account).call(folders=[folder],
                                                                 event_types=EVENT_TYPES):
            if isinstance(result, Exception):
                raise result
            with self.lock:
                late = self.closed  # stopped while subscribing: leave nothing behind
                if not late:
                    self.subscription = result
            if late:
                with contextlib.suppress(Exception):
                    Unsubscribe(account=account).get(subscription_id=result)

    def _open(self) -> None:
        service = GetStreamingEvents(account=self.mailbox.account)
        self.events = iter(service.call(subscription_ids=[self.subscription],
                                        connection_timeout=self.mailbox.stream_minutes))
        self.service = service

    def next_hint(self) -> ChangeHint | None:
        failures = 0
        folder_id = self.watch.folder.id
        while not self.closed and not self.watch.expired():
            try:
                if self.subscription is None:
                    self._subscribe()
                    if self.subscription is None:  # stopped meanwhile
                        break
                if self.events is None:
                    self._open()
                for notification in self.events:
                    if isinstance(notification, Exception):
                        raise notification
                    failures = 0
                    if notification.events:
                        return ChangeHint(folder_id=folder_id, reason="notification")
                self.events = None  # ConnectionStatus Closed: open the next connection
            except _EXPIRED:
                # Exchange forgot the subscription: events since may be lost, so say so.
                self.subscription, self.events = None, None
                self._subscribe()
                return ChangeHint(folder_id=folder_id, reason="resubscribed")
            except _DROPPED as exc:
                if self.closed or self.watch.expired():
                    break
                if not _dropped(exc):
                    raise
                self.events = None
                if failures >= len(_BACKOFF):
                    raise
                if not self.watch.sleep(_pause(exc, failures)):
                    break
                failures += 1
        return None


class EwsStreaming:
    """``_wait_for_change`` on streaming notifications for `EwsMailbox`."""

    #: minutes one GetStreamingEvents connection stays open (EWS allows 1 to 30)
    stream_minutes: ClassVar[int] = 30

    if TYPE_CHECKING:
        _connection: EwsConnection

        @property
        def account(self) -> Account: ...
        def _boundary(self) -> Any: ...
        def _ews_folder(self, folder: Folder) -> EwsFolder: ...

    def _wait_for_change(self, watch: Watch) -> ChangeHint | None:
        streams: dict[int, _Stream] = self.__dict__.setdefault("_streams", {})
        for key, ended in list(streams.items()):
            if ended.closed:  # ended by its watchdog (timeout/stop between two hints)
                del streams[key]
        stream = streams.get(id(watch))
        if stream is None or stream.watch is not watch:
            stream = streams[id(watch)] = _Stream(self, watch)
        with self._boundary():
            try:
                hint = stream.next_hint()
            except BaseException:
                stream.close()
                raise
        if hint is None:
            stream.close()
            streams.pop(id(watch), None)
        return hint

    def _stop_watches(self) -> None:
        """End every watch's stream (``close()`` calls this)."""
        for stream in list(self.__dict__.get("_streams", {}).values()):
            stream.watch.stop()
            stream.close()
