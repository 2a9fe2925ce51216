"""Fixtures for the Graph adapter tests: a fresh emulator and a mailbox pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from inboxlink.adapters.graph import GraphMailbox, GraphSettings
from inboxlink.retry import RetryPolicy

from .emulator import GraphEmulator


@pytest.fixture(autouse=True)
def _no_retry_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOXLINK_NO_RETRY_WAIT", "1")


@pytest.fixture
def emulator() -> Iterator[GraphEmulator]:
    emu = GraphEmulator().start()
    yield emu
    emu.stop()


def make_mailbox(emu: GraphEmulator, **options: object) -> GraphMailbox:
    settings = {"address": emu.address, "access_token": emu.token, "base_url": emu.base_url,
                "retry": RetryPolicy(max_attempts=3), **options}
    return GraphMailbox(GraphSettings(**settings))  # type: ignore[arg-type]


@pytest.fixture
def mailbox(emulator: GraphEmulator) -> Iterator[GraphMailbox]:
    box = make_mailbox(emulator)
    yield box
    box.close()
