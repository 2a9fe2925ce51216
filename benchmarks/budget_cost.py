"""What a shared budget costs: slot acquire+release and quota-unit takes, in-process vs on
a local redis-server (loopback), with Redis round trips counted by the server itself.

Run: python benchmarks/budget_cost.py
"""

from __future__ import annotations

import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import redis  # noqa: E402

from inboxlink.budget import InProcessBudget, RedisBudget  # noqa: E402
from tests.sync.redis_server import RedisServer  # noqa: E402

N = 2000


def commands(client: redis.Redis) -> int:
    # Round trips: the budget sends only EVALSHA (one script per permit) and ZREM (release);
    # the commands a script runs inside Redis are not round trips.
    stats = client.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0))
               for name in ("evalsha", "eval", "zrem", "script|load"))


def main() -> None:
    server = RedisServer()
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        for name, budget in (("in-process", InProcessBudget()),
                             ("redis", RedisBudget(server.url, prefix="bench"))):
            before = commands(client)
            started = time.perf_counter()
            for _ in range(N):
                with budget.slot("alice@example.com", "imap", 4):
                    pass
            slot = (time.perf_counter() - started) / N
            slot_cmds = (commands(client) - before) / N
            before = commands(client)
            started = time.perf_counter()
            for _ in range(N):
                budget.take("alice@example.com", "gmail", 1, rate=1e9, burst=1e9)
            take = (time.perf_counter() - started) / N
            take_cmds = (commands(client) - before) / N
            print(f"{name:>10}: slot {slot * 1e6:7.1f} µs ({slot_cmds:.1f} Redis round trips), "
                  f"take {take * 1e6:7.1f} µs ({take_cmds:.1f} Redis round trips)")
    finally:
        server.close()


if __name__ == "__main__":
    main()
