"""Attaching a large file to a Graph item through an upload session, in ranged PUTs.

``POST {item}/attachments/createUploadSession`` (through the SDK, with the bearer token) gives
a pre-authenticated ``uploadUrl``; the file goes to it in ``PUT`` requests carrying
``Content-Range: bytes {start}-{end}/{size}``, each at most `GraphSettings.upload_chunk_size`
(a multiple of 320 KiB below Graph's 4 MB request limit), *without* an ``Authorization``
header (Graph refuses one there). Every answer but the last names the next byte it expects
(``NextExpectedRanges``); the last is 201 Created.

A chunk whose answer is lost (connection dropped, timeout) or that the server refuses as a
range mismatch (416) is not guessed at: ``GET uploadUrl`` says where the server stands and
the upload resumes from there, so a byte is neither skipped nor sent twice. Each PUT is its
own call bounded by the mailbox's timeout; the file is read one chunk at a time.

msgraph-core's ``LargeFileUploadTask`` does this job in principle but is not used: it logs
and swallows a failed chunk (the loop carries on and can report a partial file as done),
sends the upload URL through the request adapter (which attaches the bearer token when the
upload host is the API host), needs a ``BytesIO`` or a named file, and parses the session's
``expirationDateTime`` with a format Graph's seven-digit fractions do not match.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import TYPE_CHECKING, Any, BinaryIO

import attrs
import httpx
from kiota_abstractions.method import Method

from inboxlink import errors
from inboxlink.adapters.graph.errors import PROVIDER, ItemFailure

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from inboxlink.adapters.graph.connection import GraphSession
    from inboxlink.adapters.graph.mailbox import GraphMailbox

__all__ = ["CHUNK_UNIT", "UploadFile", "attach", "post"]

log = logging.getLogger("inboxlink.graph")

#: upload chunks are whole multiples of this (Graph's upload-session fragment unit)
CHUNK_UNIT = 320 * 1024
#: bytes read from the file at a time
_PIECE = 64 * 1024
#: resumptions in a row without a byte of progress before the upload gives up
_RESUMES = 3
_DONE = -1


@attrs.frozen
class UploadFile:
    """One file to attach: its ``AttachmentItem`` fields and how to read it."""

    name: str
    size: int
    content_type: str
    is_inline: bool
    content_id: str | None
    open: Callable[[], BinaryIO]

    def item(self) -> dict[str, Any]:
        """The ``AttachmentItem`` of ``createUploadSession``."""
        item: dict[str, Any] = {"attachmentType": "file", "name": self.name, "size": self.size,
                                "contentType": self.content_type, "isInline": self.is_inline}
        if self.content_id:
            item["contentId"] = self.content_id
        return item


def attach(mailbox: GraphMailbox, item_path: str, file: UploadFile, chunk: int) -> int:
    """Attach ``file`` to the item at ``item_path`` (``/me/messages/{id}``); returns the PUTs
    made. Raises `InboxLinkError` when the session cannot be created or the upload fails."""
    url = mailbox._run(_create_session, item_path, file.item())
    puts, offset, stuck = 0, 0, 0
    with file.open() as source:
        while offset != _DONE:
            source.seek(offset)
            data = _pieces(source, min(chunk, file.size - offset))
            try:
                puts += 1
                after = mailbox._run(_put, url, data, offset, file.size)
            except errors.NotFound:
                raise _session_gone(file) from None
            except errors.InboxLinkError as exc:
                if not _resumable(exc) or stuck >= _RESUMES:
                    raise
                after = None
            if after is None:  # dropped or refused: ask the server where it stands
                stuck += 1
                log.info("Graph upload of %d bytes interrupted at %d; resuming", file.size, offset)
                last = offset + chunk >= file.size
                after = _where(mailbox, url, item_path, file, last_chunk=last)
            elif after > offset or after == _DONE:
                stuck = 0
            offset = after
    return puts


def _where(mailbox: GraphMailbox, url: str, item_path: str, file: UploadFile, *,
           last_chunk: bool) -> int:
    """The next byte the session expects after an interrupted chunk.

    A session that completed closes itself, so the status query of an interrupted *last*
    chunk may find nothing: the item's attachments then tell whether the file arrived. Any
    other vanished session (expired, closed by the server) is a typed "nothing was sent".
    """
    try:
        return mailbox._run(_status, url, file.size)
    except errors.NotFound:
        if last_chunk and mailbox._run(_has_file, item_path, file):
            return _DONE
        raise _session_gone(file) from None


def _session_gone(file: UploadFile) -> errors.InboxLinkError:
    # Graph answers 404 ErrorItemNotFound, whose table remedy ("list the folder again") is
    # about messages: for an upload the truth is that nothing was sent.
    return errors.TransientError(
        f"The upload session for {file.name!r} ended before the file was complete "
        "(it expired or the server closed it); nothing was sent.",
        provider=PROVIDER, code="uploadSessionGone",
        remedy="Send the message again: nothing was sent and its draft is removed.",
    )


async def _has_file(session: GraphSession, item_path: str, file: UploadFile) -> bool:
    """Whether the item already holds a file attachment of ``file``'s name and size."""
    info = session.request(Method.GET, f"{item_path}/attachments?%24select=name,size")
    answer = await session.send_json(info)
    found = answer.get("value") if isinstance(answer, dict) else None
    return any(isinstance(a, dict) and a.get("name") == file.name and a.get("size") == file.size
               for a in found or ())


async def post(session: GraphSession, item_path: str, file: UploadFile) -> None:
    """Attach a small file (under 3 MB) in one ``POST {item}/attachments``."""
    with file.open() as source:
        content = base64.b64encode(source.read(file.size)).decode("ascii")
    body = {"@odata.type": "#microsoft.graph.fileAttachment", "name": file.name,
            "contentType": file.content_type, "isInline": file.is_inline,
            "contentBytes": content, **({"contentId": file.content_id} if file.content_id else {})}
    info = session.request(Method.POST, f"{item_path}/attachments")
    info.set_stream_content(json.dumps(body).encode(), "application/json")
    await session.send_json(info)


async def _create_session(session: GraphSession, item_path: str, item: dict[str, Any]) -> str:
    info = session.request(Method.POST, f"{item_path}/attachments/createUploadSession")
    info.set_stream_content(json.dumps({"AttachmentItem": item}).encode(), "application/json")
    answer = await session.send_json(info)
    url = answer.get("uploadUrl")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise errors.TransientError(
            "Microsoft Graph created an upload session without an upload URL.",
            provider=PROVIDER, code="malformedResponse",
            remedy="Retry; if it persists, check any proxy between this machine and Graph.")
    return url


def _pieces(source: BinaryIO, length: int) -> list[bytes]:
    """``length`` bytes of ``source`` in 64 KiB pieces.

    One multi-megabyte buffer per chunk, made in this thread and freed on the loop's, left
    glibc's per-thread arenas holding tens of MB (peak RSS +60 MB for a 100 MB file);
    small pieces are reused from the free lists.
    """
    pieces: list[bytes] = []
    while length > 0:
        piece = source.read(min(_PIECE, length))
        if not piece:
            raise errors.InvalidMessage(
                "An attachment's file became shorter while it was being sent.",
                provider=PROVIDER, code="attachment-changed",
                remedy="Do not change a file while the message that attaches it is sent.")
        pieces.append(piece)
        length -= len(piece)
    return pieces


async def _put(session: GraphSession, url: str, pieces: list[bytes], start: int,
               total: int) -> int | None:
    """One chunk; the next offset, `_DONE` after the last byte, ``None`` on a range mismatch."""
    length = sum(len(piece) for piece in pieces)

    async def body() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    headers = {"Content-Range": f"bytes {start}-{start + length - 1}/{total}",
               "Content-Length": str(length), "Content-Type": "application/octet-stream"}
    response = await _raw(session, "PUT", url, content=body(), headers=headers)
    if response.status_code == 416:
        return None
    if response.status_code == 201 or (response.status_code == 200 and not response.content):
        return _DONE
    return _next_offset(response, total)


async def _status(session: GraphSession, url: str, total: int) -> int:
    """Where the server stands: the next byte it expects (`_DONE` if it has them all)."""
    response = await _raw(session, "GET", url)
    found = _next_offset(response, total)
    if found is None:
        raise errors.TransientError(
            "Microsoft Graph did not say which bytes of the upload it still expects.",
            provider=PROVIDER, code="malformedResponse",
            remedy="Send the message again; nothing was sent.")
    return found


async def _raw(session: GraphSession, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """A request to the pre-authenticated upload URL: the SDK's HTTP client, no token."""
    request = session.http.build_request(method, url, **kwargs)
    async with session.limiter.slot(session.max_concurrent, session.shared):
        response: httpx.Response = await session.http.send(request)
    if response.status_code >= 300 and response.status_code != 416:
        raise ItemFailure({"status": response.status_code, "headers": dict(response.headers),
                           "body": response.content})
    return response


def _next_offset(response: httpx.Response, total: int) -> int | None:
    try:
        body = json.loads(response.content or b"{}")
    except ValueError:
        return None
    ranges = (body.get("NextExpectedRanges") or body.get("nextExpectedRanges")
              if isinstance(body, dict) else None)
    if isinstance(ranges, list) and not ranges:
        return _DONE
    if not isinstance(ranges, list) or not isinstance(ranges[0], str):
        return None
    start = ranges[0].split("-", 1)[0]
    if not start.isdigit() or int(start) > total:
        return None
    return _DONE if int(start) == total else int(start)


def _resumable(exc: errors.InboxLinkError) -> bool:
    """A chunk whose fate is unknown: the connection dropped or the call timed out."""
    return isinstance(exc.__cause__, httpx.TransportError) or isinstance(
        exc, errors.OperationTimeout)
