"""The SMTP path with a token provider: a real SMTP server (aiosmtpd, implicit TLS) that
accepts XOAUTH2 / OAUTHBEARER only for access tokens the local identity provider says are
live, and smtplib logging in through ``with_fresh_token`` and the IMAP/SMTP error table."""

from __future__ import annotations

import base64
import smtplib
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from inboxlink import auth, errors
from inboxlink.adapters.imap import errors as imap_errors
from inboxlink.translate import translating

from .conftest import Browser
from .idp import IdentityProviders

aiosmtpd = pytest.importorskip("aiosmtpd")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword  # noqa: E402

URL = "imaps://alice%40contoso.com@127.0.0.1"


class _Handler:
    def __init__(self, idp: IdentityProviders) -> None:
        self.idp = idp
        self.attempts: list[tuple[str, bool]] = []

    def _check(self, user: str | None, token: str) -> AuthResult:
        with self.idp.lock:
            alive = self.idp.access_tokens.get(token, 0.0) > time.time()
        self.attempts.append((token, alive))
        if alive and user == self.idp.user:
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))
        # Office 365's answer to a dead token.
        return AuthResult(success=False, handled=False,
                          message="535 5.7.3 Authentication unsuccessful")

    async def auth_XOAUTH2(self, smtp: SMTP, args: list[str]) -> AuthResult:
        decoded = base64.b64decode(args[1]).decode()
        fields = dict(p.split("=", 1) for p in decoded.split("\x01") if "=" in p)
        return self._check(fields.get("user"), fields.get("auth", "").removeprefix("Bearer "))

    async def auth_OAUTHBEARER(self, smtp: SMTP, args: list[str]) -> AuthResult:
        # RFC 7628: "n,a=<user>,^Aauth=Bearer <token>^A^A"
        decoded = base64.b64decode(args[1]).decode()
        gs2, _, rest = decoded.partition("\x01")
        user = next((p[2:] for p in gs2.split(",") if p.startswith("a=")), None)
        fields = dict(p.split("=", 1) for p in rest.split("\x01") if "=" in p)
        return self._check(user, fields.get("auth", "").removeprefix("Bearer "))


class _Server:
    def __init__(self, idp: IdentityProviders, tmp_path: Path) -> None:
        ca = trustme.CA()
        self.ca_path = str(tmp_path / "smtp-ca.pem")
        ca.cert_pem.write_to_path(self.ca_path)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        self.handler = _Handler(idp)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                     ssl_context=context, auth_require_tls=False,
                                     server_hostname="127.0.0.1")
        self.controller.start()


@pytest.fixture
def smtp_server(idp: IdentityProviders, tmp_path: Path) -> Iterator[_Server]:
    server = _Server(idp, tmp_path)
    yield server
    server.controller.stop()


@pytest.fixture
def tokens(idp: IdentityProviders, cache_dir: Path, browser: Browser) -> auth.TokenProvider:
    auth.login(URL, provider="microsoft", client_id=idp.client_id, authority_host=idp.base,
               ca_file=idp.ca_path, cache_dir=cache_dir, prompt=browser, timeout=20)
    return auth.open_token_cache(URL, cache_dir, provider="microsoft")


def _connect(server: _Server, tokens: auth.TokenProvider, mechanism: str) -> smtplib.SMTP_SSL:
    context = ssl.create_default_context(cafile=server.ca_path)

    def login(token: str) -> smtplib.SMTP_SSL:
        with translating(imap_errors.TABLE, imap_errors.extract, None):
            client = smtplib.SMTP_SSL("127.0.0.1", server.port, context=context, timeout=10)
            try:
                client.ehlo()
                if mechanism == "XOAUTH2":
                    response = f"user=alice@contoso.com\x01auth=Bearer {token}\x01\x01"
                else:
                    response = f"n,a=alice@contoso.com,\x01auth=Bearer {token}\x01\x01"
                client.auth(mechanism, lambda challenge=None: response)
            except BaseException:
                client.close()
                raise
            return client

    return auth.with_fresh_token(tokens, login)


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_smtp_login_after_the_token_expired(idp: IdentityProviders, smtp_server: _Server,
                                            tokens: auth.TokenProvider, mechanism: str) -> None:
    first = _connect(smtp_server, tokens, mechanism)
    first.quit()
    idp.expire_access_tokens()
    second = _connect(smtp_server, tokens, mechanism)
    second.quit()
    attempts = smtp_server.handler.attempts
    assert [alive for _, alive in attempts] == [True, False, True]
    assert attempts[1][0] == attempts[0][0]
    assert attempts[2][0] != attempts[1][0]
    assert len(idp.grants("refresh_token")) == 1


def test_the_smtp_refusal_is_the_typed_auth_failure(smtp_server: _Server) -> None:
    dead: Any = auth.as_token_provider(lambda: "at-not-issued")
    with pytest.raises(errors.InvalidCredentials):
        _connect(smtp_server, dead, "XOAUTH2")
    assert len(smtp_server.handler.attempts) == 2          # tried, refreshed (same), gave up
