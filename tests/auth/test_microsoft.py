"""Microsoft sign-in end to end: real msal against the local Entra ID endpoint over TLS."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from inboxlink import auth, errors
from inboxlink.auth.microsoft import MicrosoftAppTokenProvider, MicrosoftSettings

from .conftest import MS_URL, Browser
from .idp import IdentityProviders, entra_error, s256

LOGIN = f"inboxlink login {MS_URL}"


def _login(idp: IdentityProviders, cache_dir: Path, prompt: auth.PromptHandler,
           **options: object) -> auth.CacheTokenProvider:
    return auth.login(MS_URL, client_id=idp.client_id, authority_host=idp.base,
                      ca_file=idp.ca_path, cache_dir=cache_dir, prompt=prompt, timeout=20,
                      **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("tenant", ["organizations", "consumers", "common",
                                    "72f988bf-0000-4000-8000-000000000000"])
def test_browser_sign_in_with_pkce_through_the_loopback_redirect(
        idp: IdentityProviders, cache_dir: Path, browser: Browser, tenant: str) -> None:
    provider = _login(idp, cache_dir, browser, tenant=tenant)

    assert browser.failures == []
    (prompt,) = browser.prompts
    authorize = urlsplit(prompt.url)
    query = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    assert authorize.path == f"/{tenant}/oauth2/v2.0/authorize"
    assert query["code_challenge_method"] == "S256"
    assert query["login_hint"] == "alice@contoso.com"
    assert query["redirect_uri"].startswith("http://localhost:")
    assert set(query["scope"].split()) >= {"https://graph.microsoft.com/Mail.ReadWrite",
                                          "https://graph.microsoft.com/Mail.Send",
                                          "offline_access", "openid", "email"}
    # The browser landed on our loopback listener's page.
    (landed,) = browser.landed
    assert landed.status_code == 200
    assert "Sign-in finished" in landed.text
    # The token request proved possession of the verifier behind the challenge.
    (redeem,) = idp.grants("authorization_code")
    assert s256(redeem["code_verifier"]) == query["code_challenge"]
    assert redeem["redirect_uri"] == query["redirect_uri"]

    # The cache: one private file, valid JSON, msal's cache inside, nothing else of ours.
    path = cache_dir / "microsoft-graph-alice@contoso.com.json"
    assert provider.path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    document = json.loads(path.read_text())
    assert document["provider"] == "microsoft"
    assert document["account"] == "alice@contoso.com"
    assert document["settings"]["tenant"] == tenant
    assert {"AccessToken", "RefreshToken", "Account"} <= document["msal"].keys()
    assert [p for p in os.listdir(cache_dir) if p.endswith(".tmp")] == []

    # A new process (a new provider) uses the stored access token without asking Entra.
    reopened = auth.open_token_cache(MS_URL, cache_dir)
    assert idp.access_tokens.get(reopened.token(), 0) > 0
    assert reopened.requests == 0
    assert idp.grants("refresh_token") == []


def test_silent_refresh_redeems_the_refresh_token_and_saves_the_rotated_one(
        idp: IdentityProviders, cache_dir: Path, browser: Browser) -> None:
    _login(idp, cache_dir, browser)
    provider = auth.open_token_cache(MS_URL, cache_dir)
    first = provider.token()
    second = provider.refresh()

    assert second != first
    assert provider.requests == 1
    assert len(idp.grants("refresh_token")) == 1
    # The new tokens were saved: another provider (process) starts from them, and the
    # rotated refresh token still works for it.
    other = auth.open_token_cache(MS_URL, cache_dir)
    assert other.token() == second
    assert other.requests == 0
    assert other.refresh() not in (first, second)
    assert other.requests == 1
    assert len(idp.grants("refresh_token")) == 2


def test_an_expired_access_token_is_refreshed_by_token(
        idp: IdentityProviders, cache_dir: Path, browser: Browser) -> None:
    idp.expires_in = 120   # inside the renewal margin: every token() must renew
    _login(idp, cache_dir, browser)
    provider = auth.open_token_cache(MS_URL, cache_dir)
    tokens = {provider.token(), provider.token()}
    assert len(tokens) == 2
    assert provider.requests == 2


def test_a_wrong_code_verifier_is_refused(idp: IdentityProviders, cache_dir: Path,
                                          browser: Browser) -> None:
    # The emulator really checks PKCE: a code issued for another challenge is refused.
    idp.codes = _CorruptingDict(s256("some-other-verifier"))
    with pytest.raises(errors.AuthError) as caught:
        _login(idp, cache_dir, browser)
    assert "501481" in str(caught.value.code)
    assert LOGIN in caught.value.remedy
    assert not (cache_dir / "microsoft-graph-alice@contoso.com.json").exists()


class _CorruptingDict(dict[str, dict[str, str]]):
    def __init__(self, challenge: str) -> None:
        super().__init__()
        self.challenge = challenge

    def __setitem__(self, key: str, value: dict[str, str]) -> None:
        super().__setitem__(key, {**value, "challenge": self.challenge})


def test_device_code_polls_through_pending_and_slow_down(
        idp: IdentityProviders, cache_dir: Path) -> None:
    prompts: list[auth.Prompt] = []
    idp.device_script.extend(["authorization_pending", "slow_down"])
    provider = _login(idp, cache_dir, prompts.append, device_code=True)

    (prompt,) = prompts
    assert prompt.kind == "device"
    assert prompt.user_code
    assert prompt.user_code in (prompt.message
                                                                                  or "")
    assert prompt.url == "https://microsoft.com/devicelogin"
    polls = idp.device_polls
    assert len(polls) == 3
    assert polls[1] - polls[0] >= 0.9            # the advertised interval (1 s)
    assert polls[2] - polls[1] >= 5.5            # slow_down: interval + 5 s (RFC 8628 §3.5)
    assert provider.token()


def test_device_code_expired_is_interaction_required(idp: IdentityProviders,
                                                     cache_dir: Path) -> None:
    idp.device_script.append("expired_token")
    with pytest.raises(errors.InteractionRequired) as caught:
        _login(idp, cache_dir, lambda prompt: None, device_code=True)
    assert caught.value.code == "AADSTS70020"
    assert LOGIN in caught.value.remedy


def test_a_revoked_refresh_token_needs_a_new_sign_in(idp: IdentityProviders, cache_dir: Path,
                                                     browser: Browser) -> None:
    _login(idp, cache_dir, browser)
    provider = auth.open_token_cache(MS_URL, cache_dir)   # nothing is asked yet
    provider.token()
    idp.revoke_refresh_tokens()
    # The resource rejected the token (revoked sessions): refresh() must ask Entra.
    with pytest.raises(errors.ReauthorizationRequired) as caught:
        provider.refresh()
    assert caught.value.code == "AADSTS70008"
    assert caught.value.provider == "microsoft"
    assert caught.value.remedy.endswith(f"Sign in again with: {LOGIN}")


def test_password_changed_is_reauthorization(idp: IdentityProviders, cache_dir: Path,
                                             browser: Browser) -> None:
    idp.expires_in = 120   # the stored token is stale: the first token() refreshes
    _login(idp, cache_dir, browser)
    idp.fail_token(entra_error(
        "invalid_grant", 50173, "The provided grant has expired due to it being revoked, a "
        "fresh auth token is needed. The user might have changed or reset their password."))
    with pytest.raises(errors.ReauthorizationRequired) as caught:
        auth.open_token_cache(MS_URL, cache_dir).token()
    assert caught.value.code == "AADSTS50173"
    assert LOGIN in caught.value.remedy


def test_interaction_required_on_refresh(idp: IdentityProviders, cache_dir: Path,
                                         browser: Browser) -> None:
    idp.expires_in = 120   # the stored token is stale: the first token() refreshes
    _login(idp, cache_dir, browser)
    idp.fail_token(entra_error(
        "interaction_required", 50079, "Due to a configuration change made by your "
        "administrator, or because you moved to a new location, you must enroll in "
        "multi-factor authentication.", suberror="basic_action"))
    with pytest.raises(errors.InteractionRequired) as caught:
        auth.open_token_cache(MS_URL, cache_dir).token()
    assert caught.value.code == "AADSTS50079"
    assert LOGIN in caught.value.remedy


def test_missing_consent_carries_the_admin_consent_url(idp: IdentityProviders, cache_dir: Path,
                                                       browser: Browser) -> None:
    idp.expires_in = 120   # the stored token is stale: the first token() refreshes
    _login(idp, cache_dir, browser, tenant="contoso.onmicrosoft.com")
    idp.fail_token(entra_error(
        "invalid_grant", 65001, "The user or administrator has not consented to use the "
        "application with ID '11111111-2222-4333-8444-555555555555' named 'inboxlink'. Send "
        "an interactive authorization request for this user and resource.",
        suberror="consent_required"))
    with pytest.raises(errors.AdminConsentRequired) as caught:
        auth.open_token_cache(MS_URL, cache_dir).token()
    url = caught.value.consent_url or ""
    assert url.startswith(f"{idp.base}/contoso.onmicrosoft.com/v2.0/adminconsent?")
    query = parse_qs(urlsplit(url).query)
    assert query["client_id"] == [idp.client_id]
    assert "https://graph.microsoft.com/Mail.Send" in query["scope"][0].split()
    assert url in caught.value.remedy
    assert LOGIN in caught.value.remedy


def test_consent_declined_in_the_browser(idp: IdentityProviders, cache_dir: Path,
                                         browser: Browser) -> None:
    idp.authorize_error = {
        "error": "access_denied",
        "error_description": "AADSTS65004: User declined to consent to access the app.",
    }
    with pytest.raises(errors.InteractionRequired) as caught:
        _login(idp, cache_dir, browser)
    assert caught.value.code == "AADSTS65004"
    assert LOGIN in caught.value.remedy


def test_no_saved_sign_in(cache_dir: Path) -> None:
    provider = auth.open_token_cache(MS_URL, cache_dir)
    with pytest.raises(errors.ReauthorizationRequired) as caught:
        provider.token()
    assert "no saved sign-in" in caught.value.message.lower()
    assert LOGIN in caught.value.remedy


def test_signing_in_as_someone_else_is_refused(idp: IdentityProviders, cache_dir: Path,
                                               browser: Browser) -> None:
    idp.user = "mallory@contoso.com"
    with pytest.raises(errors.ConfigurationError, match=r"mallory@contoso\.com"):
        _login(idp, cache_dir, browser)
    assert not cache_dir.joinpath("microsoft-graph-alice@contoso.com.json").exists()


def test_app_only_client_credentials(idp: IdentityProviders) -> None:
    settings = MicrosoftSettings(client_id=idp.client_id, tenant="contoso.onmicrosoft.com",
                                 authority_host=idp.base, ca_file=idp.ca_path)
    provider = MicrosoftAppTokenProvider(settings, idp.client_secret)
    first = provider.token()
    assert provider.token() == first          # msal's in-memory app cache
    assert provider.refresh() != first
    grants = idp.grants("client_credentials")
    assert len(grants) == 2
    assert grants[0]["scope"] == "https://graph.microsoft.com/.default"
    assert idp.client_secret not in repr(provider)

    wrong = MicrosoftAppTokenProvider(settings, "not-the-secret")
    with pytest.raises(errors.InvalidCredentials) as caught:
        wrong.token()
    assert caught.value.code == "AADSTS7000215"
    assert "not-the-secret" not in str(caught.value) + repr(caught.value)


def test_public_client_flows_switched_off(idp: IdentityProviders, cache_dir: Path) -> None:
    idp.fail_token(entra_error(
        "invalid_client", 7000218, "The request body must contain the following parameter: "
        "'client_assertion' or 'client_secret'."))
    with pytest.raises(errors.ConfigurationError) as caught:
        _login(idp, cache_dir, lambda prompt: None, device_code=True)
    assert "Allow public client flows" in caught.value.remedy


def test_a_busy_loopback_port(idp: IdentityProviders, cache_dir: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(errors.ConfigurationError, match="not free"):
            _login(idp, cache_dir, lambda prompt: None, port=busy.getsockname()[1])


def test_a_redirect_with_a_foreign_state_is_refused(idp: IdentityProviders, cache_dir: Path,
                                                    browser: Browser) -> None:
    idp.forge_state = True
    with pytest.raises(errors.InteractionRequired) as caught:
        _login(idp, cache_dir, browser)
    assert caught.value.code == "state_mismatch"
    assert idp.grants("authorization_code") == []      # the code was never redeemed


def test_an_unknown_refusal_is_still_a_sign_in_error(idp: IdentityProviders, cache_dir: Path,
                                                     browser: Browser) -> None:
    idp.expires_in = 120
    _login(idp, cache_dir, browser)
    idp.fail_token({"error": "temporarily_weird", "error_description": "Something new."})
    with pytest.raises(errors.AuthError) as caught:
        auth.open_token_cache(MS_URL, cache_dir).token()
    assert caught.value.code == "temporarily_weird"
    assert LOGIN in caught.value.remedy
