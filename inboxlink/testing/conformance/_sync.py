"""Conformance for the change feed: ``sync_token``/``changes`` (SyncTests) and ``watch`` (WatchTests)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import pytest

from inboxlink import errors
from inboxlink.changes import ChangeHint, ChangeSet
from inboxlink.mailbox import BaseMailbox, Mailbox
from inboxlink.mailbox_sync import PollPolicy
from inboxlink.models import Capability, FolderRole

from ._core import Deliver, make_message, require

__all__ = ["SyncTests", "WatchTests", "drain"]

INBOX = FolderRole.INBOX


def drain(mailbox: Mailbox, token: str, *, limit: int = 500, folder: object = INBOX,
          rounds: int = 50) -> tuple[list[ChangeSet], str]:
    """Call ``changes`` until ``more`` is false; the batches and the last token."""
    batches = []
    for _ in range(rounds):
        batch = mailbox.changes(folder, token, limit=limit)  # type: ignore[arg-type]
        batches.append(batch)
        token = batch.token
        if not batch.more:
            return batches, token
    raise AssertionError(f"changes() still said more=True after {rounds} calls")


def _ids(batches: list[ChangeSet], kind: str) -> list[str]:
    return [s if isinstance(s, str) else s.id for b in batches for s in getattr(b, kind)]


def _msgids(batches: list[ChangeSet], kind: str) -> list[str | None]:
    return [s.message_id for b in batches for s in getattr(b, kind)]


class SyncTests:
    """``sync_token`` and ``changes``: exactly what changed, resumable anywhere."""

    def test_no_change_is_an_empty_batch(self, mailbox: Mailbox, deliver: Deliver) -> None:
        require(mailbox, Capability.SYNC)
        deliver(make_message(1))
        token = mailbox.sync_token(INBOX)
        assert isinstance(token, str)
        assert token
        assert json.loads(json.dumps(token)) == token
        batch = mailbox.changes(INBOX, token)
        assert (batch.added, batch.updated, batch.removed, batch.more) == ((), (), (), False)
        assert isinstance(batch.token, str)
        assert batch.token

    def test_new_mail_is_added(self, mailbox: Mailbox, deliver: Deliver) -> None:
        require(mailbox, Capability.SYNC)
        deliver(make_message(1))
        token = mailbox.sync_token(INBOX)
        deliver(make_message(2))
        batches, token = drain(mailbox, token)
        assert _msgids(batches, "added") == ["<conformance2@example.net>"]
        assert _ids(batches, "updated") == []
        assert _ids(batches, "removed") == []
        listed = {s.id for s in mailbox.list_messages(INBOX).items
                  if s.message_id == "<conformance2@example.net>"}
        assert set(_ids(batches, "added")) == listed
        again = mailbox.changes(INBOX, token)
        assert not again
        assert again.more is False

    def test_older_message_read_state_is_updated(self, mailbox: Mailbox,
                                                 deliver: Deliver) -> None:
        require(mailbox, Capability.SYNC)
        require(mailbox, Capability.ACTIONS)
        deliver(make_message(1))
        deliver(make_message(2))
        old = next(s for s in mailbox.list_messages(INBOX).items
                   if s.message_id == "<conformance1@example.net>")
        token = mailbox.sync_token(INBOX)
        mailbox.set_read([old.id])
        batches, token = drain(mailbox, token)
        updated = [s for b in batches for s in b.updated]
        assert [s.id for s in updated] == [old.id]
        assert updated[0].seen
        assert _ids(batches, "added") == []
        assert _ids(batches, "removed") == []
        mailbox.set_read([old.id], False)
        batches, _ = drain(mailbox, token)
        assert [(s.id, s.seen) for b in batches for s in b.updated] == [(old.id, False)]

    def test_deleted_message_is_removed(self, mailbox: Mailbox, deliver: Deliver) -> None:
        require(mailbox, Capability.SYNC)
        require(mailbox, Capability.ACTIONS)
        deliver(make_message(1))
        deliver(make_message(2))
        gone = next(s for s in mailbox.list_messages(INBOX).items
                    if s.message_id == "<conformance1@example.net>")
        token = mailbox.sync_token(INBOX)
        mailbox.delete([gone.id])
        batches, _ = drain(mailbox, token)
        assert _ids(batches, "removed") == [gone.id]
        assert _ids(batches, "added") == []
        assert gone.id not in _ids(batches, "updated")

    def test_message_moved_in_is_added(self, mailbox: Mailbox, deliver: Deliver) -> None:
        require(mailbox, Capability.SYNC)
        require(mailbox, Capability.ACTIONS)
        deliver(make_message(1))
        first = mailbox.list_messages(INBOX).items[0]
        token = mailbox.sync_token(FolderRole.ARCHIVE)
        mailbox.move([first.id], FolderRole.ARCHIVE)
        batches, _ = drain(mailbox, token, folder=FolderRole.ARCHIVE)
        assert _msgids(batches, "added") == ["<conformance1@example.net>"]

    def test_token_survives_json_and_a_new_instance(
        self, mailbox: Mailbox, deliver: Deliver, reconnect: Callable[[], Mailbox]
    ) -> None:
        require(mailbox, Capability.SYNC)
        stored = json.dumps({"token": mailbox.sync_token(INBOX)})
        deliver(make_message(3))
        with reconnect() as other:
            batches, _ = drain(other, json.loads(stored)["token"])
        assert _msgids(batches, "added") == ["<conformance3@example.net>"]

    @pytest.mark.parametrize("garbage", ["garbage", "{}", '{"v": 1}', "0", "x" * 3000, "🙂"])
    def test_garbage_token_is_sync_token_expired(self, mailbox: Mailbox, garbage: str) -> None:
        require(mailbox, Capability.SYNC)
        with pytest.raises(errors.SyncTokenExpired) as info:
            mailbox.changes(INBOX, garbage)
        assert info.value.remedy
        assert info.value.provider

    def test_token_of_another_folder_is_refused(self, mailbox: Mailbox) -> None:
        require(mailbox, Capability.SYNC)
        token = mailbox.sync_token(FolderRole.SENT)
        with pytest.raises(errors.SyncTokenExpired):
            mailbox.changes(INBOX, token)

    def test_a_burst_pages_with_more(self, mailbox: Mailbox, deliver: Deliver) -> None:
        require(mailbox, Capability.SYNC)
        token = mailbox.sync_token(INBOX)
        for n in range(1, 13):
            deliver(make_message(n))
        batches, _ = drain(mailbox, token, limit=5)
        assert any(b.more for b in batches)
        assert all(len(b) <= 5 for b in batches)
        added = _msgids(batches, "added")
        assert sorted(added, key=str) == sorted(
            (f"<conformance{n}@example.net>" for n in range(1, 13)), key=str)


class WatchTests:
    """``watch``: a hint soon after a change; ends on timeout or ``stop()``."""

    #: seconds within which a delivery must give a hint (override per adapter)
    watch_latency: float = 10.0

    @pytest.fixture(autouse=True)
    def _quick_polls(self, mailbox: Mailbox) -> None:
        # Through the async face (`conformance.aio.blocking`), the mailbox behind it polls.
        target = getattr(getattr(mailbox, "aio", None), "sync", mailbox)
        if isinstance(target, BaseMailbox):
            target.poll_policy = PollPolicy(initial=0.2, factor=2.0, maximum=1.0)

    def test_delivery_gives_a_hint(self, mailbox: Mailbox, deliver: Deliver) -> None:
        require(mailbox, Capability.SYNC)
        watch = mailbox.watch(INBOX, timeout=self.watch_latency + 20)
        hints: list[ChangeHint] = []
        got = threading.Event()

        def consume() -> None:
            for hint in watch:
                hints.append(hint)
                got.set()
                return

        worker = threading.Thread(target=consume, daemon=True)
        worker.start()
        time.sleep(1.0)  # let the watch take its baseline / start idling
        started = time.monotonic()
        deliver(make_message(1))
        assert got.wait(self.watch_latency), "no hint within the documented latency"
        assert time.monotonic() - started <= self.watch_latency
        assert hints[0].folder_id == mailbox.folder(INBOX).id
        watch.stop()
        worker.join(10)
        assert not worker.is_alive()

    def test_timeout_ends_quietly(self, mailbox: Mailbox) -> None:
        require(mailbox, Capability.SYNC)
        started = time.monotonic()
        assert list(mailbox.watch(INBOX, timeout=1.5)) == []
        assert 1.0 <= time.monotonic() - started < 12

    def test_stop_from_another_thread(self, mailbox: Mailbox) -> None:
        require(mailbox, Capability.SYNC)
        watch = mailbox.watch(INBOX, timeout=120)
        threading.Timer(0.5, watch.stop).start()
        started = time.monotonic()
        assert list(watch) == []
        assert time.monotonic() - started < 10
        assert watch.stopped
