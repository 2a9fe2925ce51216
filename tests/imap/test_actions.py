"""IMAP actions and search against a real Dovecot: bulk by chunks (commands counted from the
protocol log), MOVE and its COPY fallback, what another client sees, search mapping."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from inboxlink import errors
from inboxlink.adapters.imap import ImapMailbox
from inboxlink.adapters.imap.actions import criteria
from inboxlink.models import FolderRole
from inboxlink.query import SearchQuery
from inboxlink.testing.conformance import make_message

from .dovecot import Dovecot
from .helpers import Certs, CommandLog, command_log, raw_client, settings_for

CHUNK = 50
COUNT = 200


@pytest.fixture(params=["full", "basic"])
def server(request: pytest.FixtureRequest) -> Dovecot:
    """The main Dovecot (MOVE) and the one without MOVE/CONDSTORE/QRESYNC/IDLE."""
    found: Dovecot = request.getfixturevalue("dovecot" if request.param == "full"
                                             else "dovecot_basic")
    return found


@pytest.fixture
def filled(server: Dovecot, certs: Certs) -> str:
    user = server.new_user()
    other = raw_client(server, user, certs)
    try:
        for n in range(1, COUNT + 1):
            other.append("INBOX", make_message(n))
    finally:
        other.logout()
    return user


@pytest.fixture
def logged(server: Dovecot, filled: str,
           certs: Certs) -> Iterator[tuple[ImapMailbox, CommandLog]]:
    with command_log() as log, ImapMailbox(settings_for(server, filled, certs,
                                                        fetch_chunk=CHUNK)) as box:
        yield box, log


def test_bulk_read_is_one_search_and_one_store_per_chunk(
        logged: tuple[ImapMailbox, CommandLog], server: Dovecot, filled: str,
        certs: Certs) -> None:
    box, log = logged
    ids = [s.id for s in box.iter_messages(FolderRole.INBOX)]
    mark = len(log.commands)
    box.set_read(ids)
    sent = log.since(mark)
    chunks = COUNT // CHUNK
    assert sent.count("UID STORE") == chunks
    assert sent.count("UID SEARCH") == chunks
    assert len(sent) <= 2 * chunks + 1  # + a read-write SELECT
    other = raw_client(server, filled, certs)
    try:
        other.select_folder("INBOX", readonly=True)
        assert len(other.search(["SEEN"])) == COUNT
    finally:
        other.logout()


def test_bulk_move_by_chunks_with_new_ids(logged: tuple[ImapMailbox, CommandLog],
                                          server: Dovecot, filled: str,
                                          certs: Certs) -> None:
    box, log = logged
    listed = {s.id: s.message_id for s in box.iter_messages(FolderRole.INBOX)}
    mark = len(log.commands)
    moved = box.move(list(listed), FolderRole.ARCHIVE)
    sent = log.since(mark)
    chunks = COUNT // CHUNK
    if "MOVE" in box.server_capabilities:
        assert sent.count("UID MOVE") == chunks
        assert len(sent) <= 2 * chunks + 1
    else:  # COPY + \\Deleted + UID EXPUNGE per chunk
        assert (sent.count("UID COPY"), sent.count("UID STORE"),
                sent.count("UID EXPUNGE")) == (chunks, chunks, chunks)
        assert len(sent) <= 4 * chunks + 1
    assert set(moved) == set(listed)
    assert all(new is not None and new.startswith("Archive:") for new in moved.values())
    sample = list(moved)[:: COUNT // 4]
    fetched = box.fetch_many([moved[old] or "" for old in sample])
    assert [m.message_id for m in fetched] == [listed[old] for old in sample]
    other = raw_client(server, filled, certs)
    try:
        assert other.select_folder("INBOX")[b"EXISTS"] == 0
        assert other.select_folder("Archive")[b"EXISTS"] == COUNT
    finally:
        other.logout()


def test_permanent_delete_expunges_only_those(logged: tuple[ImapMailbox, CommandLog],
                                              server: Dovecot, filled: str,
                                              certs: Certs) -> None:
    box, _ = logged
    other = raw_client(server, filled, certs)
    try:
        other.select_folder("INBOX")
        other.add_flags([COUNT], [b"\\Deleted"])  # another client's pending delete
    finally:
        other.logout()
    ids = [s.id for s in box.iter_messages(FolderRole.INBOX)][1:11]
    box.delete(ids, permanent=True)
    left = {s.id for s in box.iter_messages(FolderRole.INBOX)}
    assert not left & set(ids)
    assert len(left) == COUNT - 10  # the other client's \\Deleted message is still there


def test_missing_ids_are_named(logged: tuple[ImapMailbox, CommandLog]) -> None:
    box, _ = logged
    real = next(box.iter_messages(FolderRole.INBOX)).id
    folder, validity, uid = real.rsplit(":", 2)
    stale = f"{folder}:{int(validity) + 1}:{uid}"  # the folder was rebuilt since
    wanted = [real, stale, "INBOX:1:999999", "not-an-id", "Nowhere:1:1"]
    with pytest.raises(errors.MessageNotFound) as info:
        box.set_flagged(wanted)
    assert set(info.value.missing) == set(wanted[1:])
    assert "\\Flagged" in next(s for s in box.iter_messages(FolderRole.INBOX)
                               if s.id == real).flags


def test_delete_to_trash_then_from_trash(logged: tuple[ImapMailbox, CommandLog]) -> None:
    box, _ = logged
    first = next(box.iter_messages(FolderRole.INBOX))
    box.delete([first.id])
    in_trash = [s for s in box.iter_messages(FolderRole.TRASH)]
    assert [s.message_id for s in in_trash] == [first.message_id]
    box.delete([in_trash[0].id])  # deleting from Trash removes it for good
    assert list(box.iter_messages(FolderRole.TRASH)) == []


def test_search_criteria_map_every_field() -> None:
    query = SearchQuery(from_="Jörg", to="bob", subject="Re:", text="pay",
                        since=dt.date(2026, 3, 10), before=dt.date(2026, 3, 12), unread=True,
                        flagged=False, message_id="a@b")
    assert criteria(query) == [
        "FROM", "Jörg", "OR", "TO", "bob", "CC", "bob", "SUBJECT", "Re:",
        "OR", "SUBJECT", "pay", "BODY", "pay", "SINCE", dt.date(2026, 3, 9),
        "BEFORE", dt.date(2026, 3, 14), "UNSEEN", "UNFLAGGED", "HEADER", "Message-ID", "<a@b>"]
    assert criteria(SearchQuery()) == ["ALL"]


def _mail(n: int, sender: str, refs: tuple[str, ...] = ()) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "alice@example.com"
    msg["Subject"] = "Angebot"
    msg["Date"] = format_datetime(dt.datetime(2026, 2, n, tzinfo=dt.timezone.utc))
    msg["Message-ID"] = f"<m{n}@example.net>"
    if refs:
        msg["In-Reply-To"] = refs[-1]
        msg["References"] = " ".join(refs)
    msg.set_content("Hallo\n")
    return msg.as_bytes()


def test_search_non_ascii_sender_and_replies_across_folders(dovecot: Dovecot,
                                                            certs: Certs) -> None:
    user = dovecot.new_user()
    other = raw_client(dovecot, user, certs)
    try:
        for folder, n, sender, refs in [
            ("Sent", 1, "Jörg Müller <joerg@example.de>", ()),
            ("INBOX", 2, "Anna <anna@example.de>", ("<m1@example.net>",)),
            ("Archive", 3, "Jörg Müller <joerg@example.de>",
             ("<m1@example.net>", "<m2@example.net>")),
            ("Drafts", 4, "Me <alice@example.com>", ("<m1@example.net>",)),
            ("INBOX", 5, "Anna <anna@example.de>", ("<m1@example.net.evil>",)),
        ]:
            other.append(folder, _mail(n, sender, refs),
                         msg_time=dt.datetime(2026, 2, n, tzinfo=dt.timezone.utc))
    finally:
        other.logout()
    with ImapMailbox(settings_for(dovecot, user, certs)) as box:
        found = box.search("Archive", SearchQuery(from_="Müller"))
        assert [s.message_id for s in found.items] == ["<m3@example.net>"]
        replies = box.find_replies("<m1@example.net>")
        # Archive and INBOX count, Drafts never; a look-alike id is no reply
        assert [s.message_id for s in replies] == ["<m3@example.net>", "<m2@example.net>"]
        conversation = box.thread("<m3@example.net>")
        assert [s.message_id for s in conversation] == [
            "<m1@example.net>", "<m2@example.net>", "<m3@example.net>", "<m4@example.net>"]


def test_search_in_a_folder_deleted_meanwhile_is_folder_not_found(dovecot: Dovecot,
                                                                  certs: Certs) -> None:
    user = dovecot.new_user()
    other = raw_client(dovecot, user, certs)
    try:
        other.create_folder("Projects")
        with ImapMailbox(settings_for(dovecot, user, certs)) as box:
            folder = box.folder("Projects")
            other.delete_folder("Projects")
            with pytest.raises(errors.FolderNotFound):
                box.search(folder, SearchQuery(subject="x"))
            with pytest.raises(errors.FolderNotFound):
                box.sync_token(folder)
    finally:
        other.logout()
