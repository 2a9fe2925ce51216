"""Google sign-in end to end: real google-auth-oauthlib / google-auth against the local
Google OAuth endpoint over TLS."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from inboxlink import auth, errors

from .conftest import GOOGLE_URL, Browser
from .idp import IdentityProviders, s256

LOGIN = f"inboxlink login {GOOGLE_URL}"


@pytest.fixture
def google(idp: IdentityProviders) -> IdentityProviders:
    idp.user = "alice@gmail.com"
    return idp


def _login(idp: IdentityProviders, cache_dir: Path, prompt: auth.PromptHandler,
           tmp_path: Path) -> auth.CacheTokenProvider:
    secrets_file = idp.google_client_secrets(tmp_path / "client_secret.json")
    return auth.login(GOOGLE_URL, client_secrets=secrets_file, ca_file=idp.ca_path,
                      cache_dir=cache_dir, prompt=prompt, timeout=20)


def test_installed_app_flow_through_the_loopback_redirect(
        google: IdentityProviders, cache_dir: Path, browser: Browser, tmp_path: Path) -> None:
    provider = _login(google, cache_dir, browser, tmp_path)

    assert browser.failures == []
    (prompt,) = browser.prompts
    query = {k: v[0] for k, v in parse_qs(urlsplit(prompt.url).query).items()}
    assert urlsplit(prompt.url).path == "/o/oauth2/auth"
    assert query["code_challenge_method"] == "S256"
    assert query["access_type"] == "offline"
    assert query["login_hint"] == "alice@gmail.com"
    assert "https://www.googleapis.com/auth/gmail.modify" in query["scope"].split()
    (landed,) = browser.landed
    assert landed.status_code == 200
    (redeem,) = google.grants("authorization_code")
    assert s256(redeem["code_verifier"]) == query["code_challenge"]

    path = cache_dir / "google-gmail-alice@gmail.com.json"
    assert provider.path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    # google-auth's authorized-user JSON, readable by Credentials.from_authorized_user_info
    assert {"client_id", "client_secret", "refresh_token", "token", "token_uri"} <= \
        document["google"].keys()
    assert document["google"]["token_uri"] == f"{google.base}/token"


def test_silent_refresh_with_google_auth(google: IdentityProviders, cache_dir: Path,
                                         browser: Browser, tmp_path: Path) -> None:
    _login(google, cache_dir, browser, tmp_path)
    provider = auth.open_token_cache(GOOGLE_URL, cache_dir)
    first = provider.token()
    assert provider.requests == 0          # the stored token is still good
    second = provider.refresh()
    assert second != first
    assert provider.requests == 1
    assert len(google.grants("refresh_token")) == 1
    assert google.access_tokens[second] > 0
    # The refreshed token was written back for the next process.
    assert auth.open_token_cache(GOOGLE_URL, cache_dir).token() == second


def test_revoked_grant_is_reauthorization(google: IdentityProviders, cache_dir: Path,
                                          browser: Browser, tmp_path: Path) -> None:
    google.expires_in = 120
    _login(google, cache_dir, browser, tmp_path)
    google.revoke_refresh_tokens()
    with pytest.raises(errors.ReauthorizationRequired) as caught:
        auth.open_token_cache(GOOGLE_URL, cache_dir).token()
    assert caught.value.code == "invalid_grant"
    assert caught.value.provider == "google"
    assert caught.value.remedy.endswith(f"Sign in again with: {LOGIN}")
    assert "rt-" not in str(caught.value)


def test_access_denied_in_the_browser(google: IdentityProviders, cache_dir: Path,
                                      browser: Browser, tmp_path: Path) -> None:
    google.authorize_error = {"error": "access_denied"}
    with pytest.raises(errors.ReauthorizationRequired) as caught:
        _login(google, cache_dir, browser, tmp_path)
    assert caught.value.code == "access_denied"
    assert LOGIN in caught.value.remedy
    assert not (cache_dir / "google-gmail-alice@gmail.com.json").exists()


def test_admin_policy_blocks_the_app(google: IdentityProviders, cache_dir: Path,
                                     browser: Browser, tmp_path: Path) -> None:
    google.authorize_error = {"error": "admin_policy_enforced"}
    with pytest.raises(errors.AppBlocked):
        _login(google, cache_dir, browser, tmp_path)


def test_imap_scope_for_a_google_imap_account(google: IdentityProviders, cache_dir: Path,
                                              browser: Browser, tmp_path: Path) -> None:
    secrets_file = google.google_client_secrets(tmp_path / "client_secret.json")
    url = "imaps://alice%40gmail.com@imap.gmail.com"
    provider = auth.login(url, provider="google", client_secrets=secrets_file,
                          ca_file=google.ca_path, cache_dir=cache_dir, prompt=browser,
                          timeout=20)
    query = parse_qs(urlsplit(browser.prompts[0].url).query)
    assert "https://mail.google.com/" in query["scope"][0].split()
    assert provider.path.name == "google-imap-alice@gmail.com.json"
    assert auth.open_token_cache(url, cache_dir, provider="google").token()


def test_google_has_no_device_code_for_gmail(cache_dir: Path) -> None:
    with pytest.raises(errors.ConfigurationError, match="device"):
        auth.login(GOOGLE_URL, client_secrets="x.json", device_code=True, cache_dir=cache_dir)


def test_missing_client_secrets_file(cache_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(errors.ConfigurationError) as caught:
        auth.login(GOOGLE_URL, client_secrets=tmp_path / "nope.json", cache_dir=cache_dir)
    assert "--client-secrets" in caught.value.remedy


def test_nobody_comes_back_from_the_browser(google: IdentityProviders, cache_dir: Path,
                                            tmp_path: Path) -> None:
    secrets_file = google.google_client_secrets(tmp_path / "client_secret.json")
    with pytest.raises(errors.InteractionRequired) as caught:
        auth.login(GOOGLE_URL, client_secrets=secrets_file, ca_file=google.ca_path,
                   cache_dir=cache_dir, prompt=lambda prompt: None, timeout=1)
    assert LOGIN in caught.value.remedy


def test_a_busy_loopback_port(google: IdentityProviders, cache_dir: Path,
                              tmp_path: Path) -> None:
    import socket

    secrets_file = google.google_client_secrets(tmp_path / "client_secret.json")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(errors.ConfigurationError, match="not free"):
            auth.login(GOOGLE_URL, client_secrets=secrets_file, ca_file=google.ca_path,
                       cache_dir=cache_dir, prompt=lambda prompt: None, timeout=5,
                       port=busy.getsockname()[1])


def test_a_redirect_with_a_foreign_state_is_refused(google: IdentityProviders, cache_dir: Path,
                                                    browser: Browser, tmp_path: Path) -> None:
    google.forge_state = True
    with pytest.raises(errors.InteractionRequired) as caught:
        _login(google, cache_dir, browser, tmp_path)
    assert caught.value.code == "mismatching_state"
    assert google.grants("authorization_code") == []
