"""EWS attachment reads: GetItem for the list, a streamed GetAttachment for the content."""

from __future__ import annotations

import io
import pathlib
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest

from inboxlink import errors
from inboxlink.adapters.ews import EwsMailbox
from inboxlink.testing.conformance import (
    make_attachment_message,
    make_message,
    make_nested_attachment_message,
)
from inboxlink.testing.conformance._core import (
    NESTED_ATTACHMENTS,
    attachment_payloads,
    make_single_part_attachment_message,
    nested_attachment_payloads,
)

from .conftest import ADDRESS
from .emulator import EwsEmulator

Connect = Callable[..., Any]


def test_listing_is_one_get_item_without_mime(emulator: EwsEmulator, connect: Connect) -> None:
    mid = emulator.deliver(ADDRESS, make_attachment_message())
    mailbox: EwsMailbox = connect()
    before = len(emulator.requests)
    found = mailbox.list_attachments(mid)
    assert emulator.requests[before:] == ["GetItem"]
    assert [i.size for i in found] == [len(p) for p in attachment_payloads()]
    assert emulator.request_sizes[-1] < 2_000  # asked for item:Attachments only


def test_saving_is_one_get_attachment(emulator: EwsEmulator, connect: Connect,
                                      tmp_path: pathlib.Path) -> None:
    mid = emulator.deliver(ADDRESS, make_attachment_message())
    mailbox: EwsMailbox = connect()
    pdf, _ = mailbox.list_attachments(mid)
    before = len(emulator.requests)
    written = mailbox.save_attachment(mid, pdf.part, tmp_path / "x.pdf")
    assert emulator.requests[before:] == ["GetAttachment"]
    assert written == len(attachment_payloads()[0])
    assert (tmp_path / "x.pdf").read_bytes() == attachment_payloads()[0]


@pytest.mark.parametrize("part", ["99", "bm90LWFuLWlk", "AAAAaW5ib3hsaW5rLWVtdS1hdHQAZ29uZS8w"])
def test_unknown_part_is_not_found(emulator: EwsEmulator, connect: Connect, part: str) -> None:
    mid = emulator.deliver(ADDRESS, make_attachment_message())
    mailbox: EwsMailbox = connect()
    with pytest.raises(errors.NotFound) as info:
        mailbox.save_attachment(mid, part, io.BytesIO())
    assert info.value.code == "attachment-not-found"


def test_missing_message_is_message_not_found(emulator: EwsEmulator, connect: Connect) -> None:
    mailbox: EwsMailbox = connect()
    gone = emulator.deliver(ADDRESS, make_message(1))
    emulator.items.pop(gone)
    with pytest.raises(errors.MessageNotFound):
        mailbox.list_attachments(gone)


def test_attached_message_is_saved_as_its_mime(emulator: EwsEmulator, connect: Connect) -> None:
    inner = BytesParser(policy=policy.default).parsebytes(make_message(7))
    outer = EmailMessage()
    outer["From"] = "bob@example.net"
    outer["To"] = ADDRESS
    outer["Subject"] = "Fwd: message 7"
    outer.set_content("Forwarded.\n")
    outer.add_attachment(inner)
    mid = emulator.deliver(ADDRESS, outer.as_bytes())
    mailbox: EwsMailbox = connect()
    (attached,) = mailbox.list_attachments(mid)
    assert attached.content_type == "message/rfc822"
    buffer = io.BytesIO()
    mailbox.save_attachment(mid, attached.part, buffer)
    assert b"Message-ID: <conformance7@example.net>" in buffer.getvalue()


def test_nested_attachments_are_the_same_on_every_adapter(emulator: EwsEmulator,
                                                          connect: Connect) -> None:
    mid = emulator.deliver(ADDRESS, make_nested_attachment_message())
    mailbox: EwsMailbox = connect()
    found = mailbox.list_attachments(mid)
    assert tuple((i.filename, i.content_type, i.inline, i.content_id)
                 for i in found) == NESTED_ATTACHMENTS
    saved = {}
    for described in found:
        buffer = io.BytesIO()
        mailbox.save_attachment(mid, described.part, buffer)
        saved[described.filename or "image"] = buffer.getvalue()
    assert b"<conformance5@example.net>" in saved.pop("forwarded.eml")
    assert saved == nested_attachment_payloads()


def test_a_message_that_is_one_named_file_lists_it(emulator: EwsEmulator,
                                                   connect: Connect) -> None:
    raw, payload = make_single_part_attachment_message()
    mid = emulator.deliver(ADDRESS, raw)
    mailbox: EwsMailbox = connect()
    (found,) = mailbox.list_attachments(mid)
    assert (found.filename, found.content_type) == ("scan.pdf", "application/pdf")
    buffer = io.BytesIO()
    mailbox.save_attachment(mid, found.part, buffer)
    assert buffer.getvalue() == payload
