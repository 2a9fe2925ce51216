"""Fixtures for the Gmail adapter tests: a fresh emulator (empty account) per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from inboxlink.adapters.gmail import GmailMailbox, GmailSettings
from inboxlink.retry import RetryPolicy
from tests.gmail.emulator import GmailEmulator


@pytest.fixture(autouse=True)
def _no_retry_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOXLINK_NO_RETRY_WAIT", "1")


@pytest.fixture
def emulator() -> Iterator[GmailEmulator]:
    emu = GmailEmulator().start()
    try:
        yield emu
    finally:
        emu.stop()


def make_mailbox(emulator: GmailEmulator, **options: object) -> GmailMailbox:
    settings: dict[str, object] = {
        "address": emulator.address, "access_token": "good-token",
        "api_endpoint": emulator.url, "retry": RetryPolicy(max_attempts=3),
    }
    settings.update(options)
    return GmailMailbox(GmailSettings(**settings))  # type: ignore[arg-type]


@pytest.fixture
def gmail(emulator: GmailEmulator) -> Iterator[GmailMailbox]:
    with make_mailbox(emulator) as mailbox:
        yield mailbox
