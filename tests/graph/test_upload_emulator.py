"""The emulator's upload-session wire format, spoken to with plain httpx: the documented
answers and error bodies the adapter's upload loop is tested against."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import pytest

from .emulator import GraphEmulator

MiB = 1024 * 1024


@pytest.fixture
def session(emulator: GraphEmulator) -> Iterator[tuple[httpx.Client, str, int]]:
    auth = {"Authorization": f"Bearer {emulator.token}"}
    with httpx.Client(base_url=emulator.base_url, timeout=30) as client:
        draft = client.post("/me/messages", headers={**auth, "Content-Type": "text/plain"},
                            content=base64.b64encode(b"Subject: d\r\nTo: b@example.com\r\n\r\nx"))
        assert draft.status_code == 201
        size = 3 * MiB + 10
        created = client.post(
            f"/me/messages/{draft.json()['id']}/attachments/createUploadSession", headers=auth,
            json={"AttachmentItem": {"attachmentType": "file", "name": "f.bin", "size": size}})
        assert created.status_code == 201
        body = created.json()
        assert body["nextExpectedRanges"] == ["0-"]
        assert body["expirationDateTime"].endswith("Z")
        yield client, body["uploadUrl"], size


def _put(client: httpx.Client, url: str, start: int, data: bytes, total: int,
         **headers: str) -> httpx.Response:
    return client.put(url, content=data, headers={
        "Content-Range": f"bytes {start}-{start + len(data) - 1}/{total}", **headers})


def test_chunks_then_201_with_the_attachments_location(
        session: tuple[httpx.Client, str, int]) -> None:
    client, url, size = session
    first = _put(client, url, 0, b"a" * MiB, size)
    assert first.status_code == 200
    assert first.json()["NextExpectedRanges"] == [str(MiB)]
    assert client.get(url).json()["NextExpectedRanges"] == [str(MiB)]
    last = _put(client, url, MiB, b"b" * (size - MiB), size)
    assert last.status_code == 201
    assert "/Attachments('" in last.headers["Location"]
    assert last.content == b""
    gone = client.get(url)
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "ErrorItemNotFound"


@pytest.mark.parametrize(("start", "length", "extra", "status", "code"), [
    (5, 100, {}, 416, "ErrorInvalidRange"),  # not the next expected byte
    (0, 4 * MiB + 1, {}, 413, "RequestEntityTooLarge"),
    (0, 100, {"Authorization": "Bearer x"}, 401, "InvalidAuthenticationToken"),
])
def test_documented_refusals(session: tuple[httpx.Client, str, int], start: int, length: int,
                             extra: dict[str, str], status: int, code: str) -> None:
    client, url, size = session
    answer = _put(client, url, start, b"z" * length, size, **extra)
    assert answer.status_code == status
    assert json.loads(answer.content)["error"]["code"] == code


def test_delete_ends_the_session(session: tuple[httpx.Client, str, int]) -> None:
    client, url, size = session
    assert client.delete(url).status_code == 204
    assert _put(client, url, 0, b"a" * 10, size).status_code == 404
