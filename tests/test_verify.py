"""``verify()``: the default on BaseMailbox reads before it sends, and sends one hidden test."""

from __future__ import annotations

import pytest

from inboxlink import Mailbox, SentCopy, errors
from inboxlink.testing import FakeMailbox, FakeMailServer


def test_verify_reads_then_sends_a_bcc_only_test(fake_mailbox: FakeMailbox) -> None:
    result = fake_mailbox.verify("audit@example.org")
    (sent,) = fake_mailbox.sent
    assert sent.recipients == ("audit@example.org",)
    assert b"audit@example.org" not in sent.raw
    assert sent.email["From"] == "alice@example.com"
    assert sent.email["Subject"] == "inboxlink connection test"
    assert result.sent_copy is SentCopy.SKIPPED


def test_verify_sends_as_another_address(fake_mailbox: FakeMailbox) -> None:
    fake_mailbox.verify("audit@example.org", from_="Sales <sales@example.com>",
                        subject="set-up check")
    (sent,) = fake_mailbox.server.sent
    assert sent.email["From"] == "Sales <sales@example.com>"
    assert sent.email["Subject"] == "set-up check"


@pytest.mark.parametrize("operation", ["folders", "list_messages"])
def test_a_failed_read_stops_verify_before_anything_is_sent(
    fake_mailbox: FakeMailbox, operation: str,
) -> None:
    fake_mailbox.fail_next(operation, errors.ProtocolDisabled(), times=5)
    with pytest.raises(errors.ProtocolDisabled):
        fake_mailbox.verify("audit@example.org")
    assert fake_mailbox.server.sent == []


def test_send_as_denied_is_the_typed_answer(fake_mailbox: FakeMailbox) -> None:
    fake_mailbox.fail_next("send", errors.SendAsDenied())
    with pytest.raises(errors.SendAsDenied):
        fake_mailbox.verify("audit@example.org", from_="ceo@example.com")


def test_a_server_without_sent_folder_fails_verify_typed() -> None:
    mailbox = FakeMailbox("alice@example.com",
                          server=FakeMailServer(folders=[("INBOX", None)]))
    with pytest.raises(errors.FolderNotFound):
        mailbox.verify("audit@example.org")
    assert mailbox.server.sent == []


def test_every_mailbox_is_a_runtime_mailbox(fake_mailbox: FakeMailbox) -> None:
    assert isinstance(fake_mailbox, Mailbox)
    assert fake_mailbox.provider == "fake"
