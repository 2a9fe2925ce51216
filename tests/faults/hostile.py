"""A scripted hostile IMAP server (real TLS, real imapclient on the other side).

It serves one INBOX with one message and answers the first ``times`` body FETCHes with
``payload`` — raw bytes a broken or malicious server might send (an absurd literal length,
a line that never ends) — then behaves. It counts logins, so a test can see a poisoned
session being replaced by a new connection.
"""

from __future__ import annotations

import socketserver
import ssl
import threading

from imap.scripted import _Base, _send

__all__ = ["HostileImap"]

MESSAGE = (b"From: carol@example.com\r\nTo: alice@example.com\r\nSubject: fine\r\n"
           b"Message-ID: <fine@example.com>\r\nDate: Sun, 29 Nov 2026 10:00:00 +0000\r\n\r\n"
           b"All good.\r\n")


class HostileImap(_Base):
    def __init__(self, context: ssl.SSLContext, payload: bytes, *, times: int = 1,
                 hold: float = 0.0) -> None:
        self.payload = payload
        self.hold = hold  # seconds to keep the connection open, silent, after the payload
        self._stop = threading.Event()
        self.times = times
        self.logins = 0
        self.hostile_sent = 0
        self._count = threading.Lock()
        super().__init__(context)

    def _hostile_turn(self) -> bool:
        with self._count:
            if self.hostile_sent < self.times:
                self.hostile_sent += 1
                return True
            return False

    def serve(self, conn: socketserver.StreamRequestHandler) -> None:
        _send(conn, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hostile ready")
        while True:
            raw = conn.rfile.readline(65536)
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            tag, _, rest = line.partition(" ")
            words = rest.split(" ")
            command = words[0].upper()
            if command == "UID":
                command = "UID " + words[1].upper()
            self.record(line)
            if command == "CAPABILITY":
                _send(conn, "* CAPABILITY IMAP4rev1 AUTH=PLAIN")
            elif command == "LOGIN":
                with self._count:
                    self.logins += 1
            elif command == "LIST":
                _send(conn, '* LIST (\\HasNoChildren) "/" "INBOX"')
            elif command in ("SELECT", "EXAMINE"):
                _send(conn, "* 1 EXISTS\r\n* OK [UIDVALIDITY 7] valid\r\n* OK [UIDNEXT 2] next")
            elif command == "UID FETCH" and "BODY" in rest.upper():
                if self._hostile_turn():
                    conn.wfile.write(self.payload)
                    conn.wfile.flush()
                    self._stop.wait(self.hold)
                    return  # a hostile server does not finish the response
                conn.wfile.write(b"* 1 FETCH (UID 1 FLAGS () BODY[] {%d}\r\n" % len(MESSAGE)
                                 + MESSAGE + b")\r\n")
            elif command == "UID FETCH":
                _send(conn, "* 1 FETCH (UID 1)")
            elif command == "LOGOUT":
                _send(conn, "* BYE bye")
                _send(conn, f"{tag} OK done")
                return
            _send(conn, f"{tag} OK done")

    def stop(self) -> None:
        self._stop.set()
        super().stop()
