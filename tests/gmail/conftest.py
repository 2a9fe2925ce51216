"""Fixtures for the Gmail adapter tests: a fresh emulator (empty account) per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .emulator import GmailEmulator


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

