"""Fixtures for the EWS adapter tests: an emulator per test, on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from inboxlink.retry import RetryPolicy

from .emulator import EwsEmulator

ADDRESS = "alice@example.com"
PASSWORD = "s3cret-Pa55"


@pytest.fixture(autouse=True)
def _no_retry_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOXLINK_NO_RETRY_WAIT", "1")


@pytest.fixture
def emulator() -> Iterator[EwsEmulator]:
    server = EwsEmulator()
    server.start()
    server.add_user(ADDRESS, PASSWORD, logins=["CORP\\alice", "alice@corp.example.com"])
    yield server
    server.stop()


@pytest.fixture
def connect(emulator: EwsEmulator) -> Iterator[Callable[..., object]]:
    """connect(**options) → an EwsMailbox on the emulator (closed after the test)."""
    from inboxlink.adapters.ews import EwsMailbox, EwsSettings

    opened: list[EwsMailbox] = []

    def make(**options: object) -> EwsMailbox:
        values: dict[str, object] = {"address": ADDRESS, "url": emulator.ews_url,
                                     "password": PASSWORD,
                                     "retry": RetryPolicy(max_attempts=1)}
        values.update(options)
        mailbox = EwsMailbox(EwsSettings(**values))  # type: ignore[arg-type]
        opened.append(mailbox)
        return mailbox

    yield make
    for mailbox in opened:
        mailbox.close()
