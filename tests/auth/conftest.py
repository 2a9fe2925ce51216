"""Fixtures: the local identity providers, a private cache directory, a "browser"."""

from __future__ import annotations

import io
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from inboxlink.auth import Prompt

from .idp import IdentityProviders

pytest.importorskip("msal")
pytest.importorskip("google_auth_oauthlib")

MS_URL = "graph://alice@contoso.com"
GOOGLE_URL = "gmail://alice@gmail.com"


@pytest.fixture
def idp(tmp_path: Path) -> Iterator[IdentityProviders]:
    server = IdentityProviders(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "config" / "inboxlink" / "tokens"


class Browser:
    """The user's browser: opens the authorization URL and follows the redirects to the
    loopback listener, in a thread (the flow starts listening after showing the URL)."""

    def __init__(self, ca_path: str) -> None:
        self.ca_path = ca_path
        self.prompts: list[Prompt] = []
        self.landed: list[httpx.Response] = []
        self.failures: list[BaseException] = []

    def __call__(self, prompt: Prompt) -> None:
        self.prompts.append(prompt)
        threading.Thread(target=self._visit, args=(prompt.url,), daemon=True).start()

    def _visit(self, url: str) -> None:
        try:
            trust = ssl.create_default_context(cafile=self.ca_path)
            with httpx.Client(verify=trust, follow_redirects=True, timeout=10) as client:
                self.landed.append(client.get(url))
        except BaseException as exc:  # reported by the test, never swallowed
            self.failures.append(exc)


@pytest.fixture
def browser(idp: IdentityProviders) -> Browser:
    return Browser(idp.ca_path)


class Captured:
    """A wide, colourless rich console whose output the tests read back."""

    def __init__(self) -> None:
        from rich.console import Console

        self.buffer = io.StringIO()
        self.console = Console(file=self.buffer, width=200, color_system=None,
                               force_terminal=False, highlight=False, soft_wrap=True)

    @property
    def text(self) -> str:
        return self.buffer.getvalue()
