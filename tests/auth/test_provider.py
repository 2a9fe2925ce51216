"""The token provider protocol, ``with_fresh_token`` and ``resolve_token_source`` — on their
own and wired into a tiny adapter over the fake (a token expiring mid-session)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inboxlink import auth, errors
from inboxlink.auth import CallableTokenProvider, TokenProvider, with_fresh_token
from inboxlink.testing import FakeMailServer

from .conftest import MS_URL, Browser
from .idp import IdentityProviders
from .tiny_adapter import TinyOAuthMailbox

LOGIN = f"inboxlink login {MS_URL}"


class Counting:
    """A TokenProvider handing out t1, t2, … and counting refreshes."""

    def __init__(self) -> None:
        self.issued = 0
        self.refreshes = 0

    def token(self) -> str:
        return f"t{max(self.issued, 1)}" if self.issued else self._new()

    def refresh(self) -> str:
        self.refreshes += 1
        return self._new()

    def _new(self) -> str:
        self.issued += 1
        return f"t{self.issued}"


def test_a_plain_callable_is_a_token_provider() -> None:
    calls: list[int] = []

    def get() -> str:
        calls.append(1)
        return f"token-{len(calls)}"

    provider = auth.as_token_provider(get)
    assert isinstance(provider, CallableTokenProvider)
    assert isinstance(provider, TokenProvider)
    assert provider.token() == "token-1"
    assert provider.refresh() == "token-2"
    counting = Counting()
    assert auth.as_token_provider(counting) is counting
    with pytest.raises(errors.ConfigurationError):
        auth.as_token_provider("a string")  # type: ignore[arg-type]


@pytest.mark.parametrize("refusal", [errors.InvalidCredentials, errors.ReauthorizationRequired])
def test_with_fresh_token_retries_once_after_a_refused_token(
        refusal: type[errors.InboxLinkError]) -> None:
    provider = Counting()
    seen: list[str] = []

    def call(token: str) -> str:
        seen.append(token)
        if token == "t1":
            raise refusal()
        return "done"

    assert with_fresh_token(provider, call) == "done"
    assert seen == ["t1", "t2"]
    assert provider.refreshes == 1


def test_with_fresh_token_gives_up_after_the_second_refusal() -> None:
    provider = Counting()
    seen: list[str] = []

    def call(token: str) -> None:
        seen.append(token)
        raise errors.InvalidCredentials()

    with pytest.raises(errors.InvalidCredentials):
        with_fresh_token(provider, call)
    assert seen == ["t1", "t2"]


@pytest.mark.parametrize("error", [errors.RateLimited(retry_after=1), errors.TransientError(),
                                   errors.SendOutcomeUnknown(), errors.PermissionDenied()])
def test_with_fresh_token_never_repeats_a_call_for_other_errors(
        error: errors.InboxLinkError) -> None:
    provider = Counting()
    seen: list[str] = []

    def call(token: str) -> None:
        seen.append(token)
        raise error

    with pytest.raises(type(error)):
        with_fresh_token(provider, call)
    assert seen == ["t1"]
    assert provider.refreshes == 0


def test_resolve_token_source_pops_only_its_options(tmp_path: Path) -> None:
    options: dict[str, Any] = {"token_provider": lambda: "x", "retry": None}
    provider = auth.resolve_token_source(MS_URL, options)
    assert provider is not None
    assert provider.token() == "x"
    assert options == {"retry": None}

    options = {"token_cache": tmp_path}
    cached = auth.resolve_token_source(MS_URL, options)
    assert isinstance(cached, auth.CacheTokenProvider)
    assert cached.path == tmp_path / "microsoft-graph-alice@contoso.com.json"
    assert options == {}

    options = {"token_cache": tmp_path / "mine.json", "provider": "microsoft"}
    one_file = auth.resolve_token_source("ews://alice@contoso.com", options)
    assert isinstance(one_file, auth.CacheTokenProvider)
    assert one_file.path == tmp_path / "mine.json"
    assert options == {}

    assert auth.resolve_token_source(MS_URL, {}) is None
    with pytest.raises(errors.ConfigurationError):
        auth.resolve_token_source(MS_URL, {"token_provider": lambda: "x",
                                           "token_cache": tmp_path})


def _tiny(idp: IdentityProviders, **options: Any) -> TinyOAuthMailbox:
    server = FakeMailServer()
    return TinyOAuthMailbox.from_url(MS_URL, server=server,
                                     resource=f"{idp.base}/resource/me",
                                     ca_file=idp.ca_path, **options)


def _sign_in(idp: IdentityProviders, cache_dir: Path, browser: Browser) -> None:
    auth.login(MS_URL, client_id=idp.client_id, authority_host=idp.base, ca_file=idp.ca_path,
               cache_dir=cache_dir, prompt=browser, timeout=20)


def test_a_token_expiring_mid_session_is_refreshed_and_the_call_retried_once(
        idp: IdentityProviders, cache_dir: Path, browser: Browser) -> None:
    _sign_in(idp, cache_dir, browser)
    mailbox = _tiny(idp, token_cache=cache_dir)
    mailbox.folders()
    mailbox.list_messages("INBOX")
    assert len(set(mailbox.presented)) == 1              # one token, no refresh yet
    assert idp.grants("refresh_token") == []

    idp.expire_access_tokens()                           # mid-session expiry
    mailbox.list_messages("INBOX")                       # transparent
    assert len(mailbox.presented) == 4
    assert mailbox.presented[2] == mailbox.presented[1]  # rejected once…
    assert mailbox.presented[3] != mailbox.presented[2]  # …then retried with a new token
    assert len(idp.grants("refresh_token")) == 1

    mailbox.list_messages("INBOX")                       # the new token is kept in memory
    assert mailbox.presented[4] == mailbox.presented[3]
    assert len(idp.grants("refresh_token")) == 1


def test_a_revoked_sign_in_surfaces_at_the_first_call_with_the_login_command(
        idp: IdentityProviders, cache_dir: Path, browser: Browser) -> None:
    _sign_in(idp, cache_dir, browser)
    mailbox = _tiny(idp, token_cache=cache_dir)          # connecting asks for nothing
    idp.expire_access_tokens()
    idp.revoke_refresh_tokens()
    with pytest.raises(errors.ReauthorizationRequired) as caught:
        mailbox.folders()
    assert caught.value.code == "AADSTS70008"
    assert LOGIN in caught.value.remedy
    assert len(mailbox.presented) == 1                   # tried once, refresh refused


def test_a_plain_function_as_token_provider(idp: IdentityProviders, cache_dir: Path,
                                            browser: Browser) -> None:
    _sign_in(idp, cache_dir, browser)
    cache = auth.open_token_cache(MS_URL, cache_dir)
    mailbox = _tiny(idp, token_provider=cache.token)     # Callable[[], str]
    mailbox.folders()
    assert mailbox.presented == [cache.token()]


def test_importing_inboxlink_auth_loads_no_client_library() -> None:
    import subprocess
    import sys

    code = ("import sys, inboxlink.auth; heavy = {'msal', 'google_auth_oauthlib', 'requests', "
            "'filelock', 'google'} & set(sys.modules); print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parents[2])
    assert out.stdout.strip() == "[]"
