"""Canaries: fail loudly when a client library changes what the Gmail shims rely on."""

from __future__ import annotations

import io
from typing import Any

import httplib2
import pytest

from inboxlink.adapters.gmail import GmailMailbox, _googleapiclient_shim, _httplib2_shim

from .emulator import GmailEmulator
from .support import make_mailbox


def test_httplib2_keeps_its_pool_in_connections(emulator: GmailEmulator) -> None:
    http = httplib2.Http(timeout=5)
    assert isinstance(http.connections, dict), "httplib2.Http.connections is gone"
    http.request(emulator.url + "oauth2/v1/certs")
    assert _httplib2_shim.pooled_connections(http) == 1, \
        "httplib2 no longer pools a keep-alive connection in Http.connections"
    _httplib2_shim.close_connections(http)
    assert http.connections == {}


def test_the_mailbox_pool_is_the_one_the_shim_drops(emulator: GmailEmulator) -> None:
    mailbox = make_mailbox(emulator)
    mailbox.folders()
    http = mailbox._conn.http
    assert _httplib2_shim.pooled_connections(http) == 1
    mailbox.close()
    assert _httplib2_shim.pooled_connections(http) == 0


def _upload_request(mailbox: GmailMailbox, data: bytes, chunk: int) -> Any:
    from googleapiclient.http import MediaIoBaseUpload

    media = MediaIoBaseUpload(io.BytesIO(data), mimetype="message/rfc822", resumable=True,
                              chunksize=chunk)
    return mailbox._messages.send(userId="me", media_body=media)


def test_googleapiclient_still_builds_the_upload_url_on_the_discovery_root(
        emulator: GmailEmulator) -> None:
    mailbox = make_mailbox(emulator)
    request = _upload_request(mailbox, b"x", 256 * 1024)
    uri = request.uri
    assert "/" + _googleapiclient_shim.UPLOAD_PATH + "users/me/messages/send?" in uri
    assert "uploadType=resumable" in uri
    # The reason for the shim: only the host follows api_endpoint. If this fails,
    # googleapiclient now honours the endpoint's scheme: the shim is then a no-op to drop.
    assert uri.startswith("https://127.0.0.1:"), uri
    _googleapiclient_shim.follow_endpoint(request, "https://proxy.example/gmail/")
    assert request.uri.startswith(
        "https://proxy.example/gmail/upload/gmail/v1/users/me/messages/send?")


def test_next_chunk_state_is_where_the_shim_sets_it(emulator: GmailEmulator) -> None:
    mailbox = make_mailbox(emulator)
    data = b"From: a@example.org\r\nTo: b@example.org\r\n\r\n" + b"x" * 600_000
    request = _upload_request(mailbox, data, 256 * 1024)
    _googleapiclient_shim.follow_endpoint(request, emulator.url)
    http = mailbox._conn.send_http
    emulator.uploads.drop("upload.chunk", keep=0.0)
    with pytest.raises(ConnectionError):
        request.next_chunk(http=http)
    assert request.resumable_uri, "HttpRequest.resumable_uri is gone"
    assert request.resumable_progress == 0, "HttpRequest.resumable_progress is gone"
    assert request._in_error_state is True, "HttpRequest._in_error_state is gone"
    assert not _googleapiclient_shim.is_final_chunk(request)
    _googleapiclient_shim.resume_at(request, 0)
    body = None
    while body is None:
        _, body = request.next_chunk(http=http)
    # Cleared error state: next_chunk went on with chunks, no status query of its own.
    assert [op for op, _ in emulator.uploads.log] == ["upload.start"] + ["upload.chunk"] * 4
    assert emulator.outbox[0].raw == data
