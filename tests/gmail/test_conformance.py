"""The shared conformance suite against the Gmail emulator, through the real client."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from inboxlink.adapters.gmail import GmailMailbox
from inboxlink.testing import conformance

from .emulator import GmailEmulator
from .support import make_mailbox


class GmailFixtures(conformance.MailboxFixtures):
    @pytest.fixture
    def mailbox(self, emulator: GmailEmulator) -> Iterator[GmailMailbox]:
        with make_mailbox(emulator) as mailbox:
            yield mailbox

    @pytest.fixture
    def deliver(self, emulator: GmailEmulator) -> Callable[[bytes], None]:
        def deliver(raw: bytes) -> None:
            emulator.deliver(raw)

        return deliver

    @pytest.fixture
    def outbox(self, emulator: GmailEmulator) -> Callable[[], list[bytes]]:
        return emulator.sent_raw

    @pytest.fixture
    def reconnect(self, emulator: GmailEmulator) -> Callable[[], GmailMailbox]:
        return lambda: make_mailbox(emulator)

    @pytest.fixture
    def large_attachment_size(self) -> int:
        # Gmail's 35 MB counts the message after base64 (4/3 and line breaks): 25 MB of
        # file is about 34.2 MB of message, through the resumable upload.
        return 25_000_000


class TestGmailFolders(conformance.FolderTests, GmailFixtures):
    pass


class TestGmailList(conformance.ListTests, GmailFixtures):
    pass


class TestGmailFetch(conformance.FetchTests, GmailFixtures):
    pass


class TestGmailSend(conformance.SendTests, GmailFixtures):
    # Gmail takes recipients only from the headers, so Bcc is in the raw message it is
    # given; it removes Bcc from what recipients get but keeps it in the sender's own Sent
    # copy (as its web UI shows). The suite allows that for PROVIDER_SAVES_SENT adapters.
    pass


class TestGmailErrors(conformance.ErrorTests, GmailFixtures):
    pass


class TestGmailAttachments(conformance.AttachmentTests, GmailFixtures):
    pass


class TestGmailSync(conformance.SyncTests, GmailFixtures):
    pass


class TestGmailWatch(conformance.WatchTests, GmailFixtures):
    # Polling history.list: the suite's fixture polls every 0.2-1 s, so a delivery is seen
    # within about a second; 5 s leaves room for a loaded CI machine.
    watch_latency = 5.0


class TestGmailActions(conformance.ActionTests, GmailFixtures):
    pass


class TestGmailSearch(conformance.SearchTests, GmailFixtures):
    pass


class TestGmailReplies(conformance.ReplyTests, GmailFixtures):
    pass


def test_every_conformance_class_is_run() -> None:
    run = {cls.__mro__[1] for cls in (
        TestGmailFolders, TestGmailList, TestGmailFetch, TestGmailSend, TestGmailErrors,
        TestGmailAttachments, TestGmailSync, TestGmailWatch, TestGmailActions,
        TestGmailSearch, TestGmailReplies)}
    assert run == set(conformance.ALL_TESTS)
