"""A small TCP fault proxy for loopback tests: cut, reset, stall or truncate a conversation.

It sits between an adapter's client library and its real peer (Dovecot, aiosmtpd) or
emulator (Graph, Gmail, EWS), relaying raw bytes in both directions with two threads per
connection, so TLS passes through untouched. A :class:`Fault` says *when* to strike (a byte
pattern seen in what the client sent, or at once) and *what* to do to the server's answer:

- ``cut``: close the client's side cleanly (FIN) after ``after`` bytes of the answer;
- ``reset``: the same with an RST (``SO_LINGER`` 0), as a crashed peer or middlebox does;
- ``stall``: stop relaying the answer after ``after`` bytes and keep the socket open, as a
  hung server does (released by :meth:`FaultProxy.stop` or after ``stall_for`` seconds);
- ``forward=False``: the bytes that armed the fault never reach the server (the request was
  never handed over), and the client's side is closed at once.

Everything is bounded: loopback only, daemon threads, every socket closed on ``stop()``.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from typing import Literal

import attrs

__all__ = ["Fault", "FaultProxy"]

Action = Literal["cut", "reset", "stall"]
_CHUNK = 65536


@attrs.define
class Fault:
    """One fault, struck ``times`` times (on as many connections or requests).

    Args:
        action: what to do to the server's answer (see the module docs).
        when: a byte pattern in the client's bytes that arms the fault; ``None`` arms it on
            the next client data or server data of any connection.
        after: bytes of the server's answer passed to the client before striking.
        forward: whether the client bytes that armed the fault reach the server.
        stall_for: longest a ``stall`` holds the connection.
        after_up: strike only once the client has sent this many more bytes since the fault
            was armed (e.g. "after the client wrote its message, before the answer").
    """

    action: Action
    when: bytes | None = None
    after: int = 0
    forward: bool = True
    times: int = 1
    stall_for: float = 30.0
    after_up: int = 0
    fired: int = 0


class _Link:
    """One relayed connection and the fault it carries, if any."""

    def __init__(self, proxy: FaultProxy, client: socket.socket, server: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.server = server
        self.fault: Fault | None = None
        self.passed = 0  # answer bytes relayed since the fault was armed
        self.sent_up = 0  # client bytes relayed since the fault was armed
        self.seen = b""  # tail of the client's bytes, for patterns split over reads
        self.closed = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._upstream, daemon=True).start()
        threading.Thread(target=self._downstream, daemon=True).start()

    def close(self, *, reset: bool = False) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        if reset:
            with contextlib.suppress(OSError):
                self.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        for sock in (self.client, self.server):
            # close() alone does not end a recv() blocked in the other relay thread (the
            # kernel keeps the socket while it waits): shut it down first. SHUT_RD wakes
            # the reader without a FIN, so a reset still leaves as an RST.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RD if reset and sock is self.client
                              else socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def _upstream(self) -> None:
        """Client → server; arms faults whose pattern appears."""
        try:
            while not self.closed.is_set():
                data = self.client.recv(_CHUNK)
                if not data:
                    break
                window = self.seen + data
                self.seen = window[-4096:]
                if self.fault is None:
                    self.fault = self.proxy.claim(window)
                    if self.fault is not None:
                        self.passed = self.sent_up = 0
                        self.proxy.struck.append((self.fault.action, self.fault.when))
                        if not self.fault.forward:
                            self.close(reset=self.fault.action == "reset")
                            return
                self.server.sendall(data)
                self.sent_up += len(data)
                self.proxy.bytes_up += len(data)
        except OSError:
            pass
        self.close()

    def _downstream(self) -> None:
        """Server → client; strikes an armed fault once ``after`` answer bytes have passed."""
        try:
            while not self.closed.is_set():
                data = self.server.recv(_CHUNK)
                if not data:
                    break
                if self.fault is None:
                    self.fault = self.proxy.claim(None)
                    if self.fault is not None:
                        self.passed = self.sent_up = 0
                        self.proxy.struck.append((self.fault.action, self.fault.when))
                fault = self.fault
                if fault is not None and self.sent_up >= fault.after_up:
                    room = max(0, fault.after - self.passed)
                    if len(data) >= room:
                        if room:
                            self.client.sendall(data[:room])
                        self._strike(fault)
                        return
                    self.passed += len(data)
                self.client.sendall(data)
                self.proxy.bytes_down += len(data)
        except OSError:
            pass
        self.close()

    def _strike(self, fault: Fault) -> None:
        if fault.action == "stall":
            # Hold both sockets open and silent: the client must give up by itself.
            self.closed.wait(fault.stall_for)
        self.close(reset=fault.action == "reset")


class FaultProxy:
    """Relay 127.0.0.1:<port> to ``upstream``, applying the faults queued with :meth:`arm`."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._links: list[_Link] = []
        self.accepted = 0
        self.bytes_up = 0
        self.bytes_down = 0
        #: (action, pattern) of every fault struck, in order
        self.struck: list[tuple[str, bytes | None]] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>/`` for the HTTP emulators."""
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def arm(self, fault: Fault) -> Fault:
        """Queue a fresh copy of ``fault`` (a parametrized test's one instance serves every
        run); it strikes on the connection(s) that meet its condition. Returns the copy."""
        fault = attrs.evolve(fault, fired=0)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Forget faults not struck yet and release stalled connections."""
        with self._lock:
            self._faults.clear()
            links = list(self._links)
        for link in links:
            if link.fault is not None and link.fault.action == "stall":
                link.close()

    def sever(self, *, reset: bool = False) -> int:
        """Close every open connection now (``reset``: with an RST); returns how many."""
        with self._lock:
            links = [link for link in self._links if not link.closed.is_set()]
        for link in links:
            link.close(reset=reset)
        return len(links)

    def sever_after_upload(self, count: int, *, reset: bool = True) -> threading.Thread:
        """Sever every connection (with an RST by default) once the client has sent ``count``
        more bytes than now, from a background thread: a cut in the middle of a large write."""
        first = self.bytes_up

        def cut() -> None:
            while self.bytes_up - first < count:
                time.sleep(0.005)
            self.sever(reset=reset)

        watcher = threading.Thread(target=cut, daemon=True, name="fault-proxy-cut")
        watcher.start()
        return watcher

    def claim(self, window: bytes | None) -> Fault | None:
        """The first queued fault this traffic meets (``window``: the client's recent bytes)."""
        with self._lock:
            for fault in self._faults:
                if fault.fired >= fault.times:
                    continue
                if fault.when is None or (window is not None and fault.when in window):
                    fault.fired += 1
                    return fault
        return None

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            client.settimeout(None)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = _Link(self, client, server)
            with self._lock:
                self.accepted += 1
                self._links.append(link)
            link.start()

    def stop(self) -> None:
        """Stop accepting and close every relayed connection."""
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            links = list(self._links)
        for link in links:
            link.close()
        self._thread.join(timeout=2)


def wait_until(condition: object, timeout: float = 5.0) -> bool:
    """Poll ``condition()`` until true or ``timeout`` passes (for server-side counts)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return bool(condition())  # type: ignore[operator]
