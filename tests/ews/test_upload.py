"""Streamed request bodies (``_upload.py``) through the shim's streamed services: canaries
that fail loudly when exchangelib changes how it serialises the requests we split."""

from __future__ import annotations

import inspect
import io
import os
from collections.abc import Callable
from typing import IO, Any

from exchangelib.attachments import FileAttachment
from exchangelib.properties import ParentItemId
from exchangelib.services import CreateAttachment, SendItem
from exchangelib.services.common import EWSService

from inboxlink.adapters.ews._exchangelib_shim import (
    StreamedCreateAttachment,
    StreamedCreateItem,
)
from inboxlink.adapters.ews._upload import StreamedBody, encoded_size


class _Source:
    filename = "a.bin"
    content_type = "application/octet-stream"
    content_id = None
    inline = False

    def __init__(self, data: bytes) -> None:
        self.data = data

    @property
    def size(self) -> int:
        return len(self.data)

    def open(self) -> IO[bytes]:
        return io.BytesIO(self.data)


def test_the_hooks_overridden_still_exist_with_the_same_signatures() -> None:
    assert list(inspect.signature(EWSService.wrap).parameters) == [
        "self", "content", "api_version"]
    assert list(inspect.signature(EWSService._handle_backoff).parameters) == ["self", "e"]
    assert "_handle_backoff" in inspect.getsource(EWSService._get_elements)
    assert "self.wrap(" in inspect.getsource(EWSService._get_response)
    assert SendItem.SERVICE_NAME == "SendItem"


def test_the_streamed_body_is_byte_for_byte_what_exchangelib_would_send(
        connect: Callable[..., Any]) -> None:
    account = connect().account
    data = os.urandom(3 * 256 * 1024 * 2 + 7)  # several steps and a padded tail
    parent = ParentItemId(id="AAA=", changekey="BBB=")

    def attachment(content: bytes) -> FileAttachment:
        return FileAttachment(name="a.bin", content_type="application/octet-stream",
                              content=content, content_id=None, is_inline=False)

    reference = CreateAttachment(account=account)
    expected = reference.wrap(reference.get_payload(items=[attachment(data)], parent_item=parent),
                              api_version=account.version.api_version)
    placeholder = b"inboxlink-upload-canary"
    source = _Source(data)
    streamed = StreamedCreateAttachment(
        account=account, placeholder=placeholder,
        body=lambda prefix, suffix: StreamedBody(prefix, source.open, source.size, suffix))
    body = streamed.wrap(streamed.get_payload(items=[attachment(placeholder)], parent_item=parent),
                         api_version=account.version.api_version)
    assert isinstance(body, StreamedBody)
    assert len(body) == len(expected)
    assert b"".join(body) == expected
    assert b"".join(body) == expected  # iterable again (a repeated request re-reads the file)
    assert encoded_size(len(data)) < len(body)


def test_a_streamed_create_item_is_byte_for_byte_what_exchangelib_would_send(
        connect: Callable[..., Any]) -> None:
    from exchangelib.items import Message

    from inboxlink.adapters.ews._exchangelib_shim import CreateItem

    account = connect().account
    mime = b"Subject: hi\r\n\r\n" + os.urandom(100_000)
    kwargs = {"folder": None, "message_disposition": "SendOnly",
              "send_meeting_invitations": "SendToNone"}
    reference = CreateItem(account=account)
    expected = reference.wrap(
        reference.get_payload(items=[Message(account=account, mime_content=mime)], **kwargs),
        api_version=account.version.api_version)
    marker = b"inboxlink-upload-canary"
    streamed = StreamedCreateItem(
        account=account, placeholder=marker,
        body=lambda prefix, suffix: StreamedBody(prefix, lambda: io.BytesIO(mime), len(mime),
                                                 suffix))
    body = streamed.wrap(
        streamed.get_payload(items=[Message(account=account, mime_content=marker)], **kwargs),
        api_version=account.version.api_version)
    assert b"".join(body) == expected
