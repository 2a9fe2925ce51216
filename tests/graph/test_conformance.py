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
        # Every request the SDK made carried the static bearer token.
        assert all(r.headers.get("authorization") == f"Bearer {emulator.token}"
                   for r in emulator.requests if not r.in_batch)

    @pytest.fixture
    def deliver(self, emulator: GraphEmulator) -> Callable[[bytes], None]:
        def deliver(raw: bytes) -> None:
            emulator.deliver(raw)

        return deliver

    @pytest.fixture
    def outbox(self, emulator: GraphEmulator) -> Callable[[], list[bytes]]:
        return lambda: list(emulator.outbox)


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


def test_every_conformance_class_is_run() -> None:
    mine = {base for cls in (TestGraphFolders, TestGraphList, TestGraphFetch, TestGraphSend,
                             TestGraphErrors, TestGraphAttachments) for base in cls.__mro__}
    assert set(conformance.ALL_TESTS) <= mine
