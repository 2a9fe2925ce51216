"""The shared connection budget and the chain watchdog with real worker processes on a
Dovecot that enforces the per-user cap (``mail_max_userip_connections = 4``).

50 mailboxes are kept current by 3 Celery workers × 4 pool processes while the application
itself writes to every mailbox over 4 connections at once: every process counts connections
in one `RedisBudget`, so the server never refuses a login. Then Redis is restarted in the
middle of a run: the workers (and celery beat) are restarted by a supervisor when they
exit, the beat-driven watchdog restarts the chains lost while Redis was away, every change
arrives, and no two rounds of one mailbox ever run at once.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sync.redis_server import RedisServer

from inboxlink.adapters.imap import ImapSettings
from inboxlink.adapters.imap.connection import budget_permit
from inboxlink.budget import RedisBudget

from .celery_cluster import CeleryCluster
from .dovecot import Dovecot
from .helpers import Certs
from .test_celery_workers import message, wait_for

pytestmark = [pytest.mark.dovecot, pytest.mark.slow, pytest.mark.timeout(300)]

REFUSED = "Maximum number of connections from user+IP exceeded"
APP_CONNECTIONS = 4  # the application's own connections to each account, all at once


@pytest.fixture(scope="module")
def capped_dovecot(certs: Certs) -> Iterator[Dovecot]:
    server = Dovecot(certs.chain_file, certs.key_file, name="capped", fresh_users=60,
                     max_userip_connections=4)
    yield server
    server.stop()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer()  # its own: this test restarts it
    server.start()
    yield server
    server.close()


@pytest.fixture
def cluster(capped_dovecot: Dovecot, certs: Certs, own_redis: RedisServer,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[CeleryCluster]:
    # the control run (INBOXLINK_TEST_NO_BUDGET=1) must show the server's refusals
    budget = "" if os.environ.get("INBOXLINK_TEST_NO_BUDGET") else "1"
    workers = CeleryCluster(monkeypatch, dovecot=capped_dovecot, ca_file=certs.ca_file,
                            redis_url=own_redis.url, letter="b",
                            INBOXLINK_TEST_BUDGET=budget, INBOXLINK_TEST_PAUSE="0.3")
    for n in range(3):
        workers.start(n, concurrency=4)
    workers.start_beat()
    yield workers
    workers.stop()


class Scenario:
    """Accounts × keys started on the workers, and deliveries with what each key must see."""

    def __init__(self, cluster: CeleryCluster, dovecot: Dovecot, redis_url: str, *,
                 accounts: int, keys_per_account: int) -> None:
        self.cluster, self.dovecot = cluster, dovecot
        self.client, self.prefix = cluster.redis, cluster.prefix
        self.accounts = [dovecot.new_user() for _ in range(accounts)]
        self.keys = {f"{account}#{k}": account for account in self.accounts
                     for k in range(keys_per_account)}
        # The test writes through the server too, so it is one more client of each
        # account: it takes its connections from the same budget as the workers.
        budget = RedisBudget(redis_url, prefix=f"{self.prefix}:budget", lease=5.0)
        self.permits = {account: budget_permit(ImapSettings(
            address=account, imap_host="127.0.0.1", imap_port=dovecot.imaps_port,
            budget=budget)) for account in self.accounts}
        self.expected: set[str] = set()
        self._lock = threading.Lock()
        sync = cluster.sync
        first = {key: sync.start(key) for key in self.keys}
        wait_for(lambda: all(sync.current(k) not in (None, first[k]) for k in self.keys), 120,
                 "the baselines")

    def handled(self) -> set[str]:
        return set(self.client.lrange(f"{self.prefix}:handled", 0, -1))

    def errors(self) -> list[str]:
        return list(self.client.lrange(f"{self.prefix}:errors", 0, -1))

    def overlaps(self) -> list[str]:
        """Rounds of one mailbox that ran at the same time (there must be none)."""
        rounds: dict[str, list[tuple[float, float]]] = {}
        for entry in self.client.lrange(f"{self.prefix}:rounds", 0, -1):
            key, opened, closed = entry.rsplit(" ", 2)
            rounds.setdefault(key, []).append((float(opened), float(closed)))
        found = []
        for key, spans in rounds.items():
            spans.sort()
            found += [f"{key}: {a} overlaps {b}" for a, b in itertools.pairwise(spans)
                      if b[0] < a[1]]
        return found

    def synced_since(self, moment: float) -> set[str]:
        """Keys with a round that opened after ``moment`` (wall clock)."""
        return {entry.split(" ")[0] for entry in
                self.client.lrange(f"{self.prefix}:rounds", 0, -1)
                if float(entry.rsplit(" ", 2)[1]) > moment}

    def _deliver_one(self, account: int, number: int, subject: str, hold: float) -> None:
        owner = self.accounts[account]
        with self.permits[owner](60.0):
            connection = self.dovecot.admin(owner)
            try:
                typ, data = connection.append("INBOX", None, None, message(number, subject))
                assert typ == "OK", data
                time.sleep(hold)  # the application keeps its connection a while
            finally:
                connection.logout()
        with self._lock:
            self.expected |= {f"{key} <celery{number}@example.net>"
                              for key, who in self.keys.items() if who == owner}

    def deliver(self, start: int, count: int, *, connections: int = 1,
                hold: float = 0.0) -> None:
        """``count`` messages to every account, over ``connections`` at once per account,
        each kept open ``hold`` seconds after its APPEND."""
        jobs = [(n, 1000 * n + i, f"m{i}", hold) for n in range(len(self.accounts))
                for i in range(start, start + count)]
        with ThreadPoolExecutor(max_workers=connections * 4) as pool:
            for done in [pool.submit(self._deliver_one, *job) for job in jobs]:
                done.result()

    def wait(self, what: str, timeout: float) -> None:
        try:
            wait_for(lambda: self.cluster.supervise() or self.expected <= self.handled(),
                     timeout, what)
        except AssertionError as exc:
            missing = sorted(self.expected - self.handled())
            raise AssertionError(f"{exc}: {len(missing)} missing, e.g. {missing[:6]}; "
                                 f"last errors {self.errors()[-5:]}") from None


def test_fifty_mailboxes_and_the_server_never_refuses_a_connection(
        cluster: CeleryCluster, capped_dovecot: Dovecot, own_redis: RedisServer) -> None:
    scenario = Scenario(cluster, capped_dovecot, own_redis.url, accounts=50,
                        keys_per_account=1)
    # 4 of the application's own connections to each account while its round may hold a
    # fifth: only the shared budget keeps the account under the server's cap.
    scenario.deliver(0, APP_CONNECTIONS, connections=APP_CONNECTIONS, hold=1.0)
    scenario.wait("the deliveries", 120)
    assert REFUSED not in capped_dovecot.log()
    assert scenario.errors() == []  # not one round failed, nor waited out its budget
    assert scenario.overlaps() == []
    assert cluster.restarts == []


def test_workers_recover_when_redis_restarts(
        cluster: CeleryCluster, capped_dovecot: Dovecot, own_redis: RedisServer) -> None:
    scenario = Scenario(cluster, capped_dovecot, own_redis.url, accounts=4,
                        keys_per_account=6)
    scenario.deliver(0, 2)
    scenario.wait("the first deliveries", 90)
    own_redis.restart(pause=1.0)  # broker, token store, chains and budget all go away
    scenario.deliver(2, 2)
    scenario.wait("the deliveries after the restart", 90)
    # Every chain goes on (none was lost for good), and never two rounds of one mailbox.
    moment = time.time()
    wait_for(lambda: cluster.supervise() or scenario.synced_since(moment) == set(scenario.keys),
             60, "a round of every mailbox after the restart")
    assert REFUSED not in capped_dovecot.log()
    assert scenario.overlaps() == []
    # Whatever failed was the budget store while Redis was down, never the IMAP server.
    assert [e for e in scenario.errors() if " imap " in e] == []
