"""Changes handled per second vs Celery worker processes on the fake, with the per-mailbox
caps held; and Redis round trips per sync round.

Set-up: a local redis-server (broker, token store, chains, budget) and the app in
``benchmarks/_fake_celery_app.py``: ``MAILBOXES`` fake mailboxes, rounds back to back
(``interval=0``), each round holding one of its mailbox's 4 connection slots in a shared
`RedisBudget`, the handler spending 2 ms per change (the application's own I/O). For 1, 2
and 4 pool processes (prefork, one worker): start the chains, wait for the baselines,
deliver ``PER_MAILBOX`` messages to every mailbox in waves of one per mailbox, and time
until the handler has seen all of them. Then, with nothing new, count the commands clients
send to Redis per round for a few seconds (Redis ``MONITOR``; what Lua scripts run inside
the server is not a round trip and is left out, and so are the INCR the app counts its
rounds with and the GET of its mirror; a MULTI/EXEC pipeline shows each of its commands).

Run: ``python benchmarks/scale_fake.py [mailboxes] [per_mailbox]``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "benchmarks"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import redis  # noqa: E402
from _redis_commands import round_line, round_report, watch_commands  # noqa: E402
from sync.redis_server import RedisServer  # noqa: E402

MAILBOXES = int(sys.argv[1]) if len(sys.argv) > 1 else 100
PER_MAILBOX = int(sys.argv[2]) if len(sys.argv) > 2 else 20
IDLE_SECONDS = 5.0


def run(processes: int, server: RedisServer) -> dict[str, Any]:
    prefix = f"f{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "INBOXLINK_BENCH_REDIS": server.url, "INBOXLINK_BENCH_PREFIX": prefix,
           "PYTHONPATH": str(ROOT)}
    os.environ.update({k: v for k, v in env.items() if k.startswith("INBOXLINK_BENCH_")})
    sys.modules.pop("_fake_celery_app", None)
    sys.path.insert(0, str(HERE))
    import _fake_celery_app as bench

    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "_fake_celery_app", "worker", "-P", "prefork",
         "-c", str(processes), "--without-mingle", "--without-gossip", "--without-heartbeat",
         "-l", "ERROR", "-n", f"w-{prefix}@%h"],
        cwd=HERE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    client = redis.Redis.from_url(server.url, decode_responses=True)
    keys = [f"user{n}@example.com" for n in range(MAILBOXES)]
    try:
        first = {key: bench.sync.start(key) for key in keys}
        while not all(bench.sync.current(k) not in (None, first[k]) for k in keys):
            time.sleep(0.05)
        expected = MAILBOXES * PER_MAILBOX
        started = time.monotonic()
        for _ in range(PER_MAILBOX):  # waves of one new message per mailbox
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.incr(f"{prefix}:count:{key}")
            pipe.execute()
            time.sleep(0.05)
        while int(client.get(f"{prefix}:handled") or 0) < expected:
            time.sleep(0.02)
        elapsed = time.monotonic() - started
        rounds_before = int(client.get(f"{prefix}:rounds") or 0)
        seen = watch_commands(client, IDLE_SECONDS)
        rounds = max(1, int(client.get(f"{prefix}:rounds") or 0) - rounds_before)
        seen["incrby"] -= rounds  # the round counter (redis-py sends INCR as INCRBY)
        seen["get"] -= rounds  # the mirror reading its message count
        return {**round_report(seen, rounds, IDLE_SECONDS, expected, elapsed),
                "errors": float(client.llen(f"{prefix}:errors"))}
    finally:
        for key in keys:
            bench.sync.stop(key)  # ends the chains: each round finds it is not current
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)


def main() -> None:
    server = RedisServer()
    server.start()
    try:
        print(f"{MAILBOXES} fake mailboxes, {PER_MAILBOX} new messages each, handler 2 ms "
              "per change, 4 connection slots per mailbox in a RedisBudget")
        for processes in (1, 2, 4):
            r = run(processes, server)
            print(round_line(processes, r, f"; {r['errors']:.0f} failed rounds"))
    finally:
        server.close()


if __name__ == "__main__":
    main()
