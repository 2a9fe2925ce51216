"""The command line and the doctor sign in from the cache ``inboxlink login`` saved, with no
secret and no prompt, against the Graph emulator and the local identity provider."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import inboxlink
from inboxlink import auth
from inboxlink.cli import main

from .conftest import MS_URL, Browser, Captured
from .idp import IdentityProviders

pytest.importorskip("msgraph")

from cli.servers import DnsServer
from graph.emulator import GraphEmulator


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def asked(monkeypatch: pytest.MonkeyPatch, cache_dir: Path) -> list[str]:
    """A person at a terminal (so a prompt would be shown), no secret in the environment,
    and the default cache directory inside the test's own config home."""
    asked: list[str] = []
    monkeypatch.setenv("XDG_CONFIG_HOME", str(cache_dir.parent.parent))
    monkeypatch.setenv("INBOXLINK_NO_RETRY_WAIT", "1")
    monkeypatch.delenv("INBOXLINK_ACCESS_TOKEN", raising=False)
    monkeypatch.delenv("INBOXLINK_PASSWORD", raising=False)
    monkeypatch.setattr("getpass.getpass", lambda prompt: asked.append(prompt) or "typed")
    monkeypatch.setattr("sys.stdin", _Tty())
    return asked


@pytest.fixture
def signed_in(idp: IdentityProviders, cache_dir: Path, browser: Browser) -> Iterator[GraphEmulator]:
    auth.login(MS_URL, client_id=idp.client_id, authority_host=idp.base, ca_file=idp.ca_path,
               prompt=browser, timeout=20)                # the default directory
    assert (cache_dir / "microsoft-graph-alice@contoso.com.json").is_file()
    emulator = GraphEmulator(token=auth.open_token_cache(MS_URL).token()).start()
    yield emulator
    emulator.stop()


def test_ls_uses_the_saved_sign_in_without_a_prompt(
        signed_in: GraphEmulator, cache_dir: Path,
        asked: list[str]) -> None:
    seen: list[dict[str, Any]] = []

    def connect(url: str, **options: Any) -> Any:
        seen.append(dict(options))
        return inboxlink.connect(url, base_url=signed_in.base_url, **options)

    out = Captured()
    assert main(["ls", MS_URL], connect=connect, console=out.console) == 0
    assert asked == []                # nobody was asked
    assert seen == [{"token_cache": cache_dir / "microsoft-graph-alice@contoso.com.json"}]
    assert signed_in.token not in out.text


def test_without_a_saved_sign_in_the_prompt_is_still_there(
        cache_dir: Path, asked: list[str]) -> None:
    seen: list[dict[str, Any]] = []

    def connect(url: str, **options: Any) -> Any:
        seen.append(dict(options))
        raise inboxlink.errors.InvalidCredentials("refused", provider="graph")

    main(["ls", MS_URL], connect=connect, console=Captured().console)
    assert asked == [f"Access token for {MS_URL}: "]
    assert seen == [{"access_token": "typed"}]


def _doctor(emulator_url: str, out: Captured) -> int:
    with DnsServer({("contoso.com", "MX"): ["0 contoso-com.mail.protection.outlook.com."]}
                   ) as dns:
        return main(["doctor", MS_URL, "--api-url", emulator_url, "--timeout", "10"],
                    resolver=dns.resolver(), console=out.console)


def test_the_doctor_signs_in_from_the_cache(
        signed_in: GraphEmulator, asked: list[str]) -> None:
    out = Captured()
    assert _doctor(signed_in.base_url, out) == 0, out.text
    assert "✓ login  signed in as alice@contoso.com (graph)" in out.text
    assert asked == []


def test_the_doctor_without_a_saved_sign_in_says_how_to_sign_in(
        asked: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO())      # nobody to ask
    emulator = GraphEmulator().start()
    try:
        out = Captured()
        _doctor(emulator.base_url, out)
    finally:
        emulator.stop()
    assert f"no saved sign-in for {MS_URL}: run inboxlink login {MS_URL}" in out.text


def test_which_saved_sign_in_a_url_finds(cache_dir: Path) -> None:
    from inboxlink.auth.saved import saved_sign_in

    imap = "imaps://alice%40contoso.com@outlook.office365.com"
    assert saved_sign_in(MS_URL) == {}
    assert saved_sign_in(imap) == {}
    cache_dir.mkdir(parents=True)
    microsoft = cache_dir / "microsoft-imap-alice@contoso.com.json"
    microsoft.write_text("{}")
    assert saved_sign_in(imap) == {"token_cache": microsoft, "provider": "microsoft"}
    assert saved_sign_in(MS_URL) == {}                 # Graph has a file of its own
    # The same address signed in at Google too: ambiguous, so nothing is guessed.
    (cache_dir / "google-imap-alice@contoso.com.json").write_text("{}")
    assert saved_sign_in(imap) == {}
    assert saved_sign_in("fake://alice@example.com") == {}
    assert saved_sign_in("imaps://mail.example.com") == {}   # no account in the URL
