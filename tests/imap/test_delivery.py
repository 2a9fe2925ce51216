"""Mail really travelling: aiosmtpd delivers into Dovecot, so a reply can be matched."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from inboxlink.adapters.imap import ImapMailbox
from inboxlink.models import FolderRole, OutgoingMessage

from .dovecot import Dovecot
from .helpers import Certs, settings_for
from .smtp_peer import SmtpServer


@pytest.fixture
def relay(certs: Certs, dovecot: Dovecot) -> Iterator[SmtpServer]:
    """An SMTP server that delivers every message into the recipients' Dovecot INBOX."""
    server = SmtpServer(certs.server_context())
    server.on_message = lambda rcpts, raw: [dovecot.deliver(r, raw) for r in rcpts]
    yield server
    server.stop()


def test_reply_is_matched_by_message_id(dovecot: Dovecot, relay: SmtpServer,
                                        certs: Certs) -> None:
    alice, bob = dovecot.new_user(), dovecot.new_user()
    with ImapMailbox(settings_for(dovecot, alice, certs, relay)) as a, \
            ImapMailbox(settings_for(dovecot, bob, certs, relay)) as b:
        sent = a.send(OutgoingMessage(to=[bob], subject="Proposal", text="Interested?"))
        (incoming,) = b.list_messages(FolderRole.INBOX).items
        assert incoming.message_id == sent.message_id
        original = b.fetch(incoming.id)
        b.send(original.reply(text="Yes!"))
        (reply,) = a.list_messages(FolderRole.INBOX).items
        assert reply.in_reply_to == sent.message_id
        assert sent.message_id in reply.references
        assert reply.subject == "Re: Proposal"
        assert [s.message_id for s in a.iter_messages(FolderRole.SENT)] == [sent.message_id]
