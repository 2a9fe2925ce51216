"""Local peers for the doctor tests: a DNS server, and scripted IMAP and SMTP servers over TLS.

They speak just the protocol the doctor's probes use (greeting, CAPABILITY/EHLO, STARTTLS,
LOGOUT/QUIT) with real sockets and real TLS, so every failure variant — Courier's greeting,
no STARTTLS, a certificate for the wrong name, a closed port — is a real server behaving so.
"""

from __future__ import annotations

import shlex
import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import dns.flags
import dns.message
import dns.rcode
import dns.resolver
import dns.rrset

# Like Dovecot 2.3: SPECIAL-USE and CONDSTORE are announced only after login.
DOVECOT_GREETING = "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE " \
    "LITERAL+ AUTH=PLAIN] Dovecot (Debian) ready."
DOVECOT_AFTER_LOGIN = ("IMAP4rev1", "SASL-IR", "ID", "ENABLE", "IDLE", "SORT", "SPECIAL-USE",
                       "CONDSTORE", "QRESYNC", "LITERAL+", "MOVE")
# The exact greeting of Debian courier-imap 5.0.13 (see DESIGN §6).
COURIER_GREETING = "* OK [CAPABILITY IMAP4rev1 ENABLE UTF8=ACCEPT] Courier-IMAP ready. " \
    "Copyright 1998-2019 Double Precision, Inc."


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class LineServer:
    """A threaded TCP server on 127.0.0.1 running ``handle(lines)`` per connection."""

    def __init__(self, tls: ssl.SSLContext | None, implicit: bool) -> None:
        self.tls = tls
        self.implicit = implicit
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                sock.settimeout(10)
                try:
                    if outer.implicit and outer.tls is not None:
                        sock = outer.tls.wrap_socket(sock, server_side=True)
                    outer.converse(_Conn(sock, outer))
                except (OSError, ssl.SSLError):
                    pass  # the client hung up or refused our certificate: that is the test

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    def converse(self, conn: _Conn) -> None:
        raise NotImplementedError

    def __enter__(self) -> LineServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Conn:
    def __init__(self, sock: socket.socket, server: LineServer) -> None:
        self.sock = sock
        self.server = server
        self.file = sock.makefile("rb")

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\r\n")

    def readline(self) -> str:
        line = self.file.readline()
        if not line:
            raise ConnectionResetError
        return line.decode().rstrip("\r\n")

    def upgrade(self) -> None:
        assert self.server.tls is not None
        self.sock = self.server.tls.wrap_socket(self.sock, server_side=True)
        self.file = self.sock.makefile("rb")


class ImapServer(LineServer):
    """Greets, answers CAPABILITY (offering STARTTLS before TLS if asked to), STARTTLS, LOGOUT."""

    def __init__(self, tls: ssl.SSLContext | None, *, implicit: bool = True,
                 greeting: str = DOVECOT_GREETING, capabilities: Sequence[str] = (),
                 after_login: Sequence[str] = DOVECOT_AFTER_LOGIN, starttls: bool = True,
                 password: str | None = None) -> None:
        super().__init__(tls, implicit)
        self.greeting = greeting
        self.capabilities = tuple(capabilities) or (
            "IMAP4rev1", "SASL-IR", "ID", "ENABLE", "IDLE", "LITERAL+", "AUTH=PLAIN")
        self.after_login = tuple(after_login)
        self.starttls = starttls
        self.password = password
        self.logins: list[tuple[str, bool]] = []  # (user, accepted)

    def converse(self, conn: _Conn) -> None:
        secure = self.implicit
        logged_in = False
        greeting = self.greeting
        if not secure and self.starttls:
            # Like Dovecot, a plain-text port announces STARTTLS in the greeting's capabilities.
            greeting = greeting.replace("[CAPABILITY ", "[CAPABILITY STARTTLS ", 1)
        conn.send(greeting)
        while True:
            tag, _, command = conn.readline().partition(" ")
            verb = command.upper()
            if verb.startswith("LOGIN ") and secure:
                user, password = shlex.split(command[6:])
                accepted = password == self.password
                self.logins.append((user, accepted))
                if accepted:
                    logged_in = True
                    conn.send(f"{tag} OK [CAPABILITY {' '.join(self.after_login)}] Logged in")
                else:
                    conn.send(f"{tag} NO [AUTHENTICATIONFAILED] Authentication failed.")
            elif verb == "CAPABILITY":
                caps = list(self.after_login if logged_in else self.capabilities)
                if not secure and self.starttls:
                    caps.append("STARTTLS")
                conn.send("* CAPABILITY " + " ".join(caps))
                conn.send(f"{tag} OK CAPABILITY completed")
            elif verb == "STARTTLS" and self.starttls and not secure:
                conn.send(f"{tag} OK Begin TLS negotiation now")
                conn.upgrade()
                secure = True
            elif verb == "LOGOUT":
                conn.send("* BYE Logging out")
                conn.send(f"{tag} OK Logout completed")
                return
            else:
                conn.send(f"{tag} BAD Command not understood")


class SmtpServer(LineServer):
    """Greets, answers EHLO (STARTTLS before TLS when offered; AUTH after), STARTTLS, QUIT."""

    def __init__(self, tls: ssl.SSLContext | None, *, implicit: bool = False,
                 starttls: bool = True, auth: str = "AUTH PLAIN LOGIN") -> None:
        super().__init__(tls, implicit)
        self.starttls = starttls
        self.auth = auth

    def converse(self, conn: _Conn) -> None:
        secure = self.implicit
        conn.send("220 smtp.example.test ESMTP Postfix (Debian)")
        while True:
            line = conn.readline()
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                keywords = ["SIZE 35882577", "8BITMIME"]
                if secure:
                    keywords.append(self.auth)
                elif self.starttls:
                    keywords.append("STARTTLS")
                lines = ["smtp.example.test", *keywords]
                for i, text in enumerate(lines):
                    conn.send(f"250{'-' if i < len(lines) - 1 else ' '}{text}")
            elif verb == "STARTTLS" and self.starttls and not secure:
                conn.send("220 2.0.0 Ready to start TLS")
                conn.upgrade()
                secure = True
            elif verb == "QUIT":
                conn.send("221 2.0.0 Bye")
                return
            else:
                conn.send("502 5.5.2 Error: command not recognized")


class DnsServer:
    """A UDP DNS server on 127.0.0.1 answering from ``records``; unknown names are NXDOMAIN.

    ``records`` maps ``(name, type)`` to answer texts, e.g.
    ``{("example.test", "MX"): ["10 mx.example.test."],
    ("imap.example.test", "A"): ["127.0.0.1"]}``.
    """

    def __init__(self, records: Mapping[tuple[str, str], Sequence[str]], *,
                 answer: bool = True) -> None:
        self.records = {(n.rstrip(".").lower(), t): list(v) for (n, t), v in records.items()}
        #: False: a DNS server that receives queries and never answers (a dead resolver)
        self.answer = answer
        self.queries: list[tuple[str, str]] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            query = dns.message.from_wire(data)
            question = query.question[0]
            name = question.name.to_text().rstrip(".").lower()
            rdtype = dns.rdatatype.to_text(question.rdtype)
            self.queries.append((name, rdtype))
            if not self.answer:
                continue
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA
            if not any(n == name for n, _ in self.records):
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif (name, rdtype) in self.records:
                response.answer.append(dns.rrset.from_text_list(
                    question.name, 300, "IN", rdtype, self.records[(name, rdtype)]))
            self._sock.sendto(response.to_wire(), peer)

    def resolver(self) -> dns.resolver.Resolver:
        """A dnspython resolver that asks only this server."""
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = self.port
        resolver.lifetime = 3
        return resolver

    def __enter__(self) -> DnsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on (bound, never listening, so never reused meanwhile)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()
