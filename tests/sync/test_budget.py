"""Budgets: the same semantics in-process and on a real redis-server, across processes,
with leases that a killed holder cannot keep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pytest

from inboxlink import errors
from inboxlink.budget import Budget, InProcessBudget, RedisBudget

from .redis_server import RedisServer


@pytest.fixture(params=["in-process", "redis"])
def budget(request: pytest.FixtureRequest) -> Budget:
    if request.param == "in-process":
        return InProcessBudget()
    server: RedisServer = request.getfixturevalue("redis_server")
    return RedisBudget(server.url, prefix=f"t:{uuid.uuid4().hex}", lease=2.0, poll=0.01)


def test_slots_never_exceed_the_limit_across_threads(budget: Budget) -> None:
    inside, peak = 0, 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal inside, peak
        with budget.slot("Alice@example.com", "imap", 3):
            with lock:
                inside += 1
                peak = max(peak, inside)
            time.sleep(0.03)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 3


def test_a_full_budget_raises_rate_limited_after_the_timeout(budget: Budget) -> None:
    with budget.slot("bob@example.com", "graph", 1):
        started = time.monotonic()
        with pytest.raises(errors.RateLimited) as info, \
                budget.slot("BOB@example.com", "graph", 1, timeout=0.3):
            pass
        assert time.monotonic() - started >= 0.3
        assert info.value.retryable
    with budget.slot("bob@example.com", "graph", 1, timeout=1):
        pass  # released on exit


def test_token_bucket_paces_units(budget: Budget) -> None:
    started = time.monotonic()
    for _ in range(5):
        budget.take("carol@example.com", "gmail", 5, rate=50, burst=10)
    # 25 units at 50/s with 10 in the bucket: at least (25 - 10) / 50 = 0.3 s
    assert time.monotonic() - started >= 0.28
    with pytest.raises(errors.RateLimited):
        budget.take("carol@example.com", "gmail", 1000, rate=1, burst=10, timeout=0.1)


HOLDER = textwrap.dedent("""
    import sys, time
    import redis
    from inboxlink.budget import RedisBudget
    url, prefix, hold = sys.argv[1], sys.argv[2], float(sys.argv[3])
    budget = RedisBudget(url, prefix=prefix, lease=1.0, poll=0.01)
    counter = redis.Redis.from_url(url)
    for _ in range(5):
        with budget.slot("dave@example.com", "imap", 2):
            now = counter.incr(prefix + ":inside")
            counter.set(prefix + ":peak", max(now, int(counter.get(prefix + ":peak") or 0)))
            print("held", flush=True)
            time.sleep(hold)
            counter.decr(prefix + ":inside")
""")


def _holder(server: RedisServer, prefix: str, hold: float) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", HOLDER, server.url, prefix, str(hold)],
                            stdout=subprocess.PIPE, text=True, cwd=os.getcwd())


def test_slots_hold_across_processes(redis_server: RedisServer) -> None:
    import redis

    prefix = f"t:{uuid.uuid4().hex}"
    workers = [_holder(redis_server, prefix, 0.05) for _ in range(4)]
    for worker in workers:
        assert worker.wait(60) == 0
    peak = int(redis.Redis.from_url(redis_server.url).get(prefix + ":peak") or 0)
    assert peak == 2


def test_a_killed_holder_loses_its_lease(redis_server: RedisServer) -> None:
    prefix = f"t:{uuid.uuid4().hex}"
    budget = RedisBudget(redis_server.url, prefix=prefix, lease=1.0, poll=0.01)
    victims = [_holder(redis_server, prefix, 60) for _ in range(2)]
    for victim in victims:
        assert victim.stdout is not None
        assert victim.stdout.readline().strip() == "held"
    with pytest.raises(errors.RateLimited), budget.slot("dave@example.com", "imap", 2, timeout=0.3):
        pass
    for victim in victims:
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
    started = time.monotonic()
    with budget.slot("dave@example.com", "imap", 2, timeout=5):
        freed_after = time.monotonic() - started
    assert freed_after <= 1.5


def test_a_live_holder_keeps_its_lease_past_the_lease_time(redis_server: RedisServer) -> None:
    budget = RedisBudget(redis_server.url, prefix=f"t:{uuid.uuid4().hex}", lease=0.6,
                         poll=0.01)
    with budget.slot("erin@example.com", "imap", 1):
        time.sleep(1.5)  # renewed in the background meanwhile
        with pytest.raises(errors.RateLimited), \
                budget.slot("erin@example.com", "imap", 1, timeout=0.2):
            pass


def test_redis_down_is_a_typed_transient_error_and_recovers() -> None:
    server = RedisServer()
    server.start()
    try:
        budget = RedisBudget(server.url, prefix="t", lease=1.0)
        with budget.slot("frank@example.com", "imap", 1):
            pass
        server.stop()
        with pytest.raises(errors.TransientError), \
                budget.slot("frank@example.com", "imap", 1, timeout=0.2):
            pass
        server.start()
        with budget.slot("frank@example.com", "imap", 1, timeout=2):
            pass
    finally:
        server.close()
