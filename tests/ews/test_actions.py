"""EWS actions, search and threads against the emulator: batching and request counts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import pytest

from inboxlink import errors
from inboxlink.adapters.ews import EwsMailbox
from inboxlink.adapters.ews.actions import ACTION_BATCH
from inboxlink.models import FolderRole, RoleSource
from inboxlink.query import SearchQuery
from inboxlink.testing.conformance import make_message

from .conftest import ADDRESS
from .emulator import EwsEmulator

Connect = Callable[..., Any]
INBOX = FolderRole.INBOX


def _fill(emulator: EwsEmulator, count: int, start: int = 1) -> list[str]:
    return [emulator.deliver(ADDRESS, make_message(n)) for n in range(start, start + count)]


def _since(emulator: EwsEmulator, before: int) -> list[str]:
    return emulator.requests[before:]


def test_archive_is_the_plain_archive_folder_found_by_name(connect: Connect) -> None:
    mailbox: EwsMailbox = connect()
    archive = mailbox.folder(FolderRole.ARCHIVE)
    assert archive.name == "Archive"
    assert archive.role_source == RoleSource.NAME


def test_set_read_of_250_ids_is_three_update_items(emulator: EwsEmulator,
                                                   connect: Connect) -> None:
    ids = _fill(emulator, 250)
    mailbox: EwsMailbox = connect()
    before = len(emulator.requests)
    mailbox.set_read(ids)
    assert _since(emulator, before) == ["UpdateItem"] * -(-250 // ACTION_BATCH)
    assert all(emulator.items[i].is_read for i in ids)
    mailbox.set_read(ids, False)
    assert not any(emulator.items[i].is_read for i in ids)


def test_flag_is_pid_tag_flag_status(emulator: EwsEmulator, connect: Connect) -> None:
    (item_id,) = _fill(emulator, 1)
    mailbox: EwsMailbox = connect()
    mailbox.set_flagged(item_id)
    assert emulator.items[item_id].flag_status == 2
    assert "\\Flagged" in mailbox.fetch(item_id).flags
    mailbox.set_flagged(item_id, False)
    assert emulator.items[item_id].flag_status == 0


def test_move_returns_the_new_ids_in_one_request(emulator: EwsEmulator,
                                                 connect: Connect) -> None:
    ids = _fill(emulator, 3)
    mailbox: EwsMailbox = connect()
    before = len(emulator.requests)
    moved = mailbox.move(ids, FolderRole.ARCHIVE)
    assert _since(emulator, before) == ["MoveItem"]
    archive = mailbox.folder(FolderRole.ARCHIVE).id
    assert list(moved) == ids
    assert all(new is not None and new not in ids for new in moved.values())
    assert all(emulator.items[new].folder_id == archive for new in moved.values() if new)


def test_missing_ids_are_named_and_the_rest_done(emulator: EwsEmulator,
                                                 connect: Connect) -> None:
    kept, gone = _fill(emulator, 2)
    mailbox: EwsMailbox = connect()
    mailbox.delete([gone], permanent=True)
    malformed = "not-an-ews-id"
    with pytest.raises(errors.MessageNotFound) as info:
        mailbox.set_flagged([gone, kept, malformed])
    assert set(info.value.missing) == {gone, malformed}
    assert emulator.items[kept].flag_status == 2
    before = len(emulator.requests)
    with pytest.raises(errors.MessageNotFound) as moved:
        mailbox.move([kept, gone], FolderRole.ARCHIVE)
    assert moved.value.missing == (gone,)
    assert list(moved.value.result) == [kept]
    assert _since(emulator, before) == ["MoveItem"]  # never retried


def test_delete_uses_move_to_deleted_items_and_hard_delete(emulator: EwsEmulator,
                                                           connect: Connect) -> None:
    soft, hard = _fill(emulator, 2)
    mailbox: EwsMailbox = connect()
    before = len(emulator.requests)
    mailbox.delete([soft])
    mailbox.delete([hard], permanent=True)
    assert _since(emulator, before) == ["DeleteItem", "DeleteItem"]
    trash = mailbox.folder(FolderRole.TRASH).id
    assert [i.folder_id for i in emulator.items.values()] == [trash]
    assert hard not in emulator.items


def test_a_server_error_inside_a_bulk_answer_is_typed(emulator: EwsEmulator,
                                                      connect: Connect) -> None:
    ids = _fill(emulator, 2)
    mailbox: EwsMailbox = connect()
    emulator.fail_next("UpdateItem", "ErrorQuotaExceeded")
    with pytest.raises(errors.QuotaExceeded):
        mailbox.set_read(ids)


def _mail(n: int, sender: str, subject: str, body: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "Alice <alice@example.com>"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(dt.datetime(2026, 1, n, tzinfo=dt.timezone.utc))
    msg["Message-ID"] = f"<s{n}@example.net>"
    msg.set_content(body)
    return msg.as_bytes()


def test_search_is_one_find_item_and_one_get_item(emulator: EwsEmulator,
                                                  connect: Connect) -> None:
    for n in range(1, 21):
        sender = "Bob <bob@example.net>" if n % 2 else "Carol <carol@example.org>"
        emulator.deliver(ADDRESS, _mail(n, sender, f"Report {n}", "numbers inside\n"))
    mailbox: EwsMailbox = connect()
    before = len(emulator.requests)
    page = mailbox.search(INBOX, SearchQuery(from_="bob@", subject="report"), limit=50)
    assert _since(emulator, before) == ["FindItem", "GetItem"]
    assert len(page.items) == 10
    assert page.next_cursor is None
    assert {s.from_.email for s in page.items if s.from_} == {"bob@example.net"}


def test_client_side_fields_read_on_until_the_page_is_full(emulator: EwsEmulator,
                                                           connect: Connect) -> None:
    ids = _fill(emulator, 12)
    mailbox: EwsMailbox = connect()
    mailbox.set_flagged(ids[:3])  # the three oldest: the last rows of a newest-first listing
    before = len(emulator.requests)
    page = mailbox.search(INBOX, SearchQuery(flagged=True), limit=3)
    assert {s.id for s in page.items} == set(ids[:3])
    # 12 rows in pages of 3: four FindItem (+ GetItem each) to find all three
    assert _since(emulator, before).count("FindItem") == 4


def test_search_cursor_belongs_to_its_query(emulator: EwsEmulator, connect: Connect) -> None:
    _fill(emulator, 4)
    mailbox: EwsMailbox = connect()
    page = mailbox.search(INBOX, SearchQuery(subject="message"), limit=2)
    assert page.next_cursor
    with pytest.raises(errors.CursorExpired):
        mailbox.search(INBOX, SearchQuery(subject="other"), limit=2, cursor=page.next_cursor)


def test_replies_and_thread_by_conversation_in_few_requests(emulator: EwsEmulator,
                                                            connect: Connect) -> None:
    root = _mail(1, "Alice <alice@example.com>", "Quote", "offer\n")
    emulator.deliver(ADDRESS, root, folder="sentitems")

    def reply(n: int, refs: str | None) -> bytes:
        msg = EmailMessage()
        msg["From"] = "Carol <carol@example.org>"
        msg["Subject"] = "Re: Quote"
        msg["Message-ID"] = f"<r{n}@example.org>"
        if refs:
            msg["In-Reply-To"] = refs.split()[-1]
            msg["References"] = refs
        msg.set_content("ok\n")
        return msg.as_bytes()

    emulator.deliver(ADDRESS, reply(1, "<s1@example.net>"))
    emulator.deliver(ADDRESS, reply(2, None))  # same subject, another conversation
    emulator.deliver(ADDRESS, reply(3, "<s1@example.net> <r1@example.org>"))
    mailbox: EwsMailbox = connect()
    before = len(emulator.requests)
    found = mailbox.find_replies("<s1@example.net>")
    assert [s.message_id for s in found] == ["<r3@example.org>", "<r1@example.org>"]
    # linked messages, then the original's conversation, then one GetItem for summaries
    assert _since(emulator, before) == ["FindItem", "FindItem", "GetItem"]
    before = len(emulator.requests)
    conversation = mailbox.thread("<r3@example.org>")
    assert [s.message_id for s in conversation] == [
        "<s1@example.net>", "<r1@example.org>", "<r3@example.org>"]
    assert _since(emulator, before) == ["FindItem", "FindItem", "GetItem"]


def test_unknown_message_has_no_thread(emulator: EwsEmulator, connect: Connect) -> None:
    mailbox: EwsMailbox = connect()
    assert mailbox.thread("<nobody@example.net>") == []
    assert mailbox.find_replies("<nobody@example.net>") == []
