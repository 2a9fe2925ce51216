"""A real SMTP server (aiosmtpd) with STARTTLS or implicit TLS and AUTH, recording what it got."""

from __future__ import annotations

import base64
import ssl
import threading
from collections.abc import Callable
from typing import Any

import attrs
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from .dovecot import free_port

__all__ = ["Received", "SmtpServer"]


@attrs.frozen
class Received:
    """One accepted message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    login: str | None


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, smtp: SMTP, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        refusal = self.server.refuse.get(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        login = getattr(session.auth_data, "login", None)
        if isinstance(login, bytes):
            login = login.decode()
        with self.server.lock:
            self.server.received.append(Received(
                str(envelope.mail_from), tuple(envelope.rcpt_tos), raw,
                login if isinstance(login, str) else None,
            ))
        if self.server.on_message is not None:
            self.server.on_message(envelope.rcpt_tos, raw)
        return "250 2.0.0 Message accepted"

    async def auth_XOAUTH2(self, smtp: SMTP, args: list[str]) -> AuthResult:
        if len(args) < 2:
            return AuthResult(success=False, handled=False, message="501 5.5.2 Need a response")
        decoded = base64.b64decode(args[1]).decode()
        fields = dict(part.split("=", 1) for part in decoded.split("\x01") if "=" in part)
        user, token = fields.get("user"), fields.get("auth", "").removeprefix("Bearer ")
        if user in self.server.tokens and self.server.tokens[user] == token:
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))
        return AuthResult(success=False, handled=False,
                          message="535 5.7.8 Username and Password not accepted")


class SmtpServer:
    """aiosmtpd on 127.0.0.1.

    Args:
        context: the server TLS context (None = no TLS at all, so no STARTTLS offered).
        implicit: speak TLS from the first byte (smtps) instead of offering STARTTLS.
        users: login → password accepted by AUTH PLAIN/LOGIN.
        tokens: login → OAuth access token accepted by XOAUTH2.
        data_size_limit: the largest message accepted (aiosmtpd's default, 32 MiB, is below
            the base64 of the 30 MB attachments the large-message tests send).
    """

    def __init__(self, context: ssl.SSLContext | None, *, implicit: bool = False,
                 users: dict[str, str] | None = None, tokens: dict[str, str] | None = None,
                 data_size_limit: int = 256 << 20) -> None:
        self.users = dict(users or {})
        self.tokens = dict(tokens or {})
        self.received: list[Received] = []
        self.refuse: dict[str, str] = {}
        self.lock = threading.Lock()
        self.on_message: Callable[[list[str], bytes], None] | None = None
        self.port = free_port()
        kwargs: dict[str, Any] = {
            "hostname": "127.0.0.1", "port": self.port,
            "authenticator": self._authenticate, "auth_require_tls": context is not None,
            "data_size_limit": data_size_limit,
        }
        if context is not None and implicit:
            # aiosmtpd only counts a STARTTLS upgrade as TLS for auth_require_tls; the
            # implicit-TLS socket is encrypted from the first byte anyway.
            kwargs.update(ssl_context=context, auth_require_tls=False)
        elif context is not None:
            kwargs.update(tls_context=context, require_starttls=True)
        else:
            kwargs["auth_require_tls"] = False
        self.controller = Controller(_Handler(self), **kwargs)
        self.controller.start()

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            if self.users.get(login) == password:
                return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    def messages_for(self, login: str) -> list[bytes]:
        """Raw messages submitted by ``login``, oldest first."""
        with self.lock:
            return [r.raw for r in self.received if r.login == login]

    def stop(self) -> None:
        """Stop the server thread."""
        self.controller.stop()
