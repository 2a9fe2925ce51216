"""The IMAP path with a token provider: real Dovecot checking XOAUTH2 / OAUTHBEARER tokens
against the local identity provider, a token expiring mid-session.

This is the shape the IMAP adapter's wiring takes (``with_fresh_token`` around the login,
inside the adapter's error boundary with its own table); the adapter itself is wired by its
owner, so the login here is imapclient's, through ``inboxlink.adapters.imap.errors``.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inboxlink import auth, errors
from inboxlink.adapters.imap import errors as imap_errors
from inboxlink.translate import translating

from .conftest import Browser
from .dovecot_oauth import OAuthDovecot
from .idp import IdentityProviders

imapclient = pytest.importorskip("imapclient")
pytestmark = pytest.mark.dovecot

URL = "imaps://alice%40contoso.com@127.0.0.1"
LOGIN = f"inboxlink login {URL}"


@pytest.fixture
def dovecot(idp: IdentityProviders) -> Iterator[OAuthDovecot]:
    server = OAuthDovecot(idp.base, idp.ca_path)
    yield server
    server.stop()


@pytest.fixture
def tokens(idp: IdentityProviders, cache_dir: Path, browser: Browser) -> auth.TokenProvider:
    auth.login(URL, provider="microsoft", client_id=idp.client_id, authority_host=idp.base,
               ca_file=idp.ca_path, cache_dir=cache_dir, prompt=browser, timeout=20)
    return auth.resolve_token_source(URL, {"token_cache": cache_dir,  # type: ignore[return-value]
                                           "provider": "microsoft"})


def _connect(dovecot: OAuthDovecot, tokens: auth.TokenProvider, mechanism: str,
             tried: list[str]) -> Any:
    context = ssl.create_default_context(cafile=dovecot.ca_path)

    def login(token: str) -> Any:
        tried.append(token)
        with translating(imap_errors.TABLE, imap_errors.extract, None):
            client = imapclient.IMAPClient("127.0.0.1", port=dovecot.port, ssl=True,
                                           ssl_context=context, timeout=10)
            try:
                if mechanism == "XOAUTH2":
                    client.oauth2_login("alice@contoso.com", token)
                else:
                    client.oauthbearer_login("alice@contoso.com", token)
            except BaseException:
                client.shutdown()
                raise
            return client

    return auth.with_fresh_token(tokens, login)


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_a_token_expiring_mid_session_is_refreshed_at_the_next_login(
        idp: IdentityProviders, dovecot: OAuthDovecot, tokens: auth.TokenProvider,
        mechanism: str) -> None:
    tried: list[str] = []
    first = _connect(dovecot, tokens, mechanism, tried)
    assert first.select_folder("INBOX")[b"EXISTS"] == 0
    assert len(tried) == 1
    assert idp.grants("refresh_token") == []

    idp.expire_access_tokens()                     # mid-session
    # The authenticated session goes on (IMAP checks the token at login only)…
    assert first.noop()
    # …and the next connection (a reconnect, the Sent-sync connection) is refused once,
    # then logs in with a refreshed token.
    second = _connect(dovecot, tokens, mechanism, tried)
    assert second.select_folder("INBOX")[b"EXISTS"] == 0
    assert len(tried) == 3
    assert tried[1] == tried[0]
    assert tried[2] != tried[1]
    assert len(idp.grants("refresh_token")) == 1
    assert idp.introspections == 3
    first.logout()
    second.logout()


def test_a_revoked_grant_at_the_imap_login(idp: IdentityProviders, dovecot: OAuthDovecot,
                                           tokens: auth.TokenProvider) -> None:
    idp.expire_access_tokens()
    idp.revoke_refresh_tokens()
    tried: list[str] = []
    with pytest.raises(errors.ReauthorizationRequired) as caught:
        _connect(dovecot, tokens, "XOAUTH2", tried)
    assert len(tried) == 1                         # refused, refresh refused: no loop
    assert LOGIN in caught.value.remedy


def test_the_imap_refusal_is_the_typed_auth_failure(dovecot: OAuthDovecot) -> None:
    # What with_fresh_token reacts to: the IMAP table maps Dovecot's refusal of a dead
    # token to InvalidCredentials.
    with pytest.raises(errors.InvalidCredentials):
        _connect(dovecot, auth.as_token_provider(lambda: "at-not-issued"), "XOAUTH2", [])
