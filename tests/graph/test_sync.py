"""The Graph change feed against the emulator: request counts, wire shapes, other clients."""

from __future__ import annotations

import json
import math

import attrs
import pytest

from inboxlink import FolderRole, errors
from inboxlink.adapters.graph import GraphMailbox
from inboxlink.adapters.graph.sync import BASELINE_PAGE, DeltaToken
from inboxlink.testing.conformance import drain, make_message

from .conftest import make_mailbox
from .emulator import GraphEmulator

DELTA = r"/messages/delta$"


def _fill(emulator: GraphEmulator, count: int, folder: str = "inbox") -> list[str]:
    return [emulator.deliver(make_message(n), folder) for n in range(1, count + 1)]


def test_no_change_is_one_request(emulator: GraphEmulator, mailbox: GraphMailbox) -> None:
    _fill(emulator, 3)
    token = mailbox.sync_token(FolderRole.INBOX)
    before = len(emulator.requests)
    batch = mailbox.changes(FolderRole.INBOX, token)
    assert not batch
    assert batch.more is False
    assert len(emulator.requests) - before == 1  # the delta GET, nothing else
    (request,) = emulator.requests[before:]
    assert request.path.endswith("/messages/delta")
    assert "$deltatoken" in request.query


def test_baseline_selects_ids_only_and_pages_at_the_largest_size(
        emulator: GraphEmulator, mailbox: GraphMailbox) -> None:
    total = 2 * BASELINE_PAGE + 5
    _fill(emulator, total)
    mailbox.folders()
    before = len(emulator.requests)
    mailbox.sync_token(FolderRole.INBOX)
    rounds = emulator.requests[before:]
    assert len(rounds) == math.ceil(total / BASELINE_PAGE)
    assert all(r.path.endswith("/messages/delta") for r in rounds)
    assert rounds[0].query["$select"] == ["id,createdDateTime"]
    assert all(r.headers.get("prefer") == f"odata.maxpagesize={BASELINE_PAGE}" for r in rounds)


def test_changes_asks_for_limit_per_page_and_fetches_summaries_in_batches(
        emulator: GraphEmulator, mailbox: GraphMailbox) -> None:
    token = mailbox.sync_token(FolderRole.INBOX)
    _fill(emulator, 45)
    before = len(emulator.requests)
    batch = mailbox.changes(FolderRole.INBOX, token, limit=45)
    assert len(batch.added) == 45
    assert batch.more is False
    outer = [r for r in emulator.requests[before:] if not r.in_batch]
    assert [r.path.rsplit("/", 1)[-1] for r in outer] == ["delta", "$batch", "$batch", "$batch"]
    assert outer[0].headers["prefer"] == "odata.maxpagesize=45"
    # Summaries carry what listing gives: threading headers included.
    assert {s.message_id for s in batch.added} == {f"<conformance{n}@example.net>"
                                                   for n in range(1, 46)}
    assert all(s.folder_id == mailbox.folder(FolderRole.INBOX).id for s in batch.added)


def test_changes_by_another_client(emulator: GraphEmulator, mailbox: GraphMailbox) -> None:
    read, flagged, deleted, archived, kept = _fill(emulator, 5)
    token = mailbox.sync_token(FolderRole.INBOX)
    archive_token = mailbox.sync_token(FolderRole.ARCHIVE)
    emulator.set_state(read, isRead=True)
    emulator.set_state(flagged, flag={"flagStatus": "flagged"})
    emulator.remove(deleted)
    new_id = emulator.relocate(archived, "archive")
    arrived = emulator.deliver(make_message(6))
    batches, _ = drain(mailbox, token)
    added = [s.id for b in batches for s in b.added]
    updated = {s.id: s for b in batches for s in b.updated}
    removed = [i for b in batches for i in b.removed]
    assert added == [arrived]
    assert set(updated) == {read, flagged}
    assert updated[read].seen
    assert "\\Flagged" in updated[flagged].flags
    assert sorted(removed) == sorted([deleted, archived])
    assert kept not in {*added, *updated, *removed}
    into, _ = drain(mailbox, archive_token, folder=FolderRole.ARCHIVE)
    assert [s.id for b in into for s in b.added] == [new_id]


def test_expired_state_is_sync_token_expired(emulator: GraphEmulator,
                                             mailbox: GraphMailbox) -> None:
    token = mailbox.sync_token(FolderRole.INBOX)
    emulator.expire_sync_states()
    with pytest.raises(errors.SyncTokenExpired) as info:
        mailbox.changes(FolderRole.INBOX, token)
    assert info.value.code == "SyncStateNotFound"
    assert "sync_token" in info.value.remedy
    assert emulator.requests[-1].path.endswith("/messages/delta")


def test_foreign_tokens_are_refused_without_a_request(emulator: GraphEmulator,
                                                      mailbox: GraphMailbox) -> None:
    sent = mailbox.sync_token(FolderRole.SENT)
    inbox = mailbox.folder(FolderRole.INBOX)
    before = len(emulator.requests)
    with pytest.raises(errors.SyncTokenExpired, match="another folder"):
        mailbox.changes(FolderRole.INBOX, sent)
    # A token whose link was pointed at another host would carry the bearer token there.
    state = DeltaToken.load(sent, mailbox.folder(FolderRole.SENT), emulator.base_url)
    forged = attrs.evolve(state, folder=inbox.id, link="https://attacker.example/v1.0/me/"
                          "mailFolders/x/messages/delta?$deltatoken=1").dump()
    with pytest.raises(errors.SyncTokenExpired) as info:
        mailbox.changes(FolderRole.INBOX, forged)
    assert info.value.code == "bad-cursor"
    # Garbage, a listing cursor and the JSON tokens of earlier versions are all refused typed.
    listing = mailbox.list_messages(FolderRole.INBOX, limit=1).next_cursor or "graph.cursor1.e30"
    for bad in ("junk", json.dumps({"v": 1, "f": inbox.id, "l": state.link}), listing):
        with pytest.raises(errors.SyncTokenExpired) as info:
            mailbox.changes(FolderRole.INBOX, bad)
        assert info.value.code == "bad-cursor"
    assert len(emulator.requests) == before + 1  # the listing above, nothing else


def test_token_is_compact_json_with_the_folder(emulator: GraphEmulator,
                                               mailbox: GraphMailbox) -> None:
    _fill(emulator, 2)
    token = mailbox.sync_token(FolderRole.INBOX)
    parsed = DeltaToken.load(token, mailbox.folder(FolderRole.INBOX), emulator.base_url)
    assert parsed.folder == mailbox.folder(FolderRole.INBOX).id
    assert "$deltatoken=" in parsed.link
    assert parsed.mark  # the newest createdDateTime: what tells added from updated
    assert len(token) < 400


def test_a_burst_resumes_in_a_new_mailbox_mid_round(emulator: GraphEmulator,
                                                    mailbox: GraphMailbox) -> None:
    token = mailbox.sync_token(FolderRole.INBOX)
    _fill(emulator, 7)
    first = mailbox.changes(FolderRole.INBOX, token, limit=3)
    assert first.more
    assert len(first.added) == 3
    other = make_mailbox(emulator)
    try:
        batches, _ = drain(other, first.token, limit=3)
    finally:
        other.close()
    seen = [s.id for s in first.added] + [s.id for b in batches for s in b.added]
    assert len(seen) == len(set(seen)) == 7


def test_a_message_gone_before_its_summary_is_read_is_removed(
        emulator: GraphEmulator, mailbox: GraphMailbox) -> None:
    token = mailbox.sync_token(FolderRole.INBOX)
    first, second = _fill(emulator, 2)
    # The delta page names both; the summary of the first is gone by the time it is read.
    emulator.fail(404, "ErrorItemNotFound", "The specified object was not found in the store.",
                  path=rf"/messages/{first}$", method="GET")
    batch = mailbox.changes(FolderRole.INBOX, token)
    assert [s.id for s in batch.added] == [second]
    assert batch.removed == (first,)


def test_a_summary_read_is_retried_when_throttled(emulator: GraphEmulator,
                                                  mailbox: GraphMailbox) -> None:
    token = mailbox.sync_token(FolderRole.INBOX)
    (mid,) = _fill(emulator, 1)
    emulator.fail(429, "ApplicationThrottled", "Too many requests.", path=rf"/messages/{mid}$",
                  method="GET", headers={"Retry-After": "0"})
    batch = mailbox.changes(FolderRole.INBOX, token)
    assert [s.id for s in batch.added] == [mid]
    assert emulator.count("GET", rf"/messages/{mid}$", in_batch=True) == 2
