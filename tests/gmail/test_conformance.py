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
