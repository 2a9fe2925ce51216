"""The fake adapter runs the whole conformance suite."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from inboxlink.testing import FakeMailbox, FakeMailServer, conformance


class FakeFixtures(conformance.MailboxFixtures):
    @pytest.fixture
    def server(self) -> FakeMailServer:
        return FakeMailServer()

    @pytest.fixture
    def mailbox(self, server: FakeMailServer) -> Iterator[FakeMailbox]:
        with FakeMailbox("alice@example.com", server=server) as mailbox:
            yield mailbox

    @pytest.fixture
    def deliver(self, mailbox: FakeMailbox) -> Callable[[bytes], None]:
        def deliver(raw: bytes) -> None:
            mailbox.deliver(raw)

        return deliver

    @pytest.fixture
    def outbox(self, server: FakeMailServer) -> Callable[[], list[bytes]]:
        return lambda: [m.raw for m in server.sent]

    @pytest.fixture
    def reconnect(self, server: FakeMailServer) -> Callable[[], FakeMailbox]:
        return lambda: FakeMailbox("alice@example.com", server=server)


class TestFakeFolders(conformance.FolderTests, FakeFixtures):
    pass


class TestFakeList(conformance.ListTests, FakeFixtures):
    pass


class TestFakeFetch(conformance.FetchTests, FakeFixtures):
    pass


class TestFakeSend(conformance.SendTests, FakeFixtures):
    pass


class TestFakeErrors(conformance.ErrorTests, FakeFixtures):
    pass


class TestFakeAttachments(conformance.AttachmentTests, FakeFixtures):
    pass


class TestFakeSync(conformance.SyncTests, FakeFixtures):
    pass


class TestFakeWatch(conformance.WatchTests, FakeFixtures):
    watch_latency = 1.0


class TestFakeActions(conformance.ActionTests, FakeFixtures):
    pass


class TestFakeSearch(conformance.SearchTests, FakeFixtures):
    pass


class TestFakeReplies(conformance.ReplyTests, FakeFixtures):
    pass


def test_every_conformance_class_is_run() -> None:
    run = {cls.__mro__[1] for cls in (
        TestFakeFolders, TestFakeList, TestFakeFetch, TestFakeSend, TestFakeErrors,
        TestFakeAttachments, TestFakeSync, TestFakeWatch, TestFakeActions, TestFakeSearch,
        TestFakeReplies)}
    assert run == set(conformance.ALL_TESTS)


class ProviderSavesFixtures(FakeFixtures):
    @pytest.fixture
    def server(self) -> FakeMailServer:
        return FakeMailServer(saves_sent_copy=True)


class TestFakeProviderSavesSend(conformance.SendTests, ProviderSavesFixtures):
    pass
