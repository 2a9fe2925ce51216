"""The whole conformance suite through the async face of the fake, both inline (the fake's
native async) and through worker threads (what IMAP/EWS/Gmail use)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from inboxlink import aio
from inboxlink.aio.threaded import ThreadedAsyncMailbox
from inboxlink.testing import FakeMailbox, FakeMailServer, conformance
from inboxlink.testing.conformance.aio import BlockingMailbox, blocking


class AsyncFakeFixtures(conformance.MailboxFixtures):
    inline = True

    @pytest.fixture
    def server(self) -> FakeMailServer:
        return FakeMailServer()

    @pytest.fixture
    def mailbox(self, server: FakeMailServer) -> Iterator[BlockingMailbox]:
        sync = FakeMailbox("alice@example.com", server=server)
        with blocking(ThreadedAsyncMailbox(sync, inline=self.inline)) as mailbox:
            yield mailbox

    @pytest.fixture
    def deliver(self, server: FakeMailServer) -> Callable[[bytes], None]:
        def deliver(raw: bytes) -> None:
            server.deliver(raw, to="alice@example.com")

        return deliver

    @pytest.fixture
    def outbox(self, server: FakeMailServer) -> Callable[[], list[bytes]]:
        return lambda: [m.raw for m in server.sent]

    @pytest.fixture
    def reconnect(self, server: FakeMailServer) -> Callable[[], Any]:
        return lambda: blocking(aio.wrap(FakeMailbox("alice@example.com", server=server)))


class ThreadedFakeFixtures(AsyncFakeFixtures):
    inline = False


def _classes(fixtures: type, prefix: str) -> list[type]:
    made = []
    for mixin in conformance.ALL_TESTS:
        name = f"Test{prefix}{mixin.__name__.removesuffix('Tests')}"
        made.append(type(name, (mixin, fixtures), {"watch_latency": 2.0}))
    return made


for _cls in (*_classes(AsyncFakeFixtures, "AsyncFake"),
             *_classes(ThreadedFakeFixtures, "ThreadedFake")):
    globals()[_cls.__name__] = _cls
