"""What clients send to Redis, by command name, watched with ``MONITOR``.

The commands a Lua script runs inside the server appear in ``INFO commandstats`` too, but
they are not round trips: they are left out here. A MULTI/EXEC pipeline still shows each
of its commands.
"""

from __future__ import annotations

import time
from collections import Counter

import redis

__all__ = ["watch_commands"]


def watch_commands(client: redis.Redis, seconds: float) -> Counter[str]:
    """Commands clients sent during ``seconds``, by (lower-case) name."""
    seen: Counter[str] = Counter()
    deadline = time.monotonic() + seconds
    with client.monitor() as monitor:
        for command in monitor.listen():
            if command.get("client_type") != "lua":
                seen[command["command"].split(" ", 1)[0].strip('"').lower()] += 1
            if time.monotonic() >= deadline:
                break
    return seen
