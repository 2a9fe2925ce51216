"""Driving one resumable media upload (``messages.send`` / ``messages.insert``) to its end.

Google's resumable protocol: a POST creates the session (``Location``: the session URI);
each chunk is a PUT with ``Content-Range: bytes a-b/total``, answered ``308 Resume
Incomplete`` with the ``Range`` the server holds, and the last one with ``200`` and the
Message resource. A PUT with ``Content-Range: bytes */total`` asks the status without
sending bytes. Every request goes through the single-shot HTTP: nothing below repeats one.

After a failed chunk (connection dropped, 5xx) the session's status says where to go on,
and at most the bytes the server lacks are sent again. The final chunk is special: the
server may have completed — sent the message — before its answer was lost, so its status
is asked *first*: 200/201 is the result; 308 says the message is incomplete (so not sent)
and the missing bytes go again; anything else is an unknown outcome (`AnswerLost`), never
a second attempt.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from inboxlink.adapters.gmail import _googleapiclient_shim as shim
from inboxlink.adapters.gmail._quota import COST
from inboxlink.adapters.gmail._single_shot import AnswerLost, RequestNotSent
from inboxlink.adapters.gmail.connection import is_transport_failure, json_object

if TYPE_CHECKING:
    from inboxlink.adapters.gmail.connection import GmailConnection

__all__ = ["UploadStopped", "upload"]

log = logging.getLogger("inboxlink.gmail")


class UploadStopped(RequestNotSent):
    """The upload ended before the server held the whole message: nothing was sent."""


def _resumable(exc: BaseException) -> bool:
    """A chunk failure the session survives: the connection, or the server's 5xx."""
    from googleapiclient.errors import HttpError

    if isinstance(exc, HttpError):
        return int(exc.resp.status) >= 500
    return is_transport_failure(exc)


def _expired(exc: BaseException) -> bool:
    """The server forgot the session (404, 410): it answered, so the chunk did not finish
    the message."""
    from googleapiclient.errors import HttpError

    return isinstance(exc, HttpError) and int(exc.resp.status) in (404, 410)


def _status(conn: GmailConnection, request: Any, size: int) -> tuple[int, Any]:
    """(bytes the session holds, None) or (size, final result) — asked, nothing sent."""
    from googleapiclient.errors import HttpError

    conn.requests_made += 1
    resp, content = conn.send_http.request(
        request.resumable_uri, "PUT",
        headers={"Content-Range": f"bytes */{size}", "Content-Length": "0"})
    if resp.status in (200, 201):
        return size, request.postproc(resp, content)
    if resp.status == 308:
        held = resp.get("range")
        return (int(held.rpartition("-")[2]) + 1 if held else 0), None
    raise HttpError(resp, content, uri=request.resumable_uri)


def upload(conn: GmailConnection, request: Any, method: str, size: int) -> dict[str, Any]:
    """The final answer of ``request`` (built with a resumable ``media_body`` of ``size``
    bytes), resuming after at most ``conn.retry.max_attempts - 1`` failed chunks.

    Raises:
        AnswerLost: the final chunk left but neither its answer nor the session's status
            says whether the message is complete (the outcome is unknown).
        UploadStopped: a chunk failed and the upload could not go on; nothing was sent.
        HttpError and transport errors from creating the session or from a refused chunk,
            for the boundary to translate (nothing was sent).
    """
    shim.follow_endpoint(request, conn.settings.api_endpoint)
    resumes = 0
    with conn.lock:
        conn.pace(COST[method])
        while True:
            final = request.resumable_uri is not None and shim.is_final_chunk(request)
            opened = request.resumable_uri is not None
            try:
                _, body = request.next_chunk(http=conn.send_http, num_retries=0)
            except Exception as exc:
                conn.requests_made += _requests(opened, request)
                if request.resumable_uri is not None and _expired(exc):
                    raise UploadStopped("The upload session expired before Gmail had the "
                                        "whole message; nothing was sent.") from exc
                if request.resumable_uri is None and isinstance(exc, AnswerLost):
                    # Only the session's opening was lost: no byte of the message left.
                    raise UploadStopped("The upload session's opening was answered by no "
                                        "one; nothing was sent.") from exc
                if request.resumable_uri is None or not _resumable(exc):
                    raise  # no session, or the server refused the chunk: nothing was sent
                final = final or shim.is_final_chunk(request)
                held, body = _after_failure(conn, request, size, exc, final, resumes)
                if body is None:
                    resumes += 1
                    log.info("gmail: upload resumes at byte %d of %d", held, size)
                    shim.resume_at(request, held)
                    continue
            else:
                conn.requests_made += _requests(opened, request)
            if body is not None:
                return json_object(body, method)


def _requests(opened: bool, request: Any) -> int:
    # A call without a session creates it (POST) and, once it exists, sends a chunk (PUT).
    return 1 if opened or request.resumable_uri is None else 2


def _after_failure(conn: GmailConnection, request: Any, size: int, exc: Exception,
                   final: bool, resumes: int) -> tuple[int, Any]:
    """Where the upload stands after ``exc``: (offset to resume at, None) or (size, result)."""
    try:
        held, body = _status(conn, request, size)
    except Exception as status_exc:
        if final:
            raise AnswerLost(f"The last part of the message was sent but its answer was lost "
                             f"({exc!r}), and the upload's status is unknown "
                             f"({status_exc!r}).") from exc
        raise UploadStopped(f"The upload stopped ({exc!r}) and its status could not be read "
                            f"({status_exc!r}); nothing was sent.") from exc
    if body is not None:
        return held, body
    if resumes + 1 >= conn.retry.max_attempts:
        raise UploadStopped(f"The upload stopped at byte {held} of {size} after {resumes + 1} "
                            f"failures ({exc!r}); nothing was sent.") from exc
    return held, None
