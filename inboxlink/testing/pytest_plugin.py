"""pytest plugin (entry point ``pytest11``): the ``fake_mailbox`` and ``fake_mail_server`` fixtures.

Retry waits are switched off inside these fixtures so an injected ``RateLimited`` does not
slow a test suite down; the retries themselves still happen, as with a real adapter.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from inboxlink.testing.fake import FakeMailbox, FakeMailServer


@pytest.fixture
def fake_mail_server(monkeypatch: pytest.MonkeyPatch) -> FakeMailServer:
    """A fresh in-memory mail server shared by every fake mailbox of the test."""
    monkeypatch.setenv("INBOXLINK_NO_RETRY_WAIT", "1")
    return FakeMailServer()


@pytest.fixture
def fake_mailbox(fake_mail_server: FakeMailServer) -> Iterator[FakeMailbox]:
    """A connected :class:`FakeMailbox` for ``alice@example.com`` on ``fake_mail_server``."""
    with FakeMailbox("alice@example.com", server=fake_mail_server) as mailbox:
        yield mailbox
