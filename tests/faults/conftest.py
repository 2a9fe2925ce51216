"""Fixtures of the fault-injection suite: real peers and emulators behind a fault proxy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from imap.conftest import certs, dovecot, smtp_server  # noqa: F401  (shared real peers)
from imap.helpers import Certs
from imap.smtp_peer import SmtpServer


@pytest.fixture
def smtp(certs: Certs) -> Iterator[SmtpServer]:  # noqa: F811  (certs is the shared fixture)
    """An SMTP server of the test's own: its deliveries are counted per test."""
    server = SmtpServer(certs.server_context())
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _no_retry_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOXLINK_NO_RETRY_WAIT", "1")
