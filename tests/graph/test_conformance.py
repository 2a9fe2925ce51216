"""The Graph adapter passes the whole conformance suite against the local Graph emulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from inboxlink.adapters.graph import GraphMailbox
from inboxlink.testing import conformance

from .conftest import make_mailbox
from .emulator import GraphEmulator


class GraphFixtures(conformance.MailboxFixtures):
    @pytest.fixture
    def mailbox(self, emulator: GraphEmulator) -> Iterator[GraphMailbox]:
        box = make_mailbox(emulator)
        yield box
        box.close()
        # Every request the SDK made carried the static bearer token; none went to the
        # pre-authenticated upload URLs of attachment upload sessions.
        outer = [r for r in emulator.requests if not r.in_batch]
        assert all(r.headers.get("authorization") == f"Bearer {emulator.token}"
                   for r in outer if not r.path.startswith("/upload/"))
        assert all("authorization" not in r.headers
                   for r in outer if r.path.startswith("/upload/"))

    @pytest.fixture
    def deliver(self, emulator: GraphEmulator) -> Callable[[bytes], None]:
        def deliver(raw: bytes) -> None:
            emulator.deliver(raw)

        return deliver

    @pytest.fixture
    def outbox(self, emulator: GraphEmulator) -> Callable[[], list[bytes]]:
        return lambda: list(emulator.outbox)

    @pytest.fixture
    def reconnect(self, emulator: GraphEmulator) -> Callable[[], GraphMailbox]:
        return lambda: make_mailbox(emulator)


class TestGraphFolders(conformance.FolderTests, GraphFixtures):
    pass


class TestGraphList(conformance.ListTests, GraphFixtures):
    pass


class TestGraphFetch(conformance.FetchTests, GraphFixtures):
    pass


class TestGraphSend(conformance.SendTests, GraphFixtures):
    pass


class TestGraphErrors(conformance.ErrorTests, GraphFixtures):
    pass


class TestGraphAttachments(conformance.AttachmentTests, GraphFixtures):
    pass


class TestGraphSync(conformance.SyncTests, GraphFixtures):
    pass


class TestGraphWatch(conformance.WatchTests, GraphFixtures):
    # Graph cannot push to a process without a public endpoint: watch() polls changes()
    # (one request per poll); the suite's fixture polls every 0.2-1 s.
    watch_latency = 3.0


class TestGraphActions(conformance.ActionTests, GraphFixtures):
    pass


class TestGraphSearch(conformance.SearchTests, GraphFixtures):
    pass


class TestGraphReplies(conformance.ReplyTests, GraphFixtures):
    pass


def test_every_conformance_class_is_run() -> None:
    run = {cls.__mro__[1] for cls in (
        TestGraphFolders, TestGraphList, TestGraphFetch, TestGraphSend, TestGraphErrors,
        TestGraphAttachments, TestGraphSync, TestGraphWatch, TestGraphActions, TestGraphSearch,
        TestGraphReplies)}
    assert run == set(conformance.ALL_TESTS)
