"""pytest plugin (entry point ``pytest11``): the ``fake_mailbox``, ``async_fake_mailbox`` and
``fake_mail_server`` fixtures.

Retry waits are switched off inside these fixtures so an injected ``RateLimited`` does not
slow a test suite down; the retries themselves still happen, as with a real adapter.

While a test uses ``fake_mail_server`` (directly or through ``fake_mailbox``), every
``inboxlink.connect("fake://…")`` without ``server=`` reaches that server — so mailboxes
the code under test opens itself see the test's mail (`use_server`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from inboxlink.testing.fake import FakeMailbox, FakeMailServer
from inboxlink.testing.routing import use_server

if TYPE_CHECKING:
    from inboxlink.aio import AsyncMailbox


@pytest.fixture
def fake_mail_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMailServer]:
    """A fresh in-memory mail server shared by every fake mailbox of the test, including
    those opened with ``inboxlink.connect("fake://…")``."""
    monkeypatch.setenv("INBOXLINK_NO_RETRY_WAIT", "1")
    with use_server(FakeMailServer()) as server:
        yield server


@pytest.fixture
def fake_mailbox(fake_mail_server: FakeMailServer) -> Iterator[FakeMailbox]:
    """A connected `FakeMailbox` for ``alice@example.com`` on ``fake_mail_server``."""
    with FakeMailbox("alice@example.com", server=fake_mail_server) as mailbox:
        yield mailbox


@pytest.fixture
def async_fake_mailbox(fake_mailbox: FakeMailbox) -> AsyncMailbox:
    """The async face (`inboxlink.aio.AsyncMailbox`) of ``fake_mailbox``: the same mailbox,
    so a test can deliver through one and read through the other. Needs anyio."""
    from inboxlink import aio

    return aio.wrap(fake_mailbox)
