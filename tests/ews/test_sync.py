"""The EWS change feed against the emulator: request counts, paging, expired states."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from inboxlink import errors
from inboxlink.adapters.ews import EwsMailbox
from inboxlink.adapters.ews.sync import TOKENS
from inboxlink.models import FolderRole
from inboxlink.testing.conformance import drain, make_message

from .conftest import ADDRESS
from .emulator import EwsEmulator

Connect = Callable[..., Any]
INBOX = FolderRole.INBOX


def _fill(emulator: EwsEmulator, count: int, start: int = 1) -> list[str]:
    return [emulator.deliver(ADDRESS, make_message(n)) for n in range(start, start + count)]


def test_no_change_is_one_request(emulator: EwsEmulator, connect: Connect) -> None:
    _fill(emulator, 3)
    mailbox: EwsMailbox = connect()
    token = mailbox.sync_token(INBOX)
    before = len(emulator.requests)
    batch = mailbox.changes(INBOX, token)
    assert not batch
    assert batch.more is False
    assert emulator.requests[before:] == ["SyncFolderItems"]


def test_changes_cost_one_sync_and_one_getitem(emulator: EwsEmulator, connect: Connect) -> None:
    _fill(emulator, 5)
    mailbox: EwsMailbox = connect()
    token = mailbox.sync_token(INBOX)
    new = _fill(emulator, 10, start=100)
    before = len(emulator.requests)
    batch = mailbox.changes(INBOX, token)
    assert emulator.requests[before:] == ["SyncFolderItems", "GetItem"]
    assert {s.id for s in batch.added} == set(new)
    # summaries carry the addresses FindItem/SyncFolderItems cannot return
    assert all(s.from_ is not None and s.to for s in batch.added)


def test_baseline_pages_the_folder_with_ids_only(emulator: EwsEmulator,
                                                 connect: Connect) -> None:
    _fill(emulator, 1100)
    mailbox: EwsMailbox = connect()
    before = len(emulator.requests)
    token = mailbox.sync_token(INBOX)
    # ceil(1100 / 512) rounds of the initial replay, nothing else
    assert emulator.requests[before:] == ["SyncFolderItems"] * 3
    batch = mailbox.changes(INBOX, token)
    assert not batch
    assert batch.more is False


def test_a_limit_above_the_schema_maximum_is_capped(emulator: EwsEmulator,
                                                         connect: Connect) -> None:
    mailbox: EwsMailbox = connect()
    token = mailbox.sync_token(INBOX)
    emulator.deliver(ADDRESS, make_message(1))
    # a limit above the schema's 512 is capped, not sent (the server would refuse it)
    batch = mailbox.changes(INBOX, token, limit=5000)
    assert len(batch.added) == 1


def test_read_flag_change_and_flag_update(emulator: EwsEmulator, connect: Connect) -> None:
    first, second = _fill(emulator, 2)
    mailbox: EwsMailbox = connect()
    token = mailbox.sync_token(INBOX)
    mailbox.set_read([first])
    mailbox.set_flagged([second])
    batches, token = drain(mailbox, token)
    updated = {s.id: s for b in batches for s in b.updated}
    assert set(updated) == {first, second}
    assert updated[first].seen
    assert "\\Flagged" in updated[second].flags
    assert not any(b.added or b.removed for b in batches)


def test_moved_out_is_removed_and_moved_in_is_added(emulator: EwsEmulator,
                                                    connect: Connect) -> None:
    (first,) = _fill(emulator, 1)
    mailbox: EwsMailbox = connect()
    inbox_token = mailbox.sync_token(INBOX)
    archive_token = mailbox.sync_token(FolderRole.ARCHIVE)
    moved = mailbox.move([first], FolderRole.ARCHIVE)
    out = mailbox.changes(INBOX, inbox_token)
    into = mailbox.changes(FolderRole.ARCHIVE, archive_token)
    assert out.removed == (first,)
    assert [s.id for s in into.added] == [moved[first]]


def test_added_then_deleted_between_calls_is_not_reported(emulator: EwsEmulator,
                                                          connect: Connect) -> None:
    mailbox: EwsMailbox = connect()
    token = mailbox.sync_token(INBOX)
    (gone,) = _fill(emulator, 1)
    mailbox.delete([gone], permanent=True)
    batch = mailbox.changes(INBOX, token)
    assert gone not in {s.id for s in batch.added}


def test_invalid_sync_state_is_sync_token_expired(emulator: EwsEmulator,
                                                  connect: Connect) -> None:
    _fill(emulator, 1)
    mailbox: EwsMailbox = connect()
    token = mailbox.sync_token(INBOX)
    emulator.expire_sync_states()
    with pytest.raises(errors.SyncTokenExpired) as info:
        mailbox.changes(INBOX, token)
    assert info.value.code == "ErrorInvalidSyncStateData"
    assert "sync_token" in (info.value.remedy or "")
    assert type(info.value.__cause__).__name__ == "ErrorInvalidSyncStateData"
    fresh = mailbox.sync_token(INBOX)
    assert not mailbox.changes(INBOX, fresh)


def test_a_forged_state_in_a_well_formed_token_reaches_the_server(
        emulator: EwsEmulator, connect: Connect) -> None:
    mailbox: EwsMailbox = connect()
    folder_id = mailbox.folder(INBOX).id
    token = TOKENS.encode(folder_id, {"s": "H4sIAAAAAAAEAO29B2AcSZYl"})
    before = emulator.count("SyncFolderItems")
    with pytest.raises(errors.SyncTokenExpired):
        mailbox.changes(INBOX, token)
    assert emulator.count("SyncFolderItems") == before + 1


def test_another_folders_token_is_refused_without_a_request(emulator: EwsEmulator,
                                                            connect: Connect) -> None:
    mailbox: EwsMailbox = connect()
    token = mailbox.sync_token(FolderRole.SENT)
    before = len(emulator.requests)
    with pytest.raises(errors.SyncTokenExpired) as info:
        mailbox.changes(INBOX, token)
    assert info.value.code == "wrong-folder"
    assert emulator.requests[before:] == []


def test_server_busy_during_changes_is_retried(emulator: EwsEmulator, connect: Connect) -> None:
    from inboxlink.retry import RetryPolicy

    _fill(emulator, 1)
    mailbox: EwsMailbox = connect(retry=RetryPolicy(max_attempts=3))
    token = mailbox.sync_token(INBOX)
    emulator.deliver(ADDRESS, make_message(9))
    emulator.fail_next("SyncFolderItems", "ErrorServerBusy", back_off_ms=10)
    batch = mailbox.changes(INBOX, token)
    assert [s.message_id for s in batch.added] == ["<conformance9@example.net>"]


def test_emulator_refuses_more_than_512_changes_per_call(emulator: EwsEmulator,
                                                         connect: Connect) -> None:
    from exchangelib.items import ID_ONLY

    from inboxlink.adapters.ews._exchangelib_shim import SyncItemIds

    mailbox: EwsMailbox = connect()
    folder = mailbox._ews_folder(mailbox.folder(INBOX))
    syncer = SyncItemIds(account=mailbox.account)
    with pytest.raises(Exception, match=r"ErrorSchemaValidation|schema"):
        list(syncer.call(folder=folder, shape=ID_ONLY, additional_fields=None,
                         sync_state=None, ignore=None, max_changes_returned=513,
                         sync_scope="NormalItems"))


def test_a_vanished_folder_is_folder_not_found(emulator: EwsEmulator, connect: Connect) -> None:
    folder_id = emulator.add_folder(ADDRESS, "Projects")
    mailbox: EwsMailbox = connect()
    token = mailbox.sync_token("Projects")
    emulator.delete_folder(ADDRESS, folder_id)
    with pytest.raises(errors.FolderNotFound) as info:
        mailbox.changes("Projects", token)
    assert info.value.code == "ErrorSyncFolderNotFound"
