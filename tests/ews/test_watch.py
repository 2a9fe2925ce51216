"""EWS ``watch()`` on streaming notifications, against the emulator's GetStreamingEvents."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from inboxlink import errors
from inboxlink.adapters.ews import EwsMailbox
from inboxlink.changes import ChangeHint
from inboxlink.mailbox_sync import Watch
from inboxlink.models import FolderRole
from inboxlink.testing.conformance import make_message

from .conftest import ADDRESS
from .emulator import EwsEmulator

Connect = Callable[..., Any]
INBOX = FolderRole.INBOX


class Consumer:
    """Iterates a watch in a thread; hints (or the error that ended it) land in a queue."""

    def __init__(self, watch: Watch) -> None:
        self.watch = watch
        self.found: queue.Queue[ChangeHint | BaseException] = queue.Queue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for hint in self.watch:
                self.found.put(hint)
        except BaseException as exc:  # handed to the test
            self.found.put(exc)

    def next(self, timeout: float = 5.0) -> ChangeHint:
        got = self.found.get(timeout=timeout)
        if isinstance(got, BaseException):
            raise got
        return got

    def end(self) -> None:
        self.watch.stop()
        self.thread.join(5)
        assert not self.thread.is_alive()


@pytest.fixture
def watching(connect: Connect) -> Iterator[Callable[..., tuple[EwsMailbox, Consumer]]]:
    started: list[Consumer] = []

    def start(timeout: float = 60, **options: Any) -> tuple[EwsMailbox, Consumer]:
        mailbox: EwsMailbox = connect(**options)
        consumer = Consumer(mailbox.watch(INBOX, timeout=timeout))
        started.append(consumer)
        return mailbox, consumer

    yield start
    for consumer in started:
        consumer.end()


def _wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def _streaming(emulator: EwsEmulator, connections: int = 1) -> None:
    _wait_for(lambda: emulator.count("GetStreamingEvents") >= connections
              and bool(emulator._streams))


def test_a_delivery_is_notified_without_polling(emulator: EwsEmulator, watching: Any) -> None:
    mailbox, consumer = watching()
    _streaming(emulator)
    started = time.monotonic()
    emulator.deliver(ADDRESS, make_message(1))
    hint = consumer.next()
    assert time.monotonic() - started < 2.0  # the emulator pushes within ~20 ms
    assert hint.reason == "notification"
    assert hint.folder_id == mailbox.folder(INBOX).id
    assert emulator.count("SyncFolderItems") == 0  # pushed, not polled
    assert emulator.count("Subscribe") == 1
    consumer.end()
    _wait_for(lambda: emulator.subscription_count == 0)
    assert emulator.count("Unsubscribe") == 1


def test_flag_and_delete_changes_are_notified(emulator: EwsEmulator, watching: Any) -> None:
    item_id = emulator.deliver(ADDRESS, make_message(1))
    mailbox, consumer = watching()
    _streaming(emulator)
    mailbox.set_read([item_id])
    assert consumer.next().reason == "notification"
    mailbox.delete([item_id])
    assert consumer.next().reason == "notification"


def test_the_watch_does_not_hold_the_mailboxs_connection(emulator: EwsEmulator,
                                                         watching: Any) -> None:
    mailbox, _ = watching()
    _streaming(emulator)
    token = mailbox.sync_token(INBOX)
    started = time.monotonic()
    assert not mailbox.changes(INBOX, token)
    assert time.monotonic() - started < 2.0


def test_heartbeats_and_reopened_connections_are_quiet(emulator: EwsEmulator,
                                                       connect: Connect) -> None:
    emulator.stream_seconds = 0.3
    emulator.heartbeat_seconds = 0.1
    mailbox: EwsMailbox = connect()
    assert list(mailbox.watch(INBOX, timeout=1.5)) == []
    # Exchange closed each connection (ConnectionStatus Closed): re-opened, one subscription
    assert emulator.count("GetStreamingEvents") >= 2
    assert emulator.count("Subscribe") == 1
    _wait_for(lambda: emulator.subscription_count == 0)


def test_a_dropped_connection_is_survived(emulator: EwsEmulator, watching: Any) -> None:
    _, consumer = watching()
    _streaming(emulator)
    emulator.drop_streams()
    emulator.deliver(ADDRESS, make_message(1))
    assert consumer.next().reason == "notification"
    assert emulator.count("GetStreamingEvents") == 2
    assert emulator.count("Subscribe") == 1  # same subscription: its events were kept


def test_an_expired_subscription_is_renewed_with_a_hint(emulator: EwsEmulator,
                                                        watching: Any) -> None:
    _, consumer = watching()
    _streaming(emulator)
    emulator.expire_subscriptions()
    assert consumer.next().reason == "resubscribed"
    assert emulator.count("Subscribe") == 2
    _streaming(emulator, connections=2)
    emulator.deliver(ADDRESS, make_message(1))
    assert consumer.next().reason == "notification"


def test_a_permanent_failure_raises_the_typed_error(emulator: EwsEmulator,
                                                    watching: Any) -> None:
    emulator.fail_next("Subscribe", "ErrorAccessDenied")
    _, consumer = watching()
    with pytest.raises(errors.PermissionDenied):
        consumer.next()


def test_a_connection_that_keeps_failing_gives_up(emulator: EwsEmulator,
                                                  watching: Any) -> None:
    emulator.fail_next("http:GetStreamingEvents", kind="close", times=10)
    _, consumer = watching()
    with pytest.raises(errors.InboxLinkError):
        consumer.next(timeout=20)
    assert emulator.count("GetStreamingEvents") == 5  # first try + 4 bounded retries


def test_closing_the_mailbox_ends_the_watch(emulator: EwsEmulator, watching: Any) -> None:
    mailbox, consumer = watching()
    _streaming(emulator)
    mailbox.close()
    consumer.thread.join(5)
    assert not consumer.thread.is_alive()
    assert consumer.found.empty()


def test_a_busy_server_is_waited_for(emulator: EwsEmulator, watching: Any) -> None:
    # Exchange throttles with a SOAP fault carrying BackOffMilliseconds
    emulator.fail_next("GetStreamingEvents", "ErrorServerBusy", kind="fault", back_off_ms=300)
    _, consumer = watching()
    _streaming(emulator, connections=2)
    emulator.deliver(ADDRESS, make_message(1))
    assert consumer.next().reason == "notification"
    assert emulator.count("Subscribe") == 1
