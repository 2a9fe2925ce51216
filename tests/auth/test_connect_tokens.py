"""``connect(url, token_cache=…)`` / ``token_provider=`` for Graph, Gmail and EWS, against
their emulators and the local identity provider (no credential object built by the caller)."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

import inboxlink
from inboxlink import auth, errors
from inboxlink.retry import RetryPolicy

from .conftest import GOOGLE_URL, MS_URL, Browser
from .idp import IdentityProviders

pytest.importorskip("googleapiclient")
pytest.importorskip("msgraph")
pytest.importorskip("exchangelib")

from ews.emulator import EwsEmulator
from gmail.emulator import GmailEmulator
from graph.emulator import GraphEmulator

EWS_URL = "ews://alice@contoso.com"


@pytest.fixture(autouse=True)
def _no_retry_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOXLINK_NO_RETRY_WAIT", "1")


def _live(idp: IdentityProviders, token: object) -> bool:
    with idp.lock:
        return idp.access_tokens.get(str(token), 0.0) > time.time()


class _LiveTokens(set[str]):
    """Gmail emulator's accepted tokens: whatever the identity provider says is live."""

    def __init__(self, idp: IdentityProviders) -> None:
        super().__init__()
        self.idp = idp

    def __contains__(self, token: object) -> bool:
        return _live(self.idp, token)


class _LiveBearers(dict[str, str]):
    """EWS emulator's bearer table (token → address), asking the identity provider."""

    def __init__(self, idp: IdentityProviders) -> None:
        super().__init__()
        self.idp = idp

    def get(self, token: str, default: Any = None) -> Any:  # type: ignore[override]
        return self.idp.user if _live(self.idp, token) else default


# ---------------------------------------------------------------------------- Gmail
def test_gmail_token_cache_refreshes_on_a_401_and_names_login_when_revoked(
        idp: IdentityProviders, cache_dir: Path, browser: Browser, tmp_path: Path) -> None:
    idp.user = "alice@gmail.com"
    auth.login(GOOGLE_URL, client_secrets=idp.google_client_secrets(tmp_path / "cs.json"),
               ca_file=idp.ca_path, cache_dir=cache_dir, prompt=browser, timeout=20)
    gmail = GmailEmulator(address="alice@gmail.com").start()
    gmail.tokens = _LiveTokens(idp)
    try:
        mailbox = inboxlink.connect(GOOGLE_URL, token_cache=cache_dir, api_endpoint=gmail.url,
                                    retry=RetryPolicy(max_attempts=1))
        assert "TokenProvider" not in repr(mailbox.settings)     # nothing of the sign-in
        assert str(cache_dir) not in repr(mailbox.settings)
        with mailbox:
            mailbox.folders()
            assert idp.grants("refresh_token") == []
            idp.expire_access_tokens()                   # mid-session
            calls = len(gmail.calls)
            assert list(mailbox.list_messages("INBOX").items) == []
            assert gmail.calls[calls:] == ["messages.list", "messages.list"]   # 401, again
            assert len(idp.grants("refresh_token")) == 1

            idp.expire_access_tokens()
            idp.revoke_refresh_tokens()
            with pytest.raises(errors.ReauthorizationRequired) as caught:
                mailbox.list_messages("INBOX")
            assert f"inboxlink login {GOOGLE_URL}" in caught.value.remedy
    finally:
        gmail.stop()


def test_gmail_refuses_conflicting_sign_in_options(cache_dir: Path) -> None:
    with pytest.raises(errors.ConfigurationError, match="access_token="):
        inboxlink.connect(GOOGLE_URL, token_cache=cache_dir, access_token="x")
    with pytest.raises(errors.ConfigurationError, match="credentials="):
        inboxlink.connect(GOOGLE_URL, token_provider=lambda: "x", credentials=object())


# ---------------------------------------------------------------------------- Graph
def test_graph_token_cache_without_a_credential_object(
        idp: IdentityProviders, cache_dir: Path, browser: Browser) -> None:
    auth.login(MS_URL, client_id=idp.client_id, authority_host=idp.base, ca_file=idp.ca_path,
               cache_dir=cache_dir, prompt=browser, timeout=20)
    tokens = auth.open_token_cache(MS_URL, cache_dir)
    emu = GraphEmulator(token=tokens.token()).start()   # accepts exactly the cached token
    try:
        mailbox = inboxlink.connect(MS_URL, token_cache=cache_dir, base_url=emu.base_url)
        assert isinstance(mailbox.settings.credential, auth.AzureCredential)
        assert "path=" not in repr(mailbox.settings)       # nothing of the cache in reprs
        with mailbox:
            assert mailbox.folders()
            assert list(mailbox.list_messages("INBOX").items) == []
        assert idp.grants("refresh_token") == []            # the cached token served all
    finally:
        emu.stop()


def test_graph_with_a_revoked_grant_names_the_login_command(
        idp: IdentityProviders, cache_dir: Path, browser: Browser) -> None:
    idp.expires_in = 1                                  # stale at once: must be refreshed
    auth.login(MS_URL, client_id=idp.client_id, authority_host=idp.base, ca_file=idp.ca_path,
               cache_dir=cache_dir, prompt=browser, timeout=20)
    idp.revoke_refresh_tokens()
    emu = GraphEmulator().start()
    try:
        mailbox = inboxlink.connect(MS_URL, token_cache=cache_dir, base_url=emu.base_url,
                                    retry=RetryPolicy(max_attempts=1))
        with mailbox, pytest.raises(errors.ReauthorizationRequired) as caught:
            mailbox.folders()
        assert f"inboxlink login {MS_URL}" in caught.value.remedy
    finally:
        emu.stop()


def test_graph_refuses_conflicting_sign_in_options(cache_dir: Path) -> None:
    with pytest.raises(errors.ConfigurationError, match="credential="):
        inboxlink.connect(MS_URL, token_cache=cache_dir, credential=object())
    with pytest.raises(errors.ConfigurationError, match="token_cache="):
        inboxlink.connect(MS_URL, token_cache=cache_dir, token_provider=lambda: "x")


# ---------------------------------------------------------------------------- EWS
@pytest.fixture
def ews(idp: IdentityProviders, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[EwsEmulator]:
    ca = trustme.CA()
    bundle = tmp_path / "ews-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    # requests (under exchangelib) reads its trust store from REQUESTS_CA_BUNDLE.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = EwsEmulator(ssl_context=context)
    server.start()
    server.add_user("alice@contoso.com", "unused-password")
    server.tokens = _LiveBearers(idp)
    yield server
    server.stop()


def _until_stale(tokens: Any) -> None:
    """Wait until the provider's token is inside the renewal margin (a few seconds).

    msal's own margin is the same 5 minutes, counted in whole seconds: a second more.
    """
    from inboxlink.auth.store import EXPIRY_MARGIN

    while tokens.expires_at - EXPIRY_MARGIN + 1.5 > time.time():
        time.sleep(0.05)


def test_ews_bearer_from_the_token_cache_renewed_before_expiry(
        idp: IdentityProviders, cache_dir: Path, browser: Browser, ews: EwsEmulator) -> None:
    from inboxlink.auth.store import EXPIRY_MARGIN

    # Every token goes stale a second after it is issued (it enters the renewal margin).
    idp.expires_in = int(EXPIRY_MARGIN) + 1
    auth.login(EWS_URL, provider="microsoft", client_id=idp.client_id, authority_host=idp.base,
               ca_file=idp.ca_path, cache_dir=cache_dir, prompt=browser, timeout=20)
    tokens = auth.open_token_cache(EWS_URL, cache_dir, provider="microsoft")
    mailbox = inboxlink.connect(EWS_URL, url=ews.ews_url, token_provider=tokens,
                                retry=RetryPolicy(max_attempts=1))
    with mailbox:
        assert mailbox.folder("inbox").role is not None
        before = tokens.requests
        _until_stale(tokens)
        idp.expire_access_tokens()                     # the server refuses the old one now
        # The provider renews before the request: the stale token is never sent.
        assert list(mailbox.list_messages("inbox").items) == []
        assert tokens.requests == before + 1
        assert len(idp.grants("refresh_token")) == tokens.requests

        idp.revoke_refresh_tokens()
        _until_stale(tokens)
        with pytest.raises(errors.ReauthorizationRequired) as caught:
            mailbox.list_messages("inbox")
        assert f"inboxlink login {EWS_URL}" in caught.value.remedy


def test_ews_token_options_are_validated(cache_dir: Path) -> None:
    with pytest.raises(errors.ConfigurationError, match="password="):
        inboxlink.connect(EWS_URL, token_provider=lambda: "x", password="p")
    settings = inboxlink.adapters.ews.EwsSettings.from_url(EWS_URL, token_cache=cache_dir)
    assert settings.exchangelib_auth_type() == "OAuth 2.0"
    assert "cache" not in repr(settings).lower()


def test_ews_token_refused_before_its_expiry_is_refreshed_once(
        idp: IdentityProviders, cache_dir: Path, browser: Browser, ews: EwsEmulator) -> None:
    auth.login(EWS_URL, provider="microsoft", client_id=idp.client_id, authority_host=idp.base,
               ca_file=idp.ca_path, cache_dir=cache_dir, prompt=browser, timeout=20)
    tokens = auth.open_token_cache(EWS_URL, cache_dir, provider="microsoft")
    mailbox = inboxlink.connect(EWS_URL, url=ews.ews_url, token_provider=tokens,
                                retry=RetryPolicy(max_attempts=1))
    with mailbox:
        mailbox.folder("inbox")
        idp.expire_access_tokens()               # refused by the server, fresh to the client
        sent = len(ews.requests)
        assert list(mailbox.list_messages("inbox").items) == []
        operations = ews.requests[sent:]
        assert len(operations) == 2                      # refused with 401, then again
        assert operations[0] == operations[1]
        assert tokens.requests == 1

        idp.expire_access_tokens()
        idp.revoke_refresh_tokens()
        with pytest.raises(errors.ReauthorizationRequired) as caught:
            mailbox.list_messages("inbox")
        assert f"inboxlink login {EWS_URL}" in caught.value.remedy


def test_ews_a_token_that_stays_refused_is_tried_twice_then_invalid(
        ews: EwsEmulator) -> None:
    with pytest.raises(errors.InvalidCredentials):
        inboxlink.connect(EWS_URL, url=ews.ews_url, token_provider=lambda: "at-never-issued",
                          retry=RetryPolicy(max_attempts=1)).folders()
    assert ews.requests == ["ConvertId", "ConvertId"]   # refused, refreshed, refused: stop
