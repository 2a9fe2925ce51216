"""The adapter conformance suite: the behaviour every `Mailbox` must show.

Mix the feature classes with a fixtures class of your own that overrides four fixtures::

    from inboxlink.testing import conformance

    class AcmeFixtures(conformance.MailboxFixtures):
        @pytest.fixture
        def mailbox(self):            # a connected mailbox on an EMPTY account
            ...
        @pytest.fixture
        def deliver(self, mailbox):   # callable(raw: bytes) -> None, puts mail in its INBOX
            ...
        @pytest.fixture
        def outbox(self):             # callable() -> list[bytes], what the server sent out
            ...
        @pytest.fixture
        def reconnect(self, mailbox): # callable() -> a NEW mailbox object, same account
            ...

    class TestAcmeFolders(conformance.FolderTests, AcmeFixtures): pass
    class TestAcmeSync(conformance.SyncTests, AcmeFixtures): pass

Features an adapter lacks are declared in ``capabilities``; their tests are skipped with the
reason shown, never passed silently.
"""

from __future__ import annotations

from ._actions import ActionTests, ReplyTests, SearchTests
from ._core import (
    CLOSED_GAPS,
    CURSOR_GAPS,
    ROUND1_TESTS,
    AttachmentTests,
    Deliver,
    ErrorTests,
    FetchTests,
    FolderTests,
    ListTests,
    MailboxFixtures,
    Outbox,
    SendTests,
    known_gap,
    make_attachment_message,
    make_large_attachment_message,
    make_message,
    make_nested_attachment_message,
    require,
)
from ._sync import SyncTests, WatchTests, drain

#: every feature class; an adapter's test module checks it runs them all
ALL_TESTS = (*ROUND1_TESTS, SyncTests, WatchTests, ActionTests, SearchTests, ReplyTests)

__all__ = [
    "ALL_TESTS",
    "CLOSED_GAPS",
    "CURSOR_GAPS",
    "ActionTests",
    "AttachmentTests",
    "Deliver",
    "ErrorTests",
    "FetchTests",
    "FolderTests",
    "ListTests",
    "MailboxFixtures",
    "Outbox",
    "ReplyTests",
    "SearchTests",
    "SendTests",
    "SyncTests",
    "WatchTests",
    "drain",
    "known_gap",
    "make_attachment_message",
    "make_large_attachment_message",
    "make_message",
    "make_nested_attachment_message",
    "require",
]
