"""Gmail attachment reads: the part tree for the list, attachments.get for the content."""

from __future__ import annotations

import io
import pathlib
from email.message import EmailMessage

import pytest

from inboxlink import errors
from inboxlink.adapters.gmail import GmailMailbox
from inboxlink.testing.conformance import make_attachment_message, make_nested_attachment_message
from inboxlink.testing.conformance._core import (
    NESTED_ATTACHMENTS,
    attachment_payloads,
    make_single_part_attachment_message,
    nested_attachment_payloads,
)

from .bodies import GMAIL
from .emulator import GmailEmulator
from .support import make_mailbox


@pytest.fixture
def mailbox(emulator: GmailEmulator) -> GmailMailbox:
    return make_mailbox(emulator)


def test_listing_is_one_full_get_with_the_payload_only(emulator: GmailEmulator,
                                                       mailbox: GmailMailbox) -> None:
    mid = emulator.deliver(make_attachment_message())
    before = len(emulator.targets)
    found = mailbox.list_attachments(mid)
    (target,) = emulator.targets[before:]
    assert f"/messages/{mid}?" in target
    assert "format=full" in target
    assert "fields=payload" in target
    assert [i.part for i in found] == ["1", "2"]
    assert [i.size for i in found] == [len(p) for p in attachment_payloads()]


def test_saving_is_two_requests_and_never_the_raw_message(emulator: GmailEmulator,
                                                          mailbox: GmailMailbox,
                                                          tmp_path: pathlib.Path) -> None:
    mid = emulator.deliver(make_attachment_message())
    (pdf, _) = mailbox.list_attachments(mid)
    before = len(emulator.calls)
    written = mailbox.save_attachment(mid, pdf.part, tmp_path / "x.pdf")
    assert emulator.calls[before:] == ["messages.get", "messages.attachments.get"]
    assert not any("format=raw" in t for t in emulator.targets)
    assert written == len(attachment_payloads()[0])
    assert (tmp_path / "x.pdf").read_bytes() == attachment_payloads()[0]
    assert mailbox.units_spent >= 15


def test_part_is_stable_though_attachment_ids_change(emulator: GmailEmulator,
                                                     mailbox: GmailMailbox) -> None:
    mid = emulator.deliver(make_attachment_message())
    first = mailbox.list_attachments(mid)
    issued = len(emulator.parts.issued)
    assert mailbox.list_attachments(mid) == first
    assert len(emulator.parts.issued) == 2 * issued  # Gmail hands out new ids every read
    buffer = io.BytesIO()
    mailbox.save_attachment(mid, first[1].part, buffer)
    assert buffer.getvalue() == attachment_payloads()[1]


@pytest.mark.parametrize("part", ["0", "9", "1.4", "", "nonsense"])
def test_unknown_part_is_not_found_without_a_content_request(
        emulator: GmailEmulator, mailbox: GmailMailbox, part: str) -> None:
    mid = emulator.deliver(make_attachment_message())
    with pytest.raises(errors.NotFound) as info:
        mailbox.save_attachment(mid, part, io.BytesIO())
    assert info.value.code == "attachment-not-found"
    assert "messages.attachments.get" not in emulator.calls


def test_attachment_gone_between_the_two_reads_is_not_found(
        emulator: GmailEmulator, mailbox: GmailMailbox) -> None:
    mid = emulator.deliver(make_attachment_message())
    emulator.fail("messages.attachments.get", *GMAIL["gmail.not_found"])
    with pytest.raises(errors.NotFound) as info:
        mailbox.save_attachment(mid, "1", io.BytesIO())
    assert info.value.code == "attachment-not-found"


def test_missing_message_is_message_not_found(emulator: GmailEmulator,
                                              mailbox: GmailMailbox) -> None:
    with pytest.raises(errors.MessageNotFound):
        mailbox.list_attachments("deadbeef")


def test_throttled_attachment_read_is_retried(emulator: GmailEmulator,
                                              mailbox: GmailMailbox) -> None:
    mid = emulator.deliver(make_attachment_message())
    emulator.fail("messages.attachments.get", *GMAIL["gmail.user_rate_limit"])
    buffer = io.BytesIO()
    assert mailbox.save_attachment(mid, "2", buffer) == len(attachment_payloads()[1])
    assert emulator.calls.count("messages.attachments.get") == 2


def test_nested_attachments_are_the_same_on_every_adapter(emulator: GmailEmulator,
                                                          mailbox: GmailMailbox) -> None:
    mid = emulator.deliver(make_nested_attachment_message())
    found = mailbox.list_attachments(mid)
    assert tuple((i.filename, i.content_type, i.inline, i.content_id)
                 for i in found) == NESTED_ATTACHMENTS
    assert [i.part for i in found] == ["0.1.1", "1", "2", "3"]
    saved = {}
    for described in found:
        buffer = io.BytesIO()
        mailbox.save_attachment(mid, described.part, buffer)
        saved[described.filename or "image"] = buffer.getvalue()
    assert b"<conformance5@example.net>" in saved.pop("forwarded.eml")
    assert saved == nested_attachment_payloads()


def test_a_message_that_is_one_named_file_lists_it(emulator: GmailEmulator,
                                                   mailbox: GmailMailbox) -> None:
    raw, payload = make_single_part_attachment_message()
    mid = emulator.deliver(raw)
    (found,) = mailbox.list_attachments(mid)
    assert (found.filename, found.content_type, found.part) == ("scan.pdf", "application/pdf", "root")
    buffer = io.BytesIO()
    mailbox.save_attachment(mid, found.part, buffer)
    assert buffer.getvalue() == payload


def test_an_attachment_inline_in_the_tree_needs_no_second_request(
        emulator: GmailEmulator, mailbox: GmailMailbox) -> None:
    # Gmail sends an unnamed text part (an invitation) as body.data, with no attachmentId.
    invite = EmailMessage()
    invite["From"] = "carol@example.net"
    invite["To"] = "alice@gmail.com"
    invite["Subject"] = "Invitation"
    invite.set_content("You are invited.\n")
    calendar = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"
    invite.add_attachment(calendar.encode(), maintype="text", subtype="calendar",
                          disposition="inline")
    mid = emulator.deliver(invite.as_bytes())
    (found,) = mailbox.list_attachments(mid)
    assert (found.filename, found.content_type) == (None, "text/calendar")
    before = len(emulator.calls)
    buffer = io.BytesIO()
    mailbox.save_attachment(mid, found.part, buffer)
    assert emulator.calls[before:] == ["messages.get"]
    assert buffer.getvalue() == calendar.encode()
