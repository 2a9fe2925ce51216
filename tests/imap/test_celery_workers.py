"""The Celery integration with real worker processes (prefork) on a real redis-server,
keeping real Dovecot mailboxes current: every change reaches the handler, and a worker
process killed with SIGKILL in the middle of a batch loses nothing (at least once)."""

from __future__ import annotations

import email.message
import importlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from .dovecot import PASSWORD, Dovecot
from .helpers import Certs

pytestmark = [pytest.mark.dovecot, pytest.mark.timeout(240)]

SYNC_DIR = Path(__file__).resolve().parents[1] / "sync"
#: the checkout under test: worker processes import inboxlink from here, not from wherever
#: the package happens to be installed
ROOT = Path(__file__).resolve().parents[2]


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def message(n: int, subject: str) -> bytes:
    msg = email.message.EmailMessage()
    msg["From"] = "Bob <bob@example.net>"
    msg["To"] = "someone@example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<celery{n}@example.net>"
    msg.set_content(f"message {n}\n")
    return msg.as_bytes()


@pytest.fixture
def cluster(dovecot: Dovecot, certs: Certs, redis_server: Any,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    env = {"INBOXLINK_TEST_REDIS": redis_server.url, "INBOXLINK_TEST_PREFIX": prefix,
           "INBOXLINK_TEST_IMAP_PORT": str(dovecot.imaps_port),
           "INBOXLINK_TEST_CA": certs.ca_file, "INBOXLINK_TEST_PASSWORD": PASSWORD,
           # the worker processes import this checkout's inboxlink, not an installed one
           "PYTHONPATH": os.pathsep.join([str(SYNC_DIR.parents[1]),
                                          os.environ.get("PYTHONPATH", "")]),
           "INBOXLINK_TEST_QUEUE": f"q-{prefix}"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(SYNC_DIR))
    sys.modules.pop("celery_app", None)
    app_module = importlib.import_module("celery_app")
    workers: list[subprocess.Popen[bytes]] = []

    def start_worker() -> subprocess.Popen[bytes]:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "-P", "prefork",
             "-c", "2", "--without-mingle", "--without-gossip", "--without-heartbeat",
             "-l", "WARNING", "-n", f"w{len(workers)}-{prefix}@%h"],
            cwd=SYNC_DIR, env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        workers.append(worker)
        return worker

    yield {"prefix": prefix, "sync": app_module.sync, "start_worker": start_worker,
           "redis": redis.Redis.from_url(redis_server.url, decode_responses=True)}
    for worker in workers:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
    sys.modules.pop("celery_app", None)


def handled(cluster: dict[str, Any]) -> list[str]:
    return list(cluster["redis"].lrange(f"{cluster['prefix']}:handled", 0, -1))


def test_workers_hand_every_change_over_and_survive_a_killed_process(
        cluster: dict[str, Any], dovecot: Dovecot) -> None:
    users = [dovecot.new_user() for _ in range(4)]
    for _ in range(2):  # two worker processes, two pool processes each
        cluster["start_worker"]()
    sync = cluster["sync"]
    first = {user: sync.start(user) for user in users}
    # Every mailbox took its baseline once its first round handed over to the next.
    wait_for(lambda: all(sync.current(u) not in (None, first[u]) for u in users), 60,
             "the baselines")
    expected = set()
    for n, user in enumerate(users):
        for k in range(2):
            dovecot.deliver(user, message(10 * n + k, f"hello {k}"))
            expected.add(f"{user} <celery{10 * n + k}@example.net>")
    wait_for(lambda: expected <= set(handled(cluster)), 60, "the first deliveries")

    # A message that parks the handler; the worker process running it is killed.
    dovecot.deliver(users[0], message(99, "SLOW one"))
    dovecot.deliver(users[0], message(98, "after the slow one"))
    key = f"{cluster['prefix']}:in-handler"
    wait_for(lambda: cluster["redis"].get(key) is not None, 60, "the slow handler")
    os.kill(int(cluster["redis"].get(key)), signal.SIGKILL)
    wanted = {f"{users[0]} <celery99@example.net>", f"{users[0]} <celery98@example.net>"}
    wait_for(lambda: wanted <= set(handled(cluster)), 90, "the redelivered batch")
    # Still one chain per mailbox, and later mail still arrives.
    dovecot.deliver(users[1], message(77, "late"))
    wait_for(lambda: f"{users[1]} <celery77@example.net>" in handled(cluster), 60,
             "mail after the kill")
    assert set(handled(cluster)) >= expected | wanted
