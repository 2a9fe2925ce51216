"""The sync runner on the fake: at-least-once hand-over, re-baselining, failures isolated,
tokens in SQLite and in a real redis-server."""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

import pytest

from inboxlink import ChangeSet, FolderRole, errors
from inboxlink.sync import RedisStore, Runner, SQLiteStore, TokenStore
from inboxlink.testing import FakeMailbox, FakeMailServer
from inboxlink.testing.conformance import make_message

from .redis_server import RedisServer


class Recorder:
    def __init__(self, fail_times: int = 0) -> None:
        self.batches: list[tuple[str, ChangeSet]] = []
        self.fail_times = fail_times

    def __call__(self, key: str, batch: ChangeSet) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise RuntimeError("handler crashed")
        self.batches.append((key, batch))

    def added(self, key: str | None = None) -> list[str | None]:
        return [s.message_id for k, b in self.batches if key in (None, k) for s in b.added]


def make_runner(server: FakeMailServer, store: TokenStore, handler: Recorder,
                **options: object) -> Runner:
    return Runner(store=store, resolver=lambda key: FakeMailbox(key, server=server),
                  handler=handler, **options)  # type: ignore[arg-type]


def test_first_round_baselines_then_changes_are_handed_over() -> None:
    server = FakeMailServer()
    handler = Recorder()
    runner = make_runner(server, SQLiteStore(":memory:"), handler)
    runner.add("alice@example.com")
    server.deliver(make_message(1), to="alice@example.com")
    first = runner.run_once()
    assert (first.baselines, first.batches) == (1, 0)
    server.deliver(make_message(2), to="alice@example.com")
    second = runner.run_once()
    assert (second.batches, second.changes) == (1, 1)
    assert handler.added() == ["<conformance2@example.net>"]
    assert runner.run_once().batches == 0


def test_a_failing_handler_gets_the_same_batch_again() -> None:
    server = FakeMailServer()
    handler = Recorder(fail_times=1)
    errors_seen: list[BaseException] = []
    store = SQLiteStore(":memory:")
    runner = make_runner(server, store, handler,
                         on_error=lambda key, folder, exc: errors_seen.append(exc))
    runner.add("alice@example.com")
    runner.run_once()
    before = store.load("alice@example.com", "inbox")
    server.deliver(make_message(3), to="alice@example.com")
    report = runner.run_once()
    assert len(report.failures) == 1
    assert isinstance(errors_seen[0], RuntimeError)
    assert store.load("alice@example.com", "inbox") == before  # token did not move
    runner.run_once()
    assert handler.added() == ["<conformance3@example.net>"]


def test_expired_token_is_rebaselined_and_reported() -> None:
    server = FakeMailServer()
    resynced: list[tuple[str, str]] = []
    runner = make_runner(server, SQLiteStore(":memory:"), Recorder(),
                         on_resync=lambda key, folder: resynced.append((key, folder)))
    runner.add("alice@example.com")
    runner.run_once()
    server.reset_uidvalidity("alice@example.com", "INBOX")
    assert runner.run_once().resyncs == 1
    assert resynced == [("alice@example.com", "inbox")]
    assert runner.run_once().resyncs == 0


def test_one_broken_mailbox_does_not_stop_the_others() -> None:
    server = FakeMailServer()
    handler = Recorder()
    runner = make_runner(server, SQLiteStore(":memory:"), handler)
    for name in ("a", "b"):
        runner.add(f"{name}@example.com")
    runner.run_once()
    for name in ("a", "b"):
        server.deliver(make_message(ord(name)), to=f"{name}@example.com")
    server.fail_next("changes", errors.AppBlocked(), times=1)
    report = runner.run_once()
    assert len(report.failures) == 1
    assert report.batches == 1
    runner.run_once()
    assert sorted(handler.added(), key=str) == sorted(
        [f"<conformance{ord('a')}@example.net>", f"<conformance{ord('b')}@example.net>"])


def test_bursts_are_drained_in_pages_and_several_folders_kept() -> None:
    server = FakeMailServer()
    handler = Recorder()
    runner = make_runner(server, SQLiteStore(":memory:"), handler, batch_limit=7)
    runner.add("alice@example.com", folders=[FolderRole.INBOX, "Archive"])
    runner.run_once()
    for n in range(20):
        server.deliver(make_message(n), to="alice@example.com")
    server.deliver(make_message(99), "Archive", to="alice@example.com")
    report = runner.run_once()
    assert report.batches == 4  # 7 + 7 + 6 in INBOX, 1 in Archive
    assert len(handler.added()) == 21


def test_a_thousand_fake_mailboxes_in_one_process() -> None:
    server = FakeMailServer()
    handler = Recorder()
    runner = make_runner(server, SQLiteStore(":memory:"), handler, workers=16)
    keys = [f"user{n}@example.com" for n in range(1000)]
    for key in keys:
        runner.add(key)
    assert runner.run_once().baselines == 1000
    for key in keys[::3]:
        server.deliver(make_message(1), to=key)
    report = runner.run_once()
    assert report.batches == len(keys[::3])
    assert {k for k, _ in handler.batches} == set(keys[::3])


def test_sqlite_store_is_private_and_persistent(tmp_path: Path) -> None:
    path = tmp_path / "sync.db"
    store = SQLiteStore(path)
    store.save("alice", "inbox", "t1")
    store.save("alice", "inbox", "t2")
    store.close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = SQLiteStore(path)
    assert again.load("alice", "inbox") == "t2"
    again.forget("alice")
    assert again.load("alice", "inbox") is None


def test_redis_store_against_a_real_server(redis_server: RedisServer) -> None:
    prefix = f"test:{uuid.uuid4().hex}"
    store = RedisStore(redis_server.url, prefix=prefix)
    assert store.load("alice", "inbox") is None
    store.save("alice", "inbox", '{"m": 1}')
    assert RedisStore(redis_server.url, prefix=prefix).load("alice", "inbox") == '{"m": 1}'
    assert prefix in repr(store)
    assert "s3cret" not in repr(RedisStore("redis://:s3cret@127.0.0.1:1/0"))
    store.forget("alice")
    assert store.load("alice", "inbox") is None


def test_runner_on_redis_store(redis_server: RedisServer) -> None:
    server = FakeMailServer()
    handler = Recorder()
    store = RedisStore(redis_server.url, prefix=f"test:{uuid.uuid4().hex}")
    runner = make_runner(server, store, handler)
    runner.add("alice@example.com")
    runner.run_once()
    server.deliver(make_message(5), to="alice@example.com")
    # a second runner (another process in production) continues from the stored token
    other = make_runner(server, store, handler)
    other.add("alice@example.com")
    assert other.run_once().batches == 1
    assert runner.run_once().batches == 0
    assert handler.added() == ["<conformance5@example.net>"]


def test_run_until_a_deadline_and_stop() -> None:
    import time

    server = FakeMailServer()
    runner = make_runner(server, SQLiteStore(":memory:"), Recorder())
    runner.add("alice@example.com")
    started = time.monotonic()
    runner.run(until=started + 0.5, interval=0.1)
    assert 0.4 <= time.monotonic() - started < 3
    with pytest.raises(ValueError, match="url"):
        RedisStore()


class CountingStore(SQLiteStore):
    def __init__(self) -> None:
        super().__init__(":memory:")
        self.saves = 0

    def save(self, key: str, folder: str, token: str) -> None:
        self.saves += 1
        super().save(key, folder, token)


def test_an_idle_round_writes_no_token() -> None:
    server = FakeMailServer()
    store = CountingStore()
    runner = make_runner(server, store, Recorder())
    runner.add("ivan@example.com")
    runner.run_once()  # the baseline is written
    assert store.saves == 1
    runner.run_once()
    runner.run_once()
    assert store.saves == 1  # nothing changed: nothing to write
    server.deliver(make_message(9), to="ivan@example.com")
    runner.run_once()
    assert store.saves == 2
