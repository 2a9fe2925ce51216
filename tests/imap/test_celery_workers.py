"""The Celery integration with real worker processes (prefork) on a real redis-server,
keeping real Dovecot mailboxes current: every change reaches the handler, and a worker
process killed with SIGKILL in the middle of a batch loses nothing (at least once)."""

from __future__ import annotations

import email.message
import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .celery_cluster import CeleryCluster
from .dovecot import Dovecot
from .helpers import Certs

pytestmark = [pytest.mark.dovecot, pytest.mark.timeout(240)]



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
    workers = CeleryCluster(monkeypatch, dovecot=dovecot, ca_file=certs.ca_file,
                            redis_url=redis_server.url, letter="t")
    yield {"prefix": workers.prefix, "sync": workers.sync, "redis": workers.redis,
           "start_worker": lambda: workers.start(len(workers.processes), concurrency=2)}
    workers.stop()


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
