"""The shared conformance suite against the EWS emulator, through unmodified exchangelib."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from inboxlink.adapters.ews import EwsMailbox, EwsSettings
from inboxlink.testing import conformance

from .conftest import ADDRESS, PASSWORD
from .emulator import EwsEmulator


class EwsFixtures(conformance.MailboxFixtures):
    @pytest.fixture
    def mailbox(self, emulator: EwsEmulator) -> Iterator[EwsMailbox]:
        with EwsMailbox(EwsSettings(address=ADDRESS, url=emulator.ews_url,
                                    password=PASSWORD)) as mailbox:
            yield mailbox

    @pytest.fixture
    def deliver(self, emulator: EwsEmulator) -> Callable[[bytes], None]:
        def deliver(raw: bytes) -> None:
            emulator.deliver(ADDRESS, raw)

        return deliver

    @pytest.fixture
    def outbox(self, emulator: EwsEmulator) -> Callable[[], list[bytes]]:
        return emulator.sent_raw

    @pytest.fixture
    def reconnect(self, emulator: EwsEmulator) -> Callable[[], EwsMailbox]:
        return lambda: EwsMailbox(EwsSettings(address=ADDRESS, url=emulator.ews_url,
                                              password=PASSWORD))


class TestEwsFolders(conformance.FolderTests, EwsFixtures):
    pass


class TestEwsList(conformance.ListTests, EwsFixtures):
    pass


class TestEwsFetch(conformance.FetchTests, EwsFixtures):
    pass


class TestEwsSend(conformance.SendTests, EwsFixtures):
    pass


class TestEwsErrors(conformance.ErrorTests, EwsFixtures):
    pass


class TestEwsAttachments(conformance.AttachmentTests, EwsFixtures):
    pass


class TestEwsSync(conformance.SyncTests, EwsFixtures):
    pass


class TestEwsWatch(conformance.WatchTests, EwsFixtures):
    #: streaming notifications: the emulator pushes a change within ~20 ms (2 s leaves room
    #: for a loaded test machine; polling would need the PollPolicy interval)
    watch_latency = 2.0


class TestEwsActions(conformance.ActionTests, EwsFixtures):
    pass


class TestEwsSearch(conformance.SearchTests, EwsFixtures):
    pass


class TestEwsReplies(conformance.ReplyTests, EwsFixtures):
    pass


def test_every_conformance_class_runs() -> None:
    used = {base for cls in globals().values() if isinstance(cls, type)
            for base in cls.__mro__}
    assert set(conformance.ALL_TESTS) <= used
