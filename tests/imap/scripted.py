"""Small scripted IMAP and SMTP responders for exact provider texts.

Dovecot cannot say Gmail's ``[ALERT] …`` lines or greet like Courier, so these answer with
the catalogued bytes while the REAL imapclient/smtplib talk to them over (TLS) sockets.
Each records the commands it received, so a test can prove credentials were never sent.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import ssl
import threading
from collections.abc import Mapping

__all__ = ["ScriptedImap", "ScriptedSmtp"]

DOVECOT_GREETING = "* OK [CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE LITERAL+ AUTH=PLAIN] ready."
CLOSE = "<close>"
#: base64 of Google's XOAUTH2 error details, sent as a challenge before the refusal
GOOGLE_ERROR_CHALLENGE = (
    "eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ=="
)  #: as a reply: drop the connection instead of answering


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Base:
    def __init__(self, context: ssl.SSLContext | None) -> None:
        self.context = context
        self.commands: list[str] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def setup(self) -> None:
                if owner.context is not None:
                    try:
                        self.request = owner.context.wrap_socket(self.request, server_side=True)
                    except (ssl.SSLError, OSError):
                        self.request.close()
                        raise
                super().setup()

            def handle(self) -> None:
                with contextlib.suppress(OSError, ssl.SSLError, ValueError):
                    owner.serve(self)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.port: int = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                         daemon=True).start()

    def record(self, line: str) -> None:
        with self._lock:
            self.commands.append(line)

    def serve(self, conn: socketserver.StreamRequestHandler) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _send(conn: socketserver.StreamRequestHandler, text: str) -> None:
    conn.wfile.write(text.encode() + (b"" if text.endswith("\r\n") else b"\r\n"))
    conn.wfile.flush()


class ScriptedImap(_Base):
    """An IMAP responder.

    Args:
        greeting: the untagged greeting line, sent first.
        capabilities: answered to CAPABILITY (and after login).
        replies: command name → tagged status text (``"NO [ALERT] …"``) or :data:`CLOSE`;
            commands not named succeed (``"LIST RETURN"``: a LIST with RETURN options).
        folders: untagged lines answered to LIST / XLIST (``'(\\\\Sent) "/" "Sent"'``);
            the key ``"LIST RETURN"`` answers a LIST with RETURN options (RFC 5258) instead.
        namespace: the NAMESPACE answer (RFC 2342), ``'(("" "/")) NIL NIL'``.
        context: TLS context for implicit TLS (None: plain).
    """

    def __init__(self, greeting: str = DOVECOT_GREETING, *,
                 capabilities: str = "IMAP4rev1 AUTH=PLAIN",
                 replies: Mapping[str, str] | None = None,
                 folders: Mapping[str, list[str]] | None = None,
                 namespace: str | None = None,
                 context: ssl.SSLContext | None = None) -> None:
        self.greeting = greeting
        self.namespace = namespace
        self.capabilities = capabilities
        self.replies = dict(replies or {})
        self.folders = dict(folders or {})
        super().__init__(context)

    def serve(self, conn: socketserver.StreamRequestHandler) -> None:
        _send(conn, self.greeting)
        if self.greeting.startswith("* BYE"):
            return
        while True:
            raw = conn.rfile.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line.endswith("}") and "{" in line:
                size = int(line[line.rindex("{") + 1:-1].rstrip("+"))
                if not line.endswith("+}"):
                    _send(conn, "+ go ahead")
                conn.rfile.read(size)
                conn.rfile.readline()
            tag, _, rest = line.partition(" ")
            command = rest.split(" ", 1)[0].upper()
            if command == "UID":
                command = "UID " + rest.split(" ")[1].upper()
            self.record(line)
            extended = command == "LIST" and " RETURN " in rest.upper()
            reply = self.replies.get("LIST RETURN" if extended and "LIST RETURN" in self.replies
                                     else command)
            if reply == CLOSE:
                return
            if command == "AUTHENTICATE" and len(rest.split()) < 3:
                _send(conn, "+ ")
                conn.rfile.readline()
                if "XOAUTH2" in rest.upper() and reply and not reply.startswith("OK"):
                    # Google first answers a refused token with an error challenge.
                    _send(conn, "+ " + GOOGLE_ERROR_CHALLENGE)
                    conn.rfile.readline()
            if command == "CAPABILITY":
                _send(conn, f"* CAPABILITY {self.capabilities}")
            elif command in ("LIST", "XLIST"):
                key = "LIST RETURN" if command == "LIST" and " RETURN " in rest.upper() \
                    and "LIST RETURN" in self.folders else command
                for entry in self.folders.get(key, []):
                    _send(conn, f"* {command} {entry}")
            elif command == "NAMESPACE" and self.namespace is not None:
                _send(conn, f"* NAMESPACE {self.namespace}")
            elif command in ("SELECT", "EXAMINE"):
                _send(conn, "* 0 EXISTS\r\n* OK [UIDVALIDITY 7] UIDs valid\r\n"
                            "* OK [UIDNEXT 1] next")
            elif command == "LOGOUT":
                _send(conn, "* BYE bye")
                _send(conn, f"{tag} OK done")
                return
            _send(conn, f"{tag} {reply or 'OK done'}")


class ScriptedSmtp(_Base):
    """An SMTP responder.

    Args:
        replies: stage (``greeting``, ``auth``, ``mail``, ``rcpt``, ``data``) → full reply
            text, multi-line replies with ``\\r\\n`` between lines (``"534-5.7.9 …\\r\\n534 …"``);
            :data:`CLOSE` drops the connection at that stage.
        starttls: offer STARTTLS (wrapping with ``tls_context``).
    """

    def __init__(self, replies: Mapping[str, str] | None = None, *, starttls: bool = True,
                 tls_context: ssl.SSLContext | None = None,
                 context: ssl.SSLContext | None = None) -> None:
        self.replies = dict(replies or {})
        self.starttls = starttls
        self.tls_context = tls_context
        super().__init__(context)

    def serve(self, conn: socketserver.StreamRequestHandler) -> None:
        greeting = self.replies.get("greeting", "220 scripted ESMTP ready")
        if greeting == CLOSE:
            return
        _send(conn, greeting)
        secure = self.context is not None
        while True:
            raw = conn.rfile.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            self.record(line)
            if verb in ("EHLO", "HELO"):
                lines = ["250-scripted"]
                if self.starttls and not secure:
                    lines.append("250-STARTTLS")
                lines.append("250 AUTH PLAIN LOGIN XOAUTH2")
                _send(conn, "\r\n".join(lines))
            elif verb == "STARTTLS" and self.tls_context is not None:
                _send(conn, "220 2.0.0 go ahead")
                tls = self.tls_context.wrap_socket(conn.connection, server_side=True)
                conn.request = conn.connection = tls
                conn.rfile = tls.makefile("rb")
                conn.wfile = tls.makefile("wb")
                secure = True
            elif verb in ("AUTH", "MAIL", "RCPT", "DATA"):
                reply = self.replies.get(verb.lower())
                if reply == CLOSE:
                    return
                if verb == "AUTH" and len(line.split()) < 3:
                    _send(conn, "334 ")
                    conn.rfile.readline()
                if "XOAUTH2" in line.upper() and reply and not reply.startswith("2"):
                    _send(conn, "334 " + GOOGLE_ERROR_CHALLENGE)
                    self.record("challenge answer: " + conn.rfile.readline().decode().strip())
                if verb == "DATA" and (reply is None or reply.startswith("354")):
                    _send(conn, "354 go ahead")
                    while conn.rfile.readline() not in (b".\r\n", b""):
                        pass
                    reply = self.replies.get("data_end")
                    if reply == CLOSE:
                        return
                default = {"AUTH": "235 2.7.0 ok", "DATA": "250 2.0.0 queued"}.get(verb, "250 ok")
                _send(conn, reply or default)
            elif verb == "QUIT":
                _send(conn, "221 bye")
                return
            else:
                _send(conn, "250 ok")


def socket_pair_closed_port() -> int:
    """A port with nothing listening (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
