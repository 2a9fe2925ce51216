"""A token cache driving the Graph and Gmail adapters through their existing credential
options, against their emulators: Gmail refreshes on a 401 and repeats the request once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from inboxlink import auth, errors
from inboxlink.retry import RetryPolicy

from .conftest import GOOGLE_URL, MS_URL, Browser
from .idp import IdentityProviders

pytest.importorskip("googleapiclient")
pytest.importorskip("msgraph")

from gmail.emulator import GmailEmulator
from graph.emulator import GraphEmulator


class _LiveTokens(set[str]):
    """The Gmail emulator's accepted tokens: whatever the identity provider says is live."""

    def __init__(self, idp: IdentityProviders) -> None:
        super().__init__()
        self.idp = idp

    def __contains__(self, token: object) -> bool:
        with self.idp.lock:
            return self.idp.access_tokens.get(str(token), 0.0) > time.time()


@pytest.fixture
def gmail(idp: IdentityProviders) -> Iterator[GmailEmulator]:
    emu = GmailEmulator(address="alice@gmail.com").start()
    emu.tokens = _LiveTokens(idp)
    yield emu
    emu.stop()


@pytest.fixture(autouse=True)
def _no_retry_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOXLINK_NO_RETRY_WAIT", "1")


def test_gmail_with_a_token_cache_survives_a_token_expiring_mid_session(
        idp: IdentityProviders, gmail: GmailEmulator, cache_dir: Path, browser: Browser,
        tmp_path: Path) -> None:
    import inboxlink

    idp.user = "alice@gmail.com"
    auth.login(GOOGLE_URL, client_secrets=idp.google_client_secrets(tmp_path / "cs.json"),
               ca_file=idp.ca_path, cache_dir=cache_dir, prompt=browser, timeout=20)
    tokens = auth.open_token_cache(GOOGLE_URL, cache_dir)
    mailbox = inboxlink.connect(GOOGLE_URL, credentials=auth.as_google_credentials(tokens),
                                api_endpoint=gmail.url, retry=RetryPolicy(max_attempts=1))
    with mailbox:
        mailbox.folders()
        assert idp.grants("refresh_token") == []
        idp.expire_access_tokens()                       # mid-session
        calls = len(gmail.calls)
        page = mailbox.list_messages("INBOX")            # 401, refresh, the same call again
        assert list(page.items) == []
        assert len(idp.grants("refresh_token")) == 1
        assert gmail.calls[calls:] == ["messages.list", "messages.list"]

        idp.expire_access_tokens()
        idp.revoke_refresh_tokens()
        with pytest.raises(errors.ReauthorizationRequired) as caught:
            mailbox.list_messages("INBOX")
        assert f"inboxlink login {GOOGLE_URL}" in caught.value.remedy


def test_graph_with_a_token_cache(idp: IdentityProviders, cache_dir: Path,
                                  browser: Browser) -> None:
    import inboxlink

    auth.login(MS_URL, client_id=idp.client_id, authority_host=idp.base, ca_file=idp.ca_path,
               cache_dir=cache_dir, prompt=browser, timeout=20)
    tokens = auth.open_token_cache(MS_URL, cache_dir)
    emu = GraphEmulator(token=tokens.token()).start()   # accepts exactly the cached token
    try:
        mailbox = inboxlink.connect(MS_URL, credential=auth.as_azure_credential(tokens),
                                    base_url=emu.base_url)
        with mailbox:
            assert mailbox.folders()
            assert list(mailbox.list_messages("INBOX").items) == []
        assert idp.grants("refresh_token") == []         # the cached token served every call
        assert tokens.requests == 0
    finally:
        emu.stop()
