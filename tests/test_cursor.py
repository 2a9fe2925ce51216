"""The shared cursor codec: round trips, JSON safety, typed refusals."""

from __future__ import annotations

import json

import pytest

from inboxlink import errors
from inboxlink.cursor import CursorCodec

LISTING = CursorCodec("jmap")
SYNC = CursorCodec("jmap", kind="sync", error=errors.SyncTokenExpired)
LONG_ID = "AAMkAGI2TG93AAA=" * 12  # Graph/EWS folder ids are long and base64-ish


@pytest.mark.parametrize("state", [
    {"o": 500, "a": "2026-11-29T22:00:00+00:00"},
    {"link": "https://graph.example/delta?$deltatoken=abc&x=1", "n": None, "l": [1, "ż"]},
    {},
])
def test_round_trip_through_json_and_ascii(state: dict[str, object]) -> None:
    cursor = LISTING.encode(LONG_ID, state)
    assert cursor.isascii()
    assert " " not in cursor
    assert json.loads(json.dumps(cursor)) == cursor
    assert LISTING.decode(cursor, LONG_ID) == state


def test_the_folder_is_checked() -> None:
    cursor = LISTING.encode("INBOX", {"o": 1})
    with pytest.raises(errors.CursorExpired) as info:
        LISTING.decode(cursor, "Sent")
    assert info.value.code == "wrong-folder"
    assert info.value.provider == "jmap"
    assert info.value.remedy


@pytest.mark.parametrize("garbage", [
    "", "not a cursor", "jmap.cursor1.", "jmap.cursor1.!!!", "jmap.cursor1.e30",  # {}
    "jmap.cursor1." + "W10",  # [] — JSON, but not a cursor's shape
    CursorCodec("other").encode("INBOX", {}),  # another adapter's
    CursorCodec("jmap", version=2).encode("INBOX", {}),  # a newer/older format
])
def test_garbage_is_cursor_expired_never_a_raw_error(garbage: str) -> None:
    with pytest.raises(errors.CursorExpired) as info:
        LISTING.decode(garbage, "INBOX")
    assert info.value.code == "bad-cursor"


def test_non_string_is_refused_typed() -> None:
    with pytest.raises(errors.CursorExpired):
        LISTING.decode(42, "INBOX")  # type: ignore[arg-type]


def test_a_cursor_is_not_a_sync_token_nor_the_reverse() -> None:
    cursor = LISTING.encode("INBOX", {"o": 1})
    token = SYNC.encode("INBOX", {"m": 7})
    with pytest.raises(errors.SyncTokenExpired) as info:
        SYNC.decode(cursor, "INBOX")
    assert "sync_token()" in info.value.remedy
    with pytest.raises(errors.CursorExpired) as listing_info:
        LISTING.decode(token, "INBOX")
    assert not isinstance(listing_info.value, errors.SyncTokenExpired)
    assert SYNC.decode(token, "INBOX") == {"m": 7}


def test_state_json_cannot_hold_is_a_bug_not_a_typed_error() -> None:
    with pytest.raises(TypeError):
        LISTING.encode("INBOX", {"when": object()})
    with pytest.raises(ValueError, match="JSON"):
        LISTING.encode("INBOX", {"x": float("nan")})
