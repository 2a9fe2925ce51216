"""Graph attachment reads: metadata with $select, content from /$value, never the message."""

from __future__ import annotations

import io
import pathlib

import pytest

from inboxlink import errors
from inboxlink.adapters.graph import GraphMailbox
from inboxlink.testing.conformance import make_attachment_message, make_nested_attachment_message
from inboxlink.testing.conformance._core import (
    NESTED_ATTACHMENTS,
    make_single_part_attachment_message,
    nested_attachment_payloads,
)

from .emulator import GraphEmulator

ATTACHMENTS = r"/attachments$"
VALUE = r"/attachments/[^/]+/\$value$"
MESSAGE_VALUE = r"/messages/[^/]+/\$value$"


def test_listing_is_one_request_for_metadata_only(emulator: GraphEmulator,
                                                  mailbox: GraphMailbox) -> None:
    mid = emulator.deliver(make_attachment_message())
    before = len(emulator.requests)
    found = mailbox.list_attachments(mid)
    assert [r.path for r in emulator.requests[before:]] == [f"/v1.0/me/messages/{mid}/attachments"]
    (request,) = emulator.requests[before:]
    assert request.query["$select"] == ["id,name,contentType,size,isInline,contentId"]
    assert len(found) == 2
    assert emulator.count(path=MESSAGE_VALUE) == 0


def test_saving_reads_only_the_attachment_value(emulator: GraphEmulator,
                                                mailbox: GraphMailbox,
                                                tmp_path: pathlib.Path) -> None:
    mid = emulator.deliver(make_attachment_message())
    pdf = next(i for i in mailbox.list_attachments(mid) if i.content_type == "application/pdf")
    before = len(emulator.requests)
    written = mailbox.save_attachment(mid, pdf.part, tmp_path / "x.pdf")
    assert [r.path for r in emulator.requests[before:]] == [
        f"/v1.0/me/messages/{mid}/attachments/{pdf.part}/$value"]
    assert written == (tmp_path / "x.pdf").stat().st_size == pdf.size


def test_part_ids_are_stable_across_listings(emulator: GraphEmulator,
                                             mailbox: GraphMailbox) -> None:
    mid = emulator.deliver(make_attachment_message())
    assert mailbox.list_attachments(mid) == mailbox.list_attachments(mid)


@pytest.mark.parametrize(("part", "code"), [
    ("bm90LWFuLWF0dGFjaG1lbnQ=", "ErrorInvalidIdMalformed"),  # not an id this store issued
])
def test_malformed_part_is_not_found(emulator: GraphEmulator, mailbox: GraphMailbox,
                                     part: str, code: str) -> None:
    mid = emulator.deliver(make_attachment_message())
    with pytest.raises(errors.NotFound) as info:
        mailbox.save_attachment(mid, part, io.BytesIO())
    assert info.value.code == "attachment-not-found"
    assert info.value.remedy


def test_another_messages_part_is_not_found(emulator: GraphEmulator,
                                            mailbox: GraphMailbox) -> None:
    first = emulator.deliver(make_attachment_message(1))
    second = emulator.deliver(make_attachment_message(2))
    foreign = mailbox.list_attachments(first)[0].part
    with pytest.raises(errors.NotFound):
        mailbox.save_attachment(second, foreign, io.BytesIO())


def test_missing_message_is_message_not_found(emulator: GraphEmulator,
                                              mailbox: GraphMailbox) -> None:
    with pytest.raises(errors.MessageNotFound):
        mailbox.list_attachments("AAMkAGI2TG93AAAgone")


def test_reference_attachment_value_is_unsupported(emulator: GraphEmulator,
                                                   mailbox: GraphMailbox) -> None:
    # Graph answers 405 to $value of a link to a cloud file (documented for attachment-get).
    mid = emulator.deliver(make_attachment_message())
    part = mailbox.list_attachments(mid)[0].part
    emulator.fail(405, "ErrorInvalidRequest", "The OData request is not supported.",
                  path=VALUE)
    with pytest.raises(errors.UnsupportedOperation) as info:
        mailbox.save_attachment(mid, part, io.BytesIO())
    assert info.value.code == "referenceAttachment"


def test_reference_attachments_are_not_listed() -> None:
    from inboxlink.adapters.graph.attachments import info_from_json

    reference = {"@odata.type": "#microsoft.graph.referenceAttachment", "id": "AAMk=",
                 "name": "Budget.xlsx", "contentType": None, "size": 382, "isInline": False}
    item = {"@odata.type": "#microsoft.graph.itemAttachment", "id": "AAMl=",
            "name": "Fwd: offer", "contentType": None, "size": 9000, "isInline": False}
    assert info_from_json(reference) is None
    described = info_from_json(item)
    assert described is not None
    assert described.content_type == "message/rfc822"


def test_throttled_save_to_a_path_is_retried_into_a_fresh_file(
        emulator: GraphEmulator, mailbox: GraphMailbox, tmp_path: pathlib.Path) -> None:
    mid = emulator.deliver(make_attachment_message())
    image = next(i for i in mailbox.list_attachments(mid) if i.inline)
    emulator.fail(429, "ApplicationThrottled", "Too many requests.", path=VALUE,
                  headers={"Retry-After": "0"})
    target = tmp_path / "logo.png"
    assert mailbox.save_attachment(mid, image.part, target) == target.stat().st_size
    assert emulator.count(path=VALUE) == 2


def test_nested_attachments_are_the_same_on_every_adapter(emulator: GraphEmulator,
                                                          mailbox: GraphMailbox) -> None:
    mid = emulator.deliver(make_nested_attachment_message())
    found = mailbox.list_attachments(mid)
    assert tuple((i.filename, i.content_type, i.inline, i.content_id)
                 for i in found) == NESTED_ATTACHMENTS
    payloads = nested_attachment_payloads()
    saved = {}
    for described in found:
        buffer = io.BytesIO()
        mailbox.save_attachment(mid, described.part, buffer)
        saved[described.filename or "image"] = buffer.getvalue()
    assert b"<conformance5@example.net>" in saved.pop("forwarded.eml")
    assert saved == payloads


def test_a_message_that_is_one_named_file_lists_it(emulator: GraphEmulator,
                                                   mailbox: GraphMailbox) -> None:
    raw, payload = make_single_part_attachment_message()
    mid = emulator.deliver(raw)
    (found,) = mailbox.list_attachments(mid)
    assert (found.filename, found.content_type) == ("scan.pdf", "application/pdf")
    buffer = io.BytesIO()
    mailbox.save_attachment(mid, found.part, buffer)
    assert buffer.getvalue() == payload
