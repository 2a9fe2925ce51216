"""The Gmail change feed on users.history.list: label mapping, paging, request counts."""

from __future__ import annotations

import json
import math
from urllib.parse import parse_qs, urlsplit

import attrs
import pytest

from inboxlink import errors
from inboxlink.adapters.gmail import GmailMailbox
from inboxlink.adapters.gmail.sync import TOKENS
from inboxlink.models import FolderRole
from inboxlink.testing.conformance import drain, make_message

from .emulator import GmailEmulator
from .support import make_mailbox

HISTORY = ("GET", "/gmail/v1/users/me/history")
PROFILE = ("GET", "/gmail/v1/users/me/profile")
BATCH = ("POST", "/batch/gmail/v1")


@pytest.fixture
def mailbox(emulator: GmailEmulator) -> GmailMailbox:
    box = make_mailbox(emulator)
    box.folders()
    return box


def _kinds(batches: list, msgid: str | None = None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"added": [], "updated": [], "removed": []}
    for batch in batches:
        out["added"] += [s.id for s in batch.added]
        out["updated"] += [s.id for s in batch.updated]
        out["removed"] += list(batch.removed)
    return out


def test_token_names_label_and_history_id(emulator: GmailEmulator,
                                         mailbox: GmailMailbox) -> None:
    emulator.deliver(make_message(1))
    emulator.reset_counts()
    token = mailbox.sync_token(FolderRole.INBOX)
    assert emulator.requests == [PROFILE]
    assert json.loads(json.dumps(token)) == token  # JSON-safe
    assert TOKENS.decode(token, "INBOX") == {"history": str(emulator.history[-1].id)}


def test_no_change_is_one_request(emulator: GmailEmulator, mailbox: GmailMailbox) -> None:
    emulator.deliver(make_message(1))
    token = mailbox.sync_token("INBOX")
    emulator.reset_counts()
    before = mailbox.units_spent
    batch = mailbox.changes("INBOX", token)
    assert not batch
    assert batch.more is False
    assert emulator.requests == [HISTORY]
    assert mailbox.units_spent - before == 2


def test_new_mail_costs_one_history_page_and_one_batch(emulator: GmailEmulator,
                                                       mailbox: GmailMailbox) -> None:
    for n in range(200):
        emulator.deliver(make_message(n))
    token = mailbox.sync_token("INBOX")
    new = [emulator.deliver(make_message(1000 + n)) for n in range(10)]
    emulator.reset_counts()
    batch = mailbox.changes("INBOX", token)
    assert [s.id for s in batch.added] == new
    assert emulator.requests == [HISTORY, BATCH]
    assert emulator.batch_sizes == [10]


def test_history_pages_through_next_page_token(emulator: GmailEmulator,
                                               mailbox: GmailMailbox) -> None:
    token = mailbox.sync_token("INBOX")
    new = [emulator.deliver(make_message(n)) for n in range(12)]
    mailbox.history_page_size = 5  # type: ignore[misc]
    emulator.reset_counts()
    batches, _ = drain(mailbox, token, limit=500)
    assert len(batches) == 1
    assert [s.id for s in batches[0].added] == new
    assert emulator.requests.count(HISTORY) == math.ceil(12 / 5)
    # every page after the first carries the pageToken of the one before
    queries = [parse_qs(urlsplit(p).query) for p in _history_urls(emulator)]
    assert "pageToken" not in queries[0]
    assert all("pageToken" in q for q in queries[1:])


def _history_urls(emulator: GmailEmulator) -> list[str]:
    return [target for target in emulator.targets if "/history" in target]


def test_label_changes_map_to_the_folder(emulator: GmailEmulator, mailbox: GmailMailbox) -> None:
    work = emulator.add_label("Work")
    mailbox.folders(refresh=True)
    read = emulator.deliver(make_message(1))
    starred = emulator.deliver(make_message(2))
    tagged = emulator.deliver(make_message(3))
    archived = emulator.deliver(make_message(4))
    back = emulator.deliver(make_message(5), labels=("UNREAD",))
    gone = emulator.deliver(make_message(6))
    trashed = emulator.deliver(make_message(7))
    to_work = emulator.deliver(make_message(8))
    inbox_token = mailbox.sync_token("INBOX")
    work_token = mailbox.sync_token("Work")
    archive_token = mailbox.sync_token(FolderRole.ARCHIVE)
    emulator.relabel(read, remove=("UNREAD",))
    emulator.relabel(starred, add=("STARRED",))
    emulator.relabel(tagged, add=(work,))
    emulator.relabel(archived, remove=("INBOX",))
    emulator.relabel(back, add=("INBOX",))
    emulator.remove(gone)
    emulator.relabel(trashed, add=("TRASH",))
    emulator.relabel(to_work, add=(work,), remove=("INBOX",))

    inbox, _ = drain(mailbox, inbox_token)
    assert _kinds(inbox) == {"added": [back], "updated": [read, starred, tagged],
                             "removed": [archived, gone, trashed, to_work]}
    updated = {s.id: s for b in inbox for s in b.updated}
    assert updated[read].seen
    assert "\\Flagged" in updated[starred].flags

    in_work, _ = drain(mailbox, work_token, folder="Work")
    assert _kinds(in_work) == {"added": [tagged, to_work], "updated": [], "removed": []}

    in_archive, _ = drain(mailbox, archive_token, folder=FolderRole.ARCHIVE)
    assert _kinds(in_archive) == {"added": [archived, to_work], "updated": [],
                                  "removed": [back]}


def test_history_is_read_unfiltered(emulator: GmailEmulator, mailbox: GmailMailbox) -> None:
    # Gmail does not document whether labelId=INBOX returns a message that *lost* INBOX;
    # the emulator takes the narrow reading, so a feed relying on it would miss archiving.
    for folder in ("INBOX", FolderRole.ARCHIVE, "SENT"):
        token = mailbox.sync_token(folder)
        emulator.reset_counts()
        mailbox.changes(folder, token)
        (query,) = [parse_qs(urlsplit(t).query) for t in _history_urls(emulator)]
        assert "labelId" not in query
        assert sorted(query["historyTypes"]) == sorted(
            ["messageAdded", "messageDeleted", "labelAdded", "labelRemoved"])


def test_changes_elsewhere_neither_show_nor_fill_the_limit(emulator: GmailEmulator,
                                                          mailbox: GmailMailbox) -> None:
    token = mailbox.sync_token("INBOX")
    for n in range(8):
        emulator.deliver(make_message(n), labels=("SENT",))
    mine = emulator.deliver(make_message(99))
    emulator.reset_counts()
    batch = mailbox.changes("INBOX", token, limit=3)
    assert [s.id for s in batch.added] == [mine]
    assert batch.more is False
    assert TOKENS.decode(batch.token, "INBOX")["history"] == str(emulator.history[-1].id)
    assert emulator.requests == [("GET", "/gmail/v1/users/me/history"), BATCH]


def test_arrived_and_gone_in_one_window_is_not_reported(emulator: GmailEmulator,
                                                        mailbox: GmailMailbox) -> None:
    token = mailbox.sync_token("INBOX")
    brief = emulator.deliver(make_message(1))
    emulator.remove(brief)
    kept = emulator.deliver(make_message(2))
    emulator.relabel(kept, remove=("UNREAD",))
    batches, _ = drain(mailbox, token)
    assert _kinds(batches) == {"added": [kept], "updated": [], "removed": []}
    assert batches[0].added[0].seen


def test_updated_message_deleted_before_its_summary_is_read_is_removed(
        emulator: GmailEmulator, mailbox: GmailMailbox) -> None:
    old = emulator.deliver(make_message(1))
    token = mailbox.sync_token("INBOX")
    emulator.relabel(old, remove=("UNREAD",))
    # The summary batch finds the message gone (404 inside the batch).
    emulator.fail("messages.get", 404, {"error": {
        "code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND",
        "errors": [{"message": "Requested entity was not found.", "domain": "global",
                    "reason": "notFound"}]}})
    batch = mailbox.changes("INBOX", token)
    assert (batch.added, batch.updated, batch.removed) == ((), (), (old,))


def test_forgotten_history_is_sync_token_expired(emulator: GmailEmulator,
                                                 mailbox: GmailMailbox) -> None:
    token = mailbox.sync_token("INBOX")
    emulator.deliver(make_message(1))
    emulator.forget_history()
    with pytest.raises(errors.SyncTokenExpired) as info:
        mailbox.changes("INBOX", token)
    assert info.value.provider == "gmail"
    fresh = mailbox.sync_token("INBOX")
    assert not mailbox.changes("INBOX", fresh)


@pytest.mark.parametrize("token", [
    TOKENS.encode("INBOX", {"history": "-4"}), TOKENS.encode("INBOX", {"history": 4}),
    TOKENS.encode("INBOX", {}), TOKENS.encode("SENT", {"history": "4"}),
    attrs.evolve(TOKENS, version=2).encode("INBOX", {"history": "4"}),
    '{"v":1,"label":"INBOX","history":"4"}', '["INBOX", "4"]', "null",
])
def test_malformed_tokens_never_reach_the_server(emulator: GmailEmulator,
                                                 mailbox: GmailMailbox, token: str) -> None:
    emulator.reset_counts()
    with pytest.raises(errors.SyncTokenExpired):
        mailbox.changes("INBOX", token)
    assert emulator.requests == []


def test_limit_splits_a_burst_and_resumes_exactly(emulator: GmailEmulator,
                                                  mailbox: GmailMailbox) -> None:
    token = mailbox.sync_token("INBOX")
    new = [emulator.deliver(make_message(n)) for n in range(7)]
    first = mailbox.changes("INBOX", token, limit=3)
    assert first.more
    assert [s.id for s in first.added] == new[:3]
    second = mailbox.changes("INBOX", first.token, limit=3)
    third = mailbox.changes("INBOX", second.token, limit=3)
    assert [s.id for s in (*second.added, *third.added)] == new[3:]
    assert third.more is False


def test_watch_polls_history_only(emulator: GmailEmulator, mailbox: GmailMailbox) -> None:
    import threading

    from inboxlink.mailbox_sync import PollPolicy

    mailbox.poll_policy = PollPolicy(initial=0.05, factor=1.0, maximum=0.05)
    emulator.reset_counts()
    watch = mailbox.watch("INBOX", timeout=20)
    hints = []
    thread = threading.Thread(target=lambda: hints.append(next(watch)), daemon=True)
    thread.start()
    while ("GET", "/gmail/v1/users/me/history") not in emulator.requests:
        assert thread.is_alive()
        threading.Event().wait(0.02)
    for n in range(50):
        emulator.deliver(make_message(n))
    thread.join(10)
    assert [h.reason for h in hints] == ["poll"]
    # the baseline, then history pages only: no summaries are read for a hint
    assert emulator.requests[0] == PROFILE
    assert set(emulator.requests[1:]) == {HISTORY}
    watch.stop()


def test_watch_after_forgotten_history_hints_resync(emulator: GmailEmulator,
                                                    mailbox: GmailMailbox) -> None:
    from inboxlink.mailbox_sync import PollPolicy

    mailbox.poll_policy = PollPolicy(initial=0.05, factor=1.0, maximum=0.05)
    watch = mailbox.watch("INBOX", timeout=20)
    watch.set_poll_token(mailbox.sync_token("INBOX"))
    emulator.deliver(make_message(1))
    emulator.forget_history()
    assert next(watch).reason == "resync"
    emulator.deliver(make_message(2))
    assert next(watch).reason == "poll"
    watch.stop()
