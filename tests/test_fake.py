"""The fake's own helpers: shared server, delivery, injected errors, offline, Sent copies."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

import inboxlink
from inboxlink import FolderRole, OutgoingMessage, errors
from inboxlink.testing import FakeMailbox, FakeMailServer
from inboxlink.testing.conformance import make_message


def test_two_clients_share_one_server_and_mail_flows_between_accounts(
    fake_mail_server: FakeMailServer,
) -> None:
    alice = FakeMailbox("alice@example.com", server=fake_mail_server)
    bob = FakeMailbox("bob@example.com", server=fake_mail_server)
    result = alice.send(OutgoingMessage(to=["bob@example.com"], subject="Lunch?", text="12:30"))
    (incoming,) = bob.list_messages().items
    assert incoming.message_id == result.message_id
    reply = bob.send(bob.fetch(incoming.id).reply(text="Yes"))
    (answer,) = alice.list_messages().items
    assert answer.in_reply_to == result.message_id
    assert answer.message_id == reply.message_id
    assert [m.raw for m in alice.sent] == [result.raw]
    assert len(fake_mail_server.sent) == 2


def test_fail_next_injects_typed_errors_once(fake_mailbox: FakeMailbox) -> None:
    fake_mailbox.fail_next("send", errors.SendAsDenied(), times=2)
    message = OutgoingMessage(to=["carol@example.org"], subject="x", text="y")
    for _ in range(2):
        with pytest.raises(errors.SendAsDenied):
            fake_mailbox.send(message)
    assert fake_mailbox.sent == []
    fake_mailbox.send(message)
    assert len(fake_mailbox.sent) == 1


def test_injected_rate_limit_is_retried_like_a_real_adapter(fake_mailbox: FakeMailbox) -> None:
    fake_mailbox.deliver(make_message(1))
    fake_mailbox.fail_next("list_messages", errors.RateLimited(retry_after=30))
    assert len(fake_mailbox.list_messages().items) == 1
    fake_mailbox.fail_next("list_messages", errors.RateLimited(retry_after=1), times=10)
    with pytest.raises(errors.RateLimited):
        fake_mailbox.list_messages()


def test_fail_next_rejects_unknown_operations(fake_mailbox: FakeMailbox) -> None:
    with pytest.raises(ValueError, match="unknown operation"):
        fake_mailbox.fail_next("sned", errors.TransientError())


def test_failed_sent_copy_is_reported_not_raised(fake_mailbox: FakeMailbox) -> None:
    fake_mailbox.fail_next("append_to_sent", errors.QuotaExceeded(), times=10)
    result = fake_mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="x", text="y"))
    assert result.failed
    assert isinstance(result.error, errors.SentCopyFailed)
    assert isinstance(result.error.__cause__, errors.QuotaExceeded)
    assert result.error.raw == result.raw
    assert len(fake_mailbox.sent) == 1, "the send itself happened exactly once"
    assert fake_mailbox.list_messages(FolderRole.SENT).items == ()
    fake_mailbox.server._failures.clear()
    fake_mailbox.append_to_sent(result.error.raw)
    (copy,) = fake_mailbox.list_messages(FolderRole.SENT).items
    assert copy.message_id == result.message_id


def test_save_copy_false_is_reported_as_skipped(fake_mailbox: FakeMailbox) -> None:
    result = fake_mailbox.send(OutgoingMessage(to=["c@example.org"], subject="x", text="y"),
                               save_copy=False)
    assert result.skipped
    assert fake_mailbox.list_messages(FolderRole.SENT).items == ()


def test_offline_server_raises_server_unreachable(fake_mail_server: FakeMailServer) -> None:
    mailbox = FakeMailbox(server=fake_mail_server)
    fake_mail_server.offline = True
    with pytest.raises(errors.ServerUnreachable) as info:
        mailbox.folders(refresh=True)
    assert "firewall" in info.value.remedy
    with pytest.raises(errors.ServerUnreachable):
        FakeMailbox("zed@example.com", server=fake_mail_server)


def test_uidvalidity_change_expires_cursors(fake_mailbox: FakeMailbox) -> None:
    for n in range(3):
        fake_mailbox.deliver(make_message(n))
    page = fake_mailbox.list_messages(limit=1)
    assert page.next_cursor
    fake_mailbox.server.reset_uidvalidity(fake_mailbox.address, "INBOX")
    with pytest.raises(errors.CursorExpired):
        fake_mailbox.list_messages(limit=1, cursor=page.next_cursor)


def test_deliver_accepts_email_message_and_flags(fake_mailbox: FakeMailbox) -> None:
    msg = EmailMessage()
    msg["From"] = "x@example.org"
    msg["To"] = fake_mailbox.address
    msg["Subject"] = "flagged"
    msg.set_content("x")
    fake_mailbox.deliver(msg, flags=["\\Seen", "\\Flagged"])
    (summary,) = fake_mailbox.list_messages().items
    assert summary.seen
    assert "\\Flagged" in summary.flags


def test_sent_folder_override_is_used_for_the_copy(fake_mail_server: FakeMailServer) -> None:
    fake_mail_server.add_folder("alice@example.com", "Outbox archive")
    mailbox = inboxlink.connect("fake://alice@example.com", server=fake_mail_server,
                                sent_folder="Outbox archive")
    result = mailbox.send(OutgoingMessage(to=["c@example.org"], subject="x", text="y"))
    assert result.sent_folder_id == "Outbox archive"
    assert mailbox.folder(FolderRole.SENT).role_source is inboxlink.RoleSource.OVERRIDE


def test_closed_mailbox_raises(fake_mailbox: FakeMailbox) -> None:
    fake_mailbox.close()
    with pytest.raises(errors.ConnectionLost):
        fake_mailbox.folders(refresh=True)


def test_too_large_message_is_refused(fake_mail_server: FakeMailServer) -> None:
    fake_mail_server.max_message_size = 1000
    mailbox = FakeMailbox(server=fake_mail_server)
    with pytest.raises(errors.MessageTooLarge) as caught:
        mailbox.send(OutgoingMessage(to=["c@example.org"], subject="x", text="y" * 2000))
    assert mailbox.sent == []
    assert caught.value.limit == 1000
    assert caught.value.size is not None
    assert caught.value.size > 2000
