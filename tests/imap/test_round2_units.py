"""Pure parts of the round-2 IMAP code: sync tokens, COPYUID, UID sets, idle notices."""

from __future__ import annotations

import json

import pytest

from inboxlink import errors
from inboxlink.adapters.imap import actions, sync, watch
from inboxlink.models import Folder

INBOX = Folder(id="INBOX", name="INBOX", path="INBOX")


@pytest.mark.parametrize("token", [
    sync.Token("INBOX", 7, 12, modseq=40),
    sync.Token("INBOX", 7, 12, modseq=40, snapshot=44, after=(1, 41, 9), round_uidnext=13),
    sync.Token("INBOX", 7, 12, uids="1:5,9", flags={"\\Seen": "1:2", "\\Flagged": "9"}),
])
def test_tokens_round_trip_through_json(token: sync.Token) -> None:
    text = sync.encode_token(token)
    assert json.loads(json.dumps(text)) == text
    assert sync.decode_token(text, INBOX) == token


@pytest.mark.parametrize("text", [
    "", "[]", "null", '{"folder": "INBOX"}',
    '{"folder":"INBOX","uidvalidity":7,"uidnext":1,"uids":"0:3","flags":{}}',
    '{"folder":"INBOX","uidvalidity":7,"uidnext":1,"uids":"1:99999999","flags":{}}',
    '{"folder":"INBOX","uidvalidity":7,"uidnext":1,"highestmodseq":3,"round":[4,[1,2],5]}',
])
def test_malformed_tokens_are_expired(text: str) -> None:
    with pytest.raises(errors.SyncTokenExpired):
        sync.decode_token(text, INBOX)


def test_copyuid_pairs_by_position() -> None:
    lines = [b"1795 4,7:9 20:21,30,31", b"garbage", b"1795 x y"]
    assert actions._copyuid(lines) == {4: (1795, 20), 7: (1795, 21), 8: (1795, 30),
                                       9: (1795, 31)}
    assert actions._ordered(b"5:3,9") == [5, 4, 3, 9]


@pytest.mark.parametrize(("responses", "reason"), [
    ([(b"OK", b"Still here")], None),
    ([(3, b"EXISTS"), (1, b"RECENT")], "exists"),
    ([(2, b"EXPUNGE")], "expunge"),
    ([(1, b"FETCH", (b"FLAGS", (b"\\Seen",)))], "flags"),
    ([(b"VANISHED", b"4")], "expunge"),
    ([(1, b"RECENT")], None),
])
def test_idle_notices_become_reasons(responses: list[object], reason: str | None) -> None:
    assert watch._reason(responses) == reason


def test_bye_under_idle_is_a_dropped_connection() -> None:
    with pytest.raises(watch._Dropped):
        watch._reason([(b"BYE", b"Server shutting down.")])
