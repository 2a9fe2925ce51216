"""``inboxlink login`` / ``logout`` through ``main([...])`` against the local identity providers."""

from __future__ import annotations

import json
import stat
import webbrowser
from pathlib import Path

import pytest

from inboxlink import auth
from inboxlink.cli import main

from .conftest import GOOGLE_URL, MS_URL, Browser, Captured
from .idp import IdentityProviders


def _ms_args(idp: IdentityProviders, cache_dir: Path, *extra: str) -> list[str]:
    return ["login", MS_URL, "--client-id", idp.client_id, "--cache-dir", str(cache_dir),
            "--authority", idp.base, "--ca-file", idp.ca_path, "--timeout", "20", *extra]


def test_login_with_a_device_code(idp: IdentityProviders, cache_dir: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    idp.device_script.append("authorization_pending")
    out = Captured()
    assert main(_ms_args(idp, cache_dir, "--device-code", "--tenant", "consumers"),
                console=out.console) == 0
    stderr = capsys.readouterr().err
    assert "https://microsoft.com/devicelogin" in stderr
    assert idp.device_codes
    assert next(iter(idp.device_codes.values()))["user_code"] in stderr
    assert "signed in as alice@contoso.com" in out.text
    path = cache_dir / "microsoft-graph-alice@contoso.com.json"
    assert str(path) in out.text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["settings"]["tenant"] == "consumers"
    # What connect(url, token_cache=...) will use works without another sign-in.
    assert auth.open_token_cache(MS_URL, cache_dir).token()


def test_login_in_the_browser(idp: IdentityProviders, cache_dir: Path, browser: Browser,
                              monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    opened: list[str] = []

    def open_in_test_browser(url: str, new: int = 0, autoraise: bool = True) -> bool:
        opened.append(url)
        browser(auth.Prompt(kind="browser", url=url))
        return True

    monkeypatch.setattr(webbrowser, "open", open_in_test_browser)
    out = Captured()
    assert main(_ms_args(idp, cache_dir), console=out.console) == 0
    (url,) = opened
    assert url in capsys.readouterr().err          # printed too, for a remote terminal
    assert browser.failures == []
    assert "signed in as alice@contoso.com" in out.text


def test_login_google_and_logout(idp: IdentityProviders, cache_dir: Path, browser: Browser,
                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    idp.user = "alice@gmail.com"
    secrets_file = idp.google_client_secrets(tmp_path / "client_secret.json")
    monkeypatch.setattr(webbrowser, "open",
                        lambda url, new=0, autoraise=True: browser(auth.Prompt("browser", url))
                        or True)
    out = Captured()
    assert main(["login", GOOGLE_URL, "--client-secrets", str(secrets_file), "--cache-dir",
                 str(cache_dir), "--ca-file", idp.ca_path, "--timeout", "20"],
                console=out.console) == 0
    path = cache_dir / "google-gmail-alice@gmail.com.json"
    assert path.exists()

    out = Captured()
    assert main(["logout", GOOGLE_URL, "--cache-dir", str(cache_dir)], console=out.console) == 0
    assert "signed out alice@gmail.com" in out.text
    assert not path.exists()
    out = Captured()
    assert main(["logout", GOOGLE_URL, "--cache-dir", str(cache_dir)], console=out.console) == 0
    assert "no saved sign-in" in out.text


def test_login_errors_are_typed_with_the_command_in_the_remedy(
        idp: IdentityProviders, cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    idp.device_script.append("expired_token")
    out = Captured()
    assert main(_ms_args(idp, cache_dir, "--device-code"), console=out.console) == 1
    # Errors go to stderr (the CLI's rule since the r2-docs merge), not to the console.
    err = capsys.readouterr().err
    assert "InteractionRequired" in err or "sign-in" in err.lower()
    assert f"inboxlink login {MS_URL}" in " ".join(err.split())
    assert not cache_dir.joinpath("microsoft-graph-alice@contoso.com.json").exists()


@pytest.mark.parametrize(("argv", "needle"), [
    (["login", MS_URL], "--client-id"),
    (["login", "imaps://alice%40contoso.com@outlook.office365.com"], "--provider"),
    (["login", GOOGLE_URL], "--client-secrets"),
])
def test_login_usage_mistakes(argv: list[str], needle: str, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("INBOXLINK_CLIENT_ID", raising=False)
    out = Captured()
    assert main([*argv, "--cache-dir", str(tmp_path)], console=out.console) == 1
    assert needle in " ".join(capsys.readouterr().err.split())       # errors: stderr


def test_client_id_from_the_environment(idp: IdentityProviders, cache_dir: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOXLINK_CLIENT_ID", idp.client_id)
    out = Captured()
    assert main(["login", MS_URL, "--device-code", "--cache-dir", str(cache_dir), "--authority",
                 idp.base, "--ca-file", idp.ca_path], console=out.console) == 0
    assert idp.grants("urn:ietf:params:oauth:grant-type:device_code")[0]["client_id"] == \
        idp.client_id


def test_no_browser_prints_the_address_only(idp: IdentityProviders, cache_dir: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open",
                        lambda url, new=0, autoraise=True: opened.append(url) or True)
    out = Captured()
    argv = _ms_args(idp, cache_dir, "--no-browser")
    argv[argv.index("--timeout") + 1] = "1"
    assert main(argv, console=out.console) == 1        # nobody came back within 1 s
    assert opened == []
    err = capsys.readouterr().err                      # the address and the error
    assert "/oauth2/v2.0/authorize?" in err
    assert "did not come back" in " ".join(err.split())
