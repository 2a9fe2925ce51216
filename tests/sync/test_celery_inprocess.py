"""The Celery integration with a real Celery worker (in a thread, so it shares the fake
server) on a real redis-server broker: rounds chain, one chain per mailbox, a failing
handler's round is retried by Celery and its batch handed over again."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker

from inboxlink import ChangeSet
from inboxlink.contrib.celery import SyncTasks, install
from inboxlink.sync import RedisStore
from inboxlink.testing import FakeMailbox, FakeMailServer
from inboxlink.testing.conformance import make_message

from .redis_server import RedisServer


class Handled:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        self.fail = 0
        self.lock = threading.Lock()

    def __call__(self, key: str, batch: ChangeSet) -> None:
        with self.lock:
            if self.fail:
                self.fail -= 1
                raise RuntimeError("handler down")
            self.seen.extend((key, s.message_id) for s in batch.added)


def wait_for(check: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
def celery_setup(redis_server: RedisServer) -> Iterator[tuple[SyncTasks, FakeMailServer, Handled]]:
    server = FakeMailServer()
    handled = Handled()
    app = Celery(f"t{uuid.uuid4().hex[:8]}", broker=redis_server.url)
    app.conf.update(task_default_queue=f"q{uuid.uuid4().hex}", worker_hijack_root_logger=False,
                    broker_connection_retry_on_startup=True)
    tasks = install(app, resolver=lambda key: FakeMailbox(key, server=server),
                    handler=handled,
                    store=RedisStore(redis_server.url, prefix=f"t:{uuid.uuid4().hex}"),
                    interval=0.2, retry_delay=0.2, prefix=f"t:{uuid.uuid4().hex}",
                    grace=0.5)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10,
                      loglevel="INFO"):
        yield tasks, server, handled


def test_rounds_chain_and_hand_over_new_mail(
        celery_setup: tuple[SyncTasks, FakeMailServer, Handled]) -> None:
    tasks, server, handled = celery_setup
    server.account("alice@example.com")
    first = tasks.start("alice@example.com")
    wait_for(lambda: tasks.current("alice@example.com") not in (None, first))  # baseline done
    server.deliver(make_message(1), to="alice@example.com")
    wait_for(lambda: ("alice@example.com", "<conformance1@example.net>") in handled.seen)
    tasks.stop("alice@example.com")
    assert tasks.current("alice@example.com") is None


def test_restart_leaves_one_chain(celery_setup: tuple[SyncTasks, FakeMailServer, Handled]) -> None:
    tasks, server, handled = celery_setup
    server.account("bob@example.com")
    tasks.start("bob@example.com")
    tasks.start("bob@example.com")  # the older chain must end at its next step
    wait_for(lambda: tasks.current("bob@example.com") is not None)
    time.sleep(1.0)
    server.deliver(make_message(2), to="bob@example.com")
    wait_for(lambda: ("bob@example.com", "<conformance2@example.net>") in handled.seen)
    time.sleep(1.0)
    assert handled.seen.count(("bob@example.com", "<conformance2@example.net>")) == 1


def test_a_failed_round_is_retried_and_the_batch_replayed(
        celery_setup: tuple[SyncTasks, FakeMailServer, Handled]) -> None:
    tasks, server, handled = celery_setup
    server.account("carol@example.com")
    first = tasks.start("carol@example.com")
    wait_for(lambda: tasks.current("carol@example.com") not in (None, first))
    handled.fail = 2
    server.deliver(make_message(3), to="carol@example.com")
    wait_for(lambda: ("carol@example.com", "<conformance3@example.net>") in handled.seen)
    assert handled.fail == 0


def test_the_watchdog_restarts_a_chain_whose_round_was_never_scheduled(
        celery_setup: tuple[SyncTasks, FakeMailServer, Handled]) -> None:
    tasks, server, handled = celery_setup
    server.account("dan@example.com")
    # What a round leaves when it handed over but could not reach the broker to schedule
    # its successor: a current id that no task carries.
    tasks.chains.start("dan@example.com", ["INBOX"], 0)
    assert tasks.ensure() == []  # within the grace time the successor may still come
    time.sleep(0.7)
    assert tasks.ensure() == ["dan@example.com"]
    restarted = tasks.current("dan@example.com")
    assert tasks.ensure() == []  # the new chain holds the lease
    wait_for(lambda: tasks.current("dan@example.com") not in (None, restarted))  # baseline
    server.deliver(make_message(5), to="dan@example.com")
    wait_for(lambda: ("dan@example.com", "<conformance5@example.net>") in handled.seen)


def test_install_adds_the_watchdog_to_the_beat_schedule(redis_server: RedisServer) -> None:
    app = Celery(f"t{uuid.uuid4().hex[:8]}", broker=redis_server.url)
    install(app, resolver=lambda key: FakeMailbox(key), handler=Handled(),
            store=RedisStore(redis_server.url), check_every=15)
    entry = app.conf.beat_schedule["inboxlink-ensure-chains"]
    assert entry == {"task": "inboxlink.ensure_chains", "schedule": 15}
    assert "inboxlink.ensure_chains" in app.tasks


def test_install_needs_redis_for_its_bookkeeping() -> None:
    app: Any = Celery("x", broker="amqp://127.0.0.1//")
    with pytest.raises(ValueError, match="redis_url"):
        install(app, resolver=lambda key: FakeMailbox(key), handler=Handled(),
                store=RedisStore(client=object()))
