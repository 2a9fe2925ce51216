"""``watch()`` on a real Dovecot: IDLE hints within a second for another client's append,
flag and expunge; IDLE re-issued; one connection of the budget; DONE on stop; a server
restart survived; NOOP polling where IDLE is not offered."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from imapclient import IMAPClient

from inboxlink.adapters.imap import ImapMailbox
from inboxlink.changes import ChangeHint
from inboxlink.mailbox_sync import PollPolicy, Watch
from inboxlink.models import Capability, FolderRole
from inboxlink.testing.conformance import make_message

from .dovecot import Dovecot
from .helpers import Certs, CommandLog, command_log, raw_client, settings_for


class Consumer:
    """Iterates a watch in a thread; hints land in a queue."""

    def __init__(self, watch: Watch) -> None:
        self.watch = watch
        self.hints: queue.Queue[ChangeHint] = queue.Queue()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for hint in self.watch:
                self.hints.put(hint)
        except BaseException as exc:  # the test asserts on it
            self.error = exc

    def next_hint(self, within: float) -> ChangeHint:
        try:
            return self.hints.get(timeout=within)
        except queue.Empty:
            raise AssertionError(f"no hint within {within} s (watch error: "
                                 f"{self.error!r})") from None

    def drain(self) -> None:
        while not self.hints.empty():
            self.hints.get_nowait()

    def stop(self) -> None:
        self.watch.stop()
        self.thread.join(10)
        assert not self.thread.is_alive()


@pytest.fixture
def account(dovecot: Dovecot) -> str:
    user = dovecot.new_user()
    for n in range(1, 4):
        dovecot.deliver(user, make_message(n))
    return user


@pytest.fixture
def other(dovecot: Dovecot, account: str, certs: Certs) -> Iterator[IMAPClient]:
    client = raw_client(dovecot, account, certs)
    client.select_folder("INBOX")
    yield client
    client.logout()


def _until(done: Callable[[], bool], what: str, within: float = 30.0) -> None:
    """Wait for ``done`` with a deadline generous enough for a loaded machine."""
    deadline = time.monotonic() + within
    while not done():
        assert time.monotonic() < deadline, f"{what} within {within} s"
        time.sleep(0.02)


def _listening(log: CommandLog, command: str = "IDLE") -> None:
    """Wait until the watch has selected its folder and sent its first IDLE (or NOOP): a
    change made before that is already in the folder it selects, and gives no hint."""
    _until(lambda: command in log.commands, f"the watch sent no {command}")


def _timed(consumer: Consumer, act: Callable[[], object]) -> tuple[ChangeHint, float]:
    time.sleep(0.3)  # a quiet moment: notices of the previous change have all arrived
    consumer.drain()
    started = time.monotonic()
    act()
    hint = consumer.next_hint(within=5)
    return hint, time.monotonic() - started


def test_idle_hints_within_a_second(dovecot: Dovecot, account: str, certs: Certs,
                                    other: IMAPClient) -> None:
    with command_log() as log, ImapMailbox(settings_for(dovecot, account, certs)) as box:
        assert Capability.WATCH in box.capabilities
        consumer = Consumer(box.watch(FolderRole.INBOX, timeout=60))
        try:
            _listening(log)
            hint, took = _timed(consumer, lambda: other.append("INBOX", make_message(9)))
            assert (hint.reason, hint.folder_id) == ("exists", "INBOX")
            assert took < 1.0
            hint, took = _timed(consumer, lambda: other.add_flags([1], [b"\\Seen"]))
            assert hint.reason == "flags"
            assert took < 1.0
            hint, _ = _timed(consumer, lambda: other.add_flags([2], [b"\\Deleted"]))
            assert hint.reason == "flags"
            hint, took = _timed(consumer, lambda: other.uid_expunge([2]))
            assert hint.reason == "expunge"
            assert took < 1.0
            # the watch holds exactly one connection of the budget
            assert box.open_connections <= 2
        finally:
            consumer.stop()
        assert consumer.error is None


def test_idle_is_reissued_and_done_on_stop(dovecot: Dovecot, account: str, certs: Certs,
                                           other: IMAPClient) -> None:
    with command_log() as log, ImapMailbox(settings_for(dovecot, account, certs,
                                                        idle_restart=0.4)) as box:
        before = box.open_connections
        consumer = Consumer(box.watch(FolderRole.INBOX, timeout=60))
        _until(lambda: log.commands.count("IDLE") >= 3, "IDLE was not re-issued twice")
        hint, took = _timed(consumer, lambda: other.append("INBOX", make_message(9)))
        assert hint.reason == "exists"
        assert took < 1.0
        consumer.stop()
        assert log.commands.count("IDLE") >= 3
        assert box.open_connections <= before  # its connection was given back (logged out)
    assert consumer.error is None


def test_closing_the_mailbox_ends_the_watch(dovecot: Dovecot, account: str,
                                            certs: Certs) -> None:
    with command_log() as log:
        box = ImapMailbox(settings_for(dovecot, account, certs))
        consumer = Consumer(box.watch(FolderRole.INBOX))
        _listening(log)  # closed while IDLE runs, not before the watch started
        box.close()
    consumer.thread.join(5)
    assert not consumer.thread.is_alive()
    assert consumer.error is None


def test_a_server_restart_is_survived(certs: Certs) -> None:
    server = Dovecot(certs.chain_file, certs.key_file, name="restart", fresh_users=2)
    server.ca_file = certs.ca_file
    try:
        user = server.new_user()
        server.deliver(user, make_message(1))
        with command_log() as log, ImapMailbox(settings_for(server, user, certs)) as box:
            consumer = Consumer(box.watch(FolderRole.INBOX, timeout=60))
            _listening(log)  # a watch still connecting would see no drop
            server.restart(pause=1.0)
            hint = consumer.next_hint(within=15)
            assert hint.reason == "reconnected"
            hint, took = _timed(consumer, lambda: server.deliver(user, make_message(2)))
            assert hint.reason == "exists"
            assert took < 1.5
            consumer.stop()
            assert consumer.error is None
            newest = box.list_messages(FolderRole.INBOX, limit=1).items
            assert [s.message_id for s in newest] == ["<conformance2@example.net>"]
    finally:
        server.stop()


def test_noop_polling_without_idle(dovecot_basic: Dovecot, certs: Certs) -> None:
    user = dovecot_basic.new_user()
    dovecot_basic.deliver(user, make_message(1))
    with command_log() as log, ImapMailbox(settings_for(dovecot_basic, user, certs)) as box:
        assert Capability.WATCH not in box.capabilities
        box.poll_policy = PollPolicy(initial=0.2, factor=2.0, maximum=0.4)
        consumer = Consumer(box.watch(FolderRole.INBOX, timeout=60))
        _listening(log, "NOOP")
        hint, took = _timed(consumer, lambda: dovecot_basic.deliver(user, make_message(2)))
        assert hint.reason == "exists"
        assert took < 1.5
        consumer.stop()
    assert "NOOP" in log.commands
    assert "IDLE" not in log.commands
    assert consumer.error is None


def test_the_watch_takes_one_slot_of_the_budget(dovecot: Dovecot, account: str, certs: Certs,
                                                other: IMAPClient) -> None:
    """With a budget of two, a watch and the sync loop it drives fit side by side."""
    with command_log() as log, ImapMailbox(settings_for(dovecot, account, certs,
                                                        max_connections=2)) as box:
        token = box.sync_token(FolderRole.INBOX)
        consumer = Consumer(box.watch(FolderRole.INBOX, timeout=60))
        try:
            _listening(log)
            hint, _ = _timed(consumer, lambda: other.append("INBOX", make_message(9)))
            assert hint.reason == "exists"
            batch = box.changes(FolderRole.INBOX, token)  # on the other slot, meanwhile
            assert [s.message_id for s in batch.added] == ["<conformance9@example.net>"]
            assert box.open_connections == 2
        finally:
            consumer.stop()
        assert consumer.error is None
