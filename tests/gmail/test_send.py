"""Sending through messages.send, threading replies, Bcc, and append_to_sent via insert."""

from __future__ import annotations

import datetime as dt

import pytest

from inboxlink import errors
from inboxlink.models import FolderRole, OutgoingMessage, SentCopy
from inboxlink.testing.conformance import make_message

from . import bodies
from .emulator import GmailEmulator
from .support import make_mailbox


def test_send_is_saved_by_gmail_once(emulator: GmailEmulator) -> None:
    mailbox = make_mailbox(emulator)
    result = mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="Hi", text="x"))
    assert result.sent_copy is SentCopy.SAVED_BY_PROVIDER
    assert result.provider_id in emulator.messages
    assert emulator.calls.count("messages.send") == 1
    assert "messages.insert" not in emulator.calls
    assert [m.labels for m in emulator.messages.values()] == [["SENT"]]


def test_save_copy_false_is_reported_honestly(emulator: GmailEmulator) -> None:
    result = make_mailbox(emulator).send(
        OutgoingMessage(to=["carol@example.org"], subject="Hi", text="x"), save_copy=False)
    # Gmail files every sent message; claiming "skipped" would be a lie.
    assert result.sent_copy is SentCopy.SAVED_BY_PROVIDER


def test_bcc_is_delivered_and_hidden_from_recipients(emulator: GmailEmulator) -> None:
    mailbox = make_mailbox(emulator)
    result = mailbox.send(OutgoingMessage(to=["carol@example.org"], bcc=["dave@example.org"],
                                          subject="Bcc", text="x"))
    (sent,) = emulator.outbox
    assert sorted(sent.recipients) == ["carol@example.org", "dave@example.org"]
    head = sent.raw.split(b"\r\n\r\n", 1)[0]
    assert b"dave@" not in head
    assert b"dave@" not in result.raw  # what we report as sent is what recipients got


def test_reply_joins_the_thread_of_in_reply_to(emulator: GmailEmulator) -> None:
    original_id = emulator.deliver(make_message(1))
    mailbox = make_mailbox(emulator)
    original = mailbox.fetch(original_id)
    result = mailbox.send(original.reply(text="Thanks!"))
    assert result.thread_id == emulator.messages[original_id].thread_id
    assert emulator.messages[result.provider_id or ""].thread_id == original.thread_id


def test_reply_to_unknown_message_starts_a_thread(emulator: GmailEmulator) -> None:
    mailbox = make_mailbox(emulator)
    result = mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="Re: ?", text="x",
                                          in_reply_to="<nowhere@example.net>"))
    assert result.thread_id == result.provider_id


def test_thread_lookup_failure_does_not_block_the_send(emulator: GmailEmulator) -> None:
    # A token with only gmail.send cannot search; the reply still goes out.
    emulator.fail("messages.list", *bodies.GMAIL["gmail.insufficient_scopes"])
    mailbox = make_mailbox(emulator)
    mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="Re: x", text="x",
                                 in_reply_to="<a@example.net>"))
    assert len(emulator.outbox) == 1


def test_append_to_sent_uses_insert_with_the_date_header(emulator: GmailEmulator) -> None:
    mailbox = make_mailbox(emulator)
    raw = make_message(5, sender=emulator.address, to="carol@example.org")
    copy_id = mailbox.append_to_sent(raw)
    stored = emulator.messages[copy_id or ""]
    assert stored.labels == ["SENT"]
    assert stored.raw == raw
    when = dt.datetime.fromtimestamp(stored.internal_ms / 1000, dt.timezone.utc)
    assert when == dt.datetime(2026, 1, 1, 17, 0, tzinfo=dt.timezone.utc)
    assert emulator.outbox == []
    (summary,) = mailbox.list_messages(FolderRole.SENT).items
    assert summary.seen


def test_send_without_recipients_is_refused_before_the_api(emulator: GmailEmulator) -> None:
    mailbox = make_mailbox(emulator)
    with pytest.raises(errors.InvalidMessage):
        mailbox.send(OutgoingMessage(subject="nobody", text="x"))
    assert "messages.send" not in emulator.calls
