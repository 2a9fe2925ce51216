"""The IMAP change feed against a real Dovecot, with and without CONDSTORE/QRESYNC.

A second, raw imapclient session plays another mail client: it appends, flags, expunges and
MOVEs, and ``changes()`` must report exactly that.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from inboxlink import errors
from inboxlink.adapters.imap import ImapMailbox
from inboxlink.changes import ChangeSet
from inboxlink.models import FolderRole
from inboxlink.testing.conformance import make_message

from .dovecot import Dovecot
from .helpers import Certs, command_log, raw_client, settings_for


@pytest.fixture(params=["qresync", "basic"])
def server(request: pytest.FixtureRequest) -> Dovecot:
    """The main Dovecot (QRESYNC) and the one without CONDSTORE/QRESYNC."""
    name = "dovecot" if request.param == "qresync" else "dovecot_basic"
    found: Dovecot = request.getfixturevalue(name)
    return found


@pytest.fixture
def account(server: Dovecot) -> str:
    user = server.new_user()
    for n in range(1, 6):
        server.deliver(user, make_message(n))
    return user


@pytest.fixture
def mailbox(server: Dovecot, account: str, certs: Certs) -> Iterator[ImapMailbox]:
    with ImapMailbox(settings_for(server, account, certs)) as box:
        yield box


def _by_msgid(box: ImapMailbox, folder: str = "INBOX") -> dict[str, str]:
    return {s.message_id or "": s.id for s in box.iter_messages(folder)}


def _drain(box: ImapMailbox, token: str, folder: object = FolderRole.INBOX,
           limit: int = 500) -> tuple[ChangeSet, str]:
    added, updated, removed = [], [], []
    for _ in range(100):
        batch = box.changes(folder, token, limit=limit)  # type: ignore[arg-type]
        added += batch.added
        updated += batch.updated
        removed += batch.removed
        token = batch.token
        if not batch.more:
            return ChangeSet(added=added, updated=updated, removed=removed), token
    raise AssertionError("changes() never ended")


def test_another_clients_append_flag_expunge_and_move(mailbox: ImapMailbox, server: Dovecot,
                                                      account: str, certs: Certs) -> None:
    ids = _by_msgid(mailbox)
    token = mailbox.sync_token(FolderRole.INBOX)
    other = raw_client(server, account, certs)
    try:
        other.select_folder("INBOX")
        uid = {m: int(i.rsplit(":", 1)[1]) for m, i in ids.items()}
        other.add_flags([uid["<conformance1@example.net>"]], [b"\\Seen"])
        other.add_flags([uid["<conformance2@example.net>"]], [b"\\Flagged"])
        other.add_flags([uid["<conformance3@example.net>"]], [b"\\Deleted"])
        other.uid_expunge([uid["<conformance3@example.net>"]])
        # Without MOVE on the server the other client copies and expunges, as clients do.
        if other.has_capability("MOVE"):
            other.move([uid["<conformance4@example.net>"]], "Archive")
        else:
            other.copy([uid["<conformance4@example.net>"]], "Archive")
            other.add_flags([uid["<conformance4@example.net>"]], [b"\\Deleted"])
            other.uid_expunge([uid["<conformance4@example.net>"]])
        other.append("INBOX", make_message(9))
    finally:
        other.logout()
    batch, token = _drain(mailbox, token)
    assert [s.message_id for s in batch.added] == ["<conformance9@example.net>"]
    assert {s.id: (s.seen, "\\Flagged" in s.flags) for s in batch.updated} == {
        ids["<conformance1@example.net>"]: (True, False),
        ids["<conformance2@example.net>"]: (False, True),
    }
    assert sorted(batch.removed) == sorted(
        [ids["<conformance3@example.net>"], ids["<conformance4@example.net>"]])
    assert batch.added[0].id == _by_msgid(mailbox)["<conformance9@example.net>"]
    again, _ = _drain(mailbox, token)
    assert not again


def test_moved_in_by_another_client_is_added(mailbox: ImapMailbox, server: Dovecot,
                                             account: str, certs: Certs) -> None:
    token = mailbox.sync_token(FolderRole.ARCHIVE)
    other = raw_client(server, account, certs)
    try:
        other.select_folder("INBOX")
        other.copy([1], "Archive")
    finally:
        other.logout()
    batch, _ = _drain(mailbox, token, FolderRole.ARCHIVE)
    assert [s.message_id for s in batch.added] == ["<conformance1@example.net>"]
    assert batch.added[0].folder_id == "Archive"


def test_no_change_costs_at_most_two_commands(server: Dovecot, account: str,
                                              certs: Certs) -> None:
    with command_log() as log, ImapMailbox(settings_for(server, account, certs)) as box:
        token = box.sync_token(FolderRole.INBOX)
        box.folders()  # resolve the role outside the measured call
        mark = len(log.commands)
        batch = box.changes(FolderRole.INBOX, token)
        warm = log.since(mark)
        with ImapMailbox(settings_for(server, account, certs)) as fresh:  # another process
            fresh.folders()
            mark = len(log.commands)
            again = fresh.changes(FolderRole.INBOX, token)
            cold = log.since(mark)
    assert not batch
    assert not again
    assert batch.token
    if "QRESYNC" in box.server_capabilities:
        # the folder is open on the pooled connection: NOOP brings it up to date, and
        # CHANGEDSINCE/VANISHED says nothing changed; a new connection re-opens it with
        # EXAMINE … (QRESYNC (v m)) once QRESYNC is enabled
        assert warm == ["NOOP", "UID FETCH"]
        assert cold == ["ENABLE", "EXAMINE"]
    else:
        assert warm == cold == ["EXAMINE", "UID FETCH"]


def test_changes_cost_a_fixed_number_of_commands(server: Dovecot, account: str,
                                                 certs: Certs) -> None:
    with command_log() as log, ImapMailbox(settings_for(server, account, certs)) as box:
        token = box.sync_token(FolderRole.INBOX)
        box.folders()
        for n in range(20, 40):
            server.deliver(account, make_message(n))
        mark = len(log.commands)
        batch = box.changes(FolderRole.INBOX, token)
        sent = log.since(mark)
    assert len(batch.added) == 20
    # the change check (NOOP + UID FETCH CHANGEDSINCE, or EXAMINE + UID FETCH FLAGS on the
    # fallback) and one UID FETCH of the summaries, whatever the number of changes
    assert len(sent) == 3, sent
    assert sent[-1] == "UID FETCH"


def test_uidvalidity_change_expires_the_token(mailbox: ImapMailbox, server: Dovecot,
                                              account: str, certs: Certs) -> None:
    other = raw_client(server, account, certs)
    try:
        other.create_folder("Projects")
        other.append("Projects", make_message(7))
        token = mailbox.sync_token("Projects")
        # Deleting and re-creating a folder gives it a new UIDVALIDITY.
        other.delete_folder("Projects")
        other.create_folder("Projects")
        other.append("Projects", make_message(8))
    finally:
        other.logout()
    mailbox.folders(refresh=True)
    with pytest.raises(errors.SyncTokenExpired) as info:
        mailbox.changes("Projects", token)
    assert info.value.code == "UIDVALIDITY"
    assert info.value.remedy


def test_tampered_tokens_are_refused(mailbox: ImapMailbox) -> None:
    token = json.loads(mailbox.sync_token(FolderRole.INBOX))
    native = "highestmodseq" in token
    for bad in ({**token, "uidvalidity": "x"}, {**token, "folder": "Sent"},
                {**token, "round": [1, [1], 2]} if native else {**token, "uids": "5:x"},
                {**token, "highestmodseq": None} if native else {**token, "flags": [1]}):
        with pytest.raises(errors.SyncTokenExpired):
            mailbox.changes(FolderRole.INBOX, json.dumps(bad))
    if native:
        ahead = {**token, "highestmodseq": token["highestmodseq"] + 1000}
        with pytest.raises(errors.SyncTokenExpired):
            mailbox.changes(FolderRole.INBOX, json.dumps(ahead))


def test_changes_during_paging_are_not_lost(mailbox: ImapMailbox, server: Dovecot,
                                            account: str, certs: Certs) -> None:
    ids = _by_msgid(mailbox)
    token = mailbox.sync_token(FolderRole.INBOX)
    for n in range(10, 16):
        server.deliver(account, make_message(n))
    first = mailbox.changes(FolderRole.INBOX, token, limit=2)
    assert first.more
    assert len(first) == 2
    other = raw_client(server, account, certs)
    try:
        other.select_folder("INBOX")
        other.add_flags([int(ids["<conformance5@example.net>"].rsplit(":", 1)[1])], [b"\\Seen"])
        other.append("INBOX", make_message(20))
    finally:
        other.logout()
    # What changed during the round comes in this round or, at the latest, in the next.
    rest, token = _drain(mailbox, first.token, limit=2)
    later, token = _drain(mailbox, token, limit=2)
    added = [s.message_id for s in (*first.added, *rest.added, *later.added)]
    assert sorted(added, key=str) == sorted(
        (f"<conformance{n}@example.net>" for n in (*range(10, 16), 20)), key=str)
    assert ids["<conformance5@example.net>"] in {s.id for s in (*rest.updated, *later.updated)}
    assert not _drain(mailbox, token)[0]


def test_a_sync_loop_sees_every_change_one_by_one(mailbox: ImapMailbox, server: Dovecot,
                                                  account: str, certs: Certs) -> None:
    """The same connection keeps the folder open between calls (the cheap path on QRESYNC):
    each change shows up in the very next call, and a quiet call is empty."""
    ids = _by_msgid(mailbox)
    uid = {m: int(i.rsplit(":", 1)[1]) for m, i in ids.items()}
    token = mailbox.sync_token(FolderRole.INBOX)
    other = raw_client(server, account, certs)
    try:
        other.select_folder("INBOX")
        for round_ in range(2):
            target = f"<conformance{round_ + 1}@example.net>"
            other.add_flags([uid[target]], [b"\\Flagged"])
            batch = mailbox.changes(FolderRole.INBOX, token)
            assert ([s.id for s in batch.updated], batch.added, batch.removed) == \
                ([ids[target]], (), ())
            token = batch.token
            other.append("INBOX", make_message(30 + round_))
            batch = mailbox.changes(FolderRole.INBOX, token)
            assert [s.message_id for s in batch.added] == [f"<conformance{30 + round_}@example.net>"]
            assert (batch.updated, batch.removed) == ((), ())
            token = batch.token
            quiet = mailbox.changes(FolderRole.INBOX, token)
            assert not quiet
            token = quiet.token
            gone = f"<conformance{round_ + 3}@example.net>"
            other.add_flags([uid[gone]], [b"\\Deleted"])
            other.uid_expunge([uid[gone]])
            batch = mailbox.changes(FolderRole.INBOX, token)
            assert (batch.removed, batch.added, batch.updated) == ((ids[gone],), (), ())
            token = batch.token
            assert not mailbox.changes(FolderRole.INBOX, token)
    finally:
        other.logout()
