"""Gmail's per-user quota across processes: several real processes list the same account
on the emulator, whose own meter enforces the per-user rate. Sharing one `RedisBudget`
they stay under it together; each pacing alone, they run into ``rateLimitExceeded``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from sync.redis_server import RedisServer

from inboxlink.testing.conformance import make_message

from .emulator import GmailEmulator

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]  # ~25 s: processes import

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 3
SECONDS = 3.0
PER_MINUTE = 1500  # the adapter bursts a fifth (300 units) and refills 20 units/s
BURST = 300  # the emulator allows bursts of 300 and drains 25 units/s (1500 a minute)

LISTER = textwrap.dedent("""
    import sys, time
    from inboxlink import errors
    from inboxlink.adapters.gmail import GmailMailbox, GmailSettings
    from inboxlink.budget import RedisBudget
    from inboxlink.retry import RetryPolicy
    url, address, redis_url, prefix, per_minute, seconds = sys.argv[1:7]
    budget = RedisBudget(redis_url, prefix=prefix) if redis_url else None
    mailbox = GmailMailbox(GmailSettings(
        address=address, access_token="good-token", api_endpoint=url, timeout=30.0,
        retry=RetryPolicy(max_attempts=1), quota_units_per_minute=int(per_minute),
        budget=budget))
    print("ready", flush=True)
    sys.stdin.readline()  # every process starts at once
    deadline = time.monotonic() + float(seconds)
    listed = refused = 0
    while time.monotonic() < deadline:
        try:
            listed += len(mailbox.list_messages("INBOX", limit=10).items)
        except errors.RateLimited:
            refused += 1
    print(listed, refused, flush=True)
""")


def run_listers(emulator: GmailEmulator, redis_url: str) -> list[tuple[int, int]]:
    """Start the processes, let them list for ``SECONDS``; (listed, refused) of each."""
    prefix = f"g:{uuid.uuid4().hex}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT),
                                                        os.environ.get("PYTHONPATH", "")])}
    processes = [subprocess.Popen(
        [sys.executable, "-c", LISTER, emulator.url, emulator.address, redis_url, prefix,
         str(PER_MINUTE), str(SECONDS)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(PROCESSES)]
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        emulator.quota.limit(per_minute=PER_MINUTE, burst=BURST)  # connecting is not metered
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        results = []
        for process in processes:
            out, _ = process.communicate(timeout=60)
            listed, refused = out.split()
            results.append((int(listed), int(refused)))
        return results
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()


@pytest.fixture
def account(emulator: GmailEmulator) -> GmailEmulator:
    for n in range(10):
        emulator.deliver(make_message(n))
    return emulator


def test_processes_sharing_a_redis_budget_stay_under_the_per_user_limit(
        account: GmailEmulator, redis_server: RedisServer) -> None:
    results = run_listers(account, redis_server.url)
    assert account.quota.refused == 0
    assert all(refused == 0 for _, refused in results)
    assert account.quota.peak <= BURST
    # and they did work together: at least the burst and some refill, by every process
    assert account.quota.charged > BURST
    assert all(listed > 0 for listed, _ in results)


def test_without_the_shared_budget_the_processes_exceed_the_limit(
        account: GmailEmulator) -> None:
    # each process paces itself alone: together they spend 3 bursts and 3 refills
    run_listers(account, "")
    assert account.quota.refused > 0
