"""The EWS emulator's streaming notifications: Subscribe (StreamingSubscriptionRequest),
GetStreamingEvents and Unsubscribe, in Exchange's documented wire format.

GetStreamingEvents answers with a chunked HTTP response that stays open for
``ConnectionTimeout`` minutes (or :attr:`StreamOps.stream_seconds`, for tests): one SOAP
envelope per batch of notifications (``m:Notifications`` / ``m:Notification`` /
``t:SubscriptionId`` + ``t:NewMailEvent``, ``t:ModifiedEvent``, ``t:DeletedEvent`` …), a
heartbeat envelope (``m:ConnectionStatus`` OK) every :attr:`StreamOps.heartbeat_seconds`,
and a last one with ``ConnectionStatus`` Closed. Unknown or expired subscription ids get
``ErrorSubscriptionNotFound`` with ``m:ErrorSubscriptionIds``.

Tests call :meth:`StreamOps.expire_subscriptions` (the server forgot them, as after 30
minutes without a connection) and :meth:`StreamOps.drop_streams` (the TCP connection dies).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .emulator import Folder, User

M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"

#: change-log kind → the streaming event Exchange sends
EVENTS = {"create": "NewMailEvent", "update": "ModifiedEvent", "read": "ModifiedEvent",
          "delete": "DeletedEvent"}


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


class StreamOps:
    """Mixed into :class:`~tests.ews.emulator.EwsEmulator`."""

    if TYPE_CHECKING:
        change_log: list[tuple[int, str, str, str]]
        _lock: Any
        _new_id: Callable[[str], str]
        _message: Callable[..., str]
        _wrap: Callable[[str, list[str]], str]
        _envelope: Callable[[str], bytes]
        _resolve_folder: Callable[[User, ET.Element], Folder | str]

    #: seconds a GetStreamingEvents connection stays open (None: ConnectionTimeout minutes)
    stream_seconds: float | None = None
    #: seconds between heartbeats on an open stream
    heartbeat_seconds: float = 5.0

    def _subs(self) -> dict[str, tuple[str, set[str], set[str], int]]:
        """subscription id → (owner, folder ids, event types, last change-log seq sent)."""
        if not hasattr(self, "_subscriptions"):
            self._subscriptions: dict[str, tuple[str, set[str], set[str], int]] = {}
            self._streams: list[socket.socket] = []
        return self._subscriptions

    def expire_subscriptions(self) -> None:
        """Forget every subscription: open streams close, later GetStreamingEvents fail."""
        with self._lock:
            self._subs().clear()

    def drop_streams(self) -> None:
        """Cut every open GetStreamingEvents connection (no Closed envelope)."""
        self._subs()
        for sock in list(self._streams):
            self._streams.remove(sock)  # its handler stops at once, sending nothing more
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    @property
    def subscription_count(self) -> int:
        return len(self._subs())

    # ------------------------------------------------------------------ Subscribe
    def _op_Subscribe(self, user: User, body: ET.Element) -> str:
        request = body.find(_q(M, "StreamingSubscriptionRequest"))
        if request is None:
            return self._wrap("Subscribe", [self._message(
                "Subscribe", "ErrorInvalidSubscriptionRequest",
                text="The emulator supports streaming subscriptions only.")])
        folders = []
        for elem in request.iterfind(f"{_q(T, 'FolderIds')}/*"):
            found = self._resolve_folder(user, elem)
            if isinstance(found, str):
                return self._wrap("Subscribe", [self._message("Subscribe", found)])
            folders.append(found.id)
        events = {e.text or "" for e in request.iter(_q(T, "EventType"))}
        sub_id = self._new_id("S")
        seq = max((e[0] for e in self.change_log), default=0)
        self._subs()[sub_id] = (user.address, set(folders), events, seq)
        return self._wrap("Subscribe", [self._message(
            "Subscribe", "NoError", f"<m:SubscriptionId>{sub_id}</m:SubscriptionId>")])

    def _op_Unsubscribe(self, user: User, body: ET.Element) -> str:
        sub_id = (body.findtext(_q(M, "SubscriptionId")) or "").strip()
        if self._subs().pop(sub_id, None) is None:
            return self._wrap("Unsubscribe", [self._message(
                "Unsubscribe", "ErrorSubscriptionNotFound",
                text="The specified subscription was not found.")])
        return self._wrap("Unsubscribe", [self._message("Unsubscribe", "NoError")])

    # ------------------------------------------------------------------ GetStreamingEvents
    def _status(self, status: str) -> bytes:
        return self._envelope(self._wrap("GetStreamingEvents", [self._message(
            "GetStreamingEvents", "NoError",
            f"<m:ConnectionStatus>{status}</m:ConnectionStatus>")]))

    def _pending(self, sub_id: str) -> str:
        """Notification XML for what changed since the subscription's last batch ('' if none)."""
        with self._lock:
            found = self._subs().get(sub_id)
            if found is None:
                return ""
            owner, folders, events, seq = found
            fresh = [e for e in self.change_log if e[0] > seq and e[1] in folders]
            if not fresh:
                return ""
            self._subs()[sub_id] = (owner, folders, events, fresh[-1][0])
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        parts = [f"<t:{EVENTS[kind]}><t:TimeStamp>{stamp}</t:TimeStamp>"
                 f'<t:ItemId Id="{item_id}" ChangeKey="CQAAABYAAAB"/>'
                 f'<t:ParentFolderId Id="{folder_id}" ChangeKey="AQAAAA=="/></t:{EVENTS[kind]}>'
                 for _, folder_id, kind, item_id in fresh if EVENTS[kind] in events]
        if not parts:
            return ""
        return (f"<m:Notification><t:SubscriptionId>{sub_id}</t:SubscriptionId>"
                f"{''.join(parts)}</m:Notification>")

    def stream_events(self, handler: Any, user: User, body: ET.Element) -> None:
        """Answer GetStreamingEvents on ``handler``'s connection, chunk by chunk."""
        ids = [(e.text or "").strip() for e in body.iter(_q(T, "SubscriptionId"))]
        minutes = int(body.findtext(_q(M, "ConnectionTimeout")) or "30")
        unknown = [i for i in ids if i not in self._subs()]
        if unknown or not ids:
            listed = "".join(f"<m:SubscriptionId>{i}</m:SubscriptionId>" for i in unknown)
            handler._send(200, self._envelope(self._wrap("GetStreamingEvents", [self._message(
                "GetStreamingEvents", "ErrorSubscriptionNotFound",
                f"<m:ErrorSubscriptionIds>{listed}</m:ErrorSubscriptionIds>",
                text="The specified subscription was not found.")])))
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "text/xml; charset=utf-8")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        sock = handler.connection
        self._streams.append(sock)

        def chunk(data: bytes) -> None:
            handler.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
            handler.wfile.flush()

        limit = self.stream_seconds if self.stream_seconds is not None else minutes * 60
        deadline = time.monotonic() + limit
        beat = time.monotonic() + self.heartbeat_seconds
        try:
            chunk(self._status("OK"))
            while time.monotonic() < deadline and sock in self._streams \
                    and all(i in self._subs() for i in ids):
                notes = "".join(self._pending(i) for i in ids)
                if notes:
                    chunk(self._envelope(self._wrap("GetStreamingEvents", [self._message(
                        "GetStreamingEvents", "NoError",
                        f"<m:Notifications>{notes}</m:Notifications>")])))
                elif time.monotonic() >= beat:
                    chunk(self._status("OK"))
                    beat = time.monotonic() + self.heartbeat_seconds
                time.sleep(0.02)
            if sock not in self._streams:
                handler.close_connection = True
                return
            chunk(self._status("Closed"))
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        except OSError:
            handler.close_connection = True
        finally:
            if sock in self._streams:
                self._streams.remove(sock)

