"""``connect(imaps://…, token_cache=…)`` through `ImapMailbox` against a real Dovecot whose
oauth2 passdb asks the local identity provider about every token (XOAUTH2 / OAUTHBEARER)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import inboxlink
from inboxlink import auth, errors
from inboxlink.retry import RetryPolicy

from .conftest import Browser
from .dovecot_oauth import OAuthDovecot
from .idp import IdentityProviders

pytest.importorskip("imapclient")
pytestmark = pytest.mark.dovecot

URL = "imaps://alice%40contoso.com@127.0.0.1"
LOGIN = f"inboxlink login {URL}"


@pytest.fixture
def dovecot(idp: IdentityProviders) -> Iterator[OAuthDovecot]:
    server = OAuthDovecot(idp.base, idp.ca_path)
    yield server
    server.stop()


@pytest.fixture
def signed_in(idp: IdentityProviders, cache_dir: Path, browser: Browser) -> Path:
    auth.login(URL, provider="microsoft", client_id=idp.client_id, authority_host=idp.base,
               ca_file=idp.ca_path, cache_dir=cache_dir, prompt=browser, timeout=20)
    return cache_dir


def _open(dovecot: OAuthDovecot, **options: Any) -> Any:
    return inboxlink.connect(URL.replace("127.0.0.1", f"127.0.0.1:{dovecot.port}"),
                             ssl_context=ssl.create_default_context(cafile=dovecot.ca_path),
                             retry=RetryPolicy(max_attempts=1), **options)


@pytest.mark.parametrize("mechanism", ["xoauth2", "oauthbearer"])
def test_the_first_login_after_expiry_refreshes_once_and_succeeds(
        idp: IdentityProviders, dovecot: OAuthDovecot, signed_in: Path, mechanism: str) -> None:
    url = URL.replace("127.0.0.1", f"127.0.0.1:{dovecot.port}")
    first = _open(dovecot, token_cache=signed_in, provider="microsoft",
                  auth_mechanism=mechanism)
    with first:
        assert [f.name for f in first.folders()] == ["INBOX"]
        assert idp.introspections == 1
        idp.expire_access_tokens()                 # mid-session: the open session goes on
        assert first.list_messages("INBOX").items == ()
        assert idp.grants("refresh_token") == []
        assert idp.introspections == 1
        # A new mailbox object on the same account (a reconnect, another worker) shares the
        # cache file, not the first one's connection: its AUTHENTICATE is refused once,
        # the token refreshed once, the AUTHENTICATE repeated once.
        second = inboxlink.connect(url, token_cache=signed_in, provider="microsoft",
                                   auth_mechanism=mechanism, retry=RetryPolicy(max_attempts=1),
                                   ssl_context=ssl.create_default_context(
                                       cafile=dovecot.ca_path))
        with second:
            assert [f.name for f in second.folders()] == ["INBOX"]
        assert len(idp.grants("refresh_token")) == 1
        assert idp.introspections == 3             # first login, refused one, refreshed one


def test_a_dropped_session_logs_in_again_with_a_refreshed_token(
        idp: IdentityProviders, dovecot: OAuthDovecot, signed_in: Path) -> None:
    tokens = auth.open_token_cache(URL, signed_in, provider="microsoft")
    url = URL.replace("127.0.0.1", f"127.0.0.1:{dovecot.port}")
    mailbox = inboxlink.connect(url, token_provider=tokens, retry=RetryPolicy(max_attempts=2),
                                ssl_context=ssl.create_default_context(cafile=dovecot.ca_path))
    with mailbox:
        assert mailbox.list_messages("INBOX").items == ()
        idp.expire_access_tokens()
        dovecot.kick("alice@contoso.com")   # returns once the session is really gone
        # The same mailbox object: the read is retried on a new connection, whose login is
        # refused once and succeeds after one refresh.
        assert mailbox.list_messages("INBOX").items == ()
    assert len(idp.grants("refresh_token")) == 1
    assert tokens.requests == 1
    assert idp.introspections == 3


def test_a_revoked_grant_is_reauthorization_with_the_login_command(
        idp: IdentityProviders, dovecot: OAuthDovecot, signed_in: Path) -> None:
    idp.expire_access_tokens()
    idp.revoke_refresh_tokens()
    with pytest.raises(errors.ReauthorizationRequired) as caught:
        _open(dovecot, token_cache=signed_in, provider="microsoft").folders()
    assert LOGIN in caught.value.remedy
    assert idp.introspections == 1                 # refused once, refresh refused: no loop


def test_options_are_validated(signed_in: Path) -> None:
    with pytest.raises(errors.ConfigurationError, match="password="):
        inboxlink.connect(URL, token_cache=signed_in, provider="microsoft", password="x")
    with pytest.raises(errors.ConfigurationError, match="identity provider"):
        inboxlink.connect(URL, token_cache=signed_in)
    with pytest.raises(errors.ConfigurationError, match="provider"):
        inboxlink.connect(URL, password="x", provider="microsoft")   # provider= needs a cache
    tokens = auth.open_token_cache(URL, signed_in, provider="microsoft")
    mailbox_settings = inboxlink.adapters.imap.settings.settings_from_url(URL, token_provider=tokens)
    assert "token" not in repr(mailbox_settings).lower()


def test_smtp_auth_is_repeated_after_a_refresh_the_message_is_sent_once(
        idp: IdentityProviders, dovecot: OAuthDovecot, signed_in: Path, tmp_path: Path) -> None:
    from inboxlink import OutgoingMessage

    from .test_smtp_oauth import _Server

    smtp = _Server(idp, tmp_path)
    delivered: list[bytes] = []

    async def handle_DATA(server: Any, session: Any, envelope: Any) -> str:
        delivered.append(envelope.content)
        return "250 OK"

    smtp.handler.handle_DATA = handle_DATA  # type: ignore[attr-defined]
    trust = ssl.create_default_context(cafile=dovecot.ca_path)
    trust.load_verify_locations(cafile=smtp.ca_path)
    url = URL.replace("127.0.0.1", f"127.0.0.1:{dovecot.port}")
    try:
        mailbox = inboxlink.connect(url, token_cache=signed_in, provider="microsoft",
                                    smtp=f"smtps://127.0.0.1:{smtp.port}", ssl_context=trust,
                                    provider_saves_sent=True, retry=RetryPolicy(max_attempts=1))
        with mailbox:
            mailbox.folders()
            idp.expire_access_tokens()
            mailbox.send(OutgoingMessage(to=["bob@example.com"], subject="Hi", text="Hello"))
    finally:
        smtp.controller.stop()
    assert [alive for _, alive in smtp.handler.attempts] == [False, True]   # AUTH twice
    assert len(delivered) == 1                                               # DATA once
    assert len(idp.grants("refresh_token")) == 1
