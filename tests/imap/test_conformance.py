"""The whole conformance suite against a real Dovecot (IMAP) and aiosmtpd (SMTP)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from inboxlink.adapters.imap import ImapMailbox
from inboxlink.testing import conformance

from .dovecot import Dovecot
from .helpers import Certs, settings_for
from .smtp_peer import SmtpServer


class DovecotFixtures(conformance.MailboxFixtures):
    @pytest.fixture
    def account(self, dovecot: Dovecot) -> str:
        return dovecot.new_user()

    @pytest.fixture
    def mailbox(self, dovecot: Dovecot, smtp_server: SmtpServer, certs: Certs,
                account: str) -> Iterator[ImapMailbox]:
        with ImapMailbox(settings_for(dovecot, account, certs, smtp_server)) as mailbox:
            yield mailbox

    @pytest.fixture
    def deliver(self, dovecot: Dovecot, account: str) -> Callable[[bytes], None]:
        return lambda raw: dovecot.deliver(account, raw)

    @pytest.fixture
    def outbox(self, smtp_server: SmtpServer, account: str) -> Callable[[], list[bytes]]:
        return lambda: smtp_server.messages_for(account)

    @pytest.fixture
    def reconnect(self, dovecot: Dovecot, smtp_server: SmtpServer, certs: Certs,
                  account: str) -> Callable[[], ImapMailbox]:
        return lambda: ImapMailbox(settings_for(dovecot, account, certs, smtp_server))


class TestDovecotFolders(conformance.FolderTests, DovecotFixtures):
    pass


class TestDovecotList(conformance.ListTests, DovecotFixtures):
    pass


class TestDovecotFetch(conformance.FetchTests, DovecotFixtures):
    pass


class TestDovecotSend(conformance.SendTests, DovecotFixtures):
    pass


class TestDovecotErrors(conformance.ErrorTests, DovecotFixtures):
    pass


class TestDovecotAttachments(conformance.AttachmentTests, DovecotFixtures):
    pass


class TestDovecotSync(conformance.SyncTests, DovecotFixtures):
    pass


class TestDovecotWatch(conformance.WatchTests, DovecotFixtures):
    watch_latency = 1.0


class TestDovecotActions(conformance.ActionTests, DovecotFixtures):
    pass


class TestDovecotSearch(conformance.SearchTests, DovecotFixtures):
    pass


class TestDovecotReplies(conformance.ReplyTests, DovecotFixtures):
    pass


class BasicDovecotFixtures(DovecotFixtures):
    """A Dovecot that offers neither CONDSTORE/QRESYNC nor MOVE nor IDLE."""

    @pytest.fixture
    def account(self, dovecot_basic: Dovecot) -> str:
        return dovecot_basic.new_user()

    @pytest.fixture
    def mailbox(self, dovecot_basic: Dovecot, smtp_server: SmtpServer, certs: Certs,
                account: str) -> Iterator[ImapMailbox]:
        with ImapMailbox(settings_for(dovecot_basic, account, certs, smtp_server)) as mailbox:
            assert not {"CONDSTORE", "QRESYNC", "MOVE", "IDLE"} & mailbox.server_capabilities
            yield mailbox

    @pytest.fixture
    def deliver(self, dovecot_basic: Dovecot, account: str) -> Callable[[bytes], None]:
        return lambda raw: dovecot_basic.deliver(account, raw)

    @pytest.fixture
    def reconnect(self, dovecot_basic: Dovecot, smtp_server: SmtpServer, certs: Certs,
                  account: str) -> Callable[[], ImapMailbox]:
        return lambda: ImapMailbox(settings_for(dovecot_basic, account, certs, smtp_server))


class TestBasicDovecotSync(conformance.SyncTests, BasicDovecotFixtures):
    """The UID-set fallback of the change feed."""


class TestBasicDovecotActions(conformance.ActionTests, BasicDovecotFixtures):
    """COPY + \\Deleted + UID EXPUNGE instead of MOVE."""


class TestBasicDovecotWatch(conformance.WatchTests, BasicDovecotFixtures):
    """Polling instead of IDLE."""

    watch_latency = 3.0


def test_every_conformance_class_is_run() -> None:
    run = {cls.__mro__[1] for cls in (TestDovecotFolders, TestDovecotList, TestDovecotFetch,
                                       TestDovecotSend, TestDovecotErrors,
                                       TestDovecotAttachments, TestDovecotSync,
                                       TestDovecotWatch, TestDovecotActions, TestDovecotSearch,
                                       TestDovecotReplies)}
    assert run == set(conformance.ALL_TESTS)
