"""Fixtures of the fault-injection suite: real peers and emulators behind a fault proxy."""

from __future__ import annotations

import pytest
from imap.conftest import certs, dovecot, smtp_server  # noqa: F401  (shared real peers)


@pytest.fixture(autouse=True)
def _no_retry_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOXLINK_NO_RETRY_WAIT", "1")
