"""What clients send to Redis, by command name, watched with ``MONITOR``.

The commands a Lua script runs inside the server appear in ``INFO commandstats`` too, but
they are not round trips: they are left out here. A MULTI/EXEC pipeline still shows each
of its commands.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import redis

__all__ = ["round_line", "round_report", "watch_commands"]


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


def round_report(seen: Counter[str], rounds: int, idle_seconds: float, changes: int,
                 elapsed: float) -> dict[str, Any]:
    """The figures of a scale run: ``changes`` handled in ``elapsed`` seconds, then ``seen``
    (what `watch_commands` counted over ``idle_seconds``, the app's own counting taken out)
    spread over the ``rounds`` made while idle."""
    per_round = sorted(((n / rounds, name) for name, n in seen.items() if n > 0), reverse=True)
    return {"changes_per_s": changes / elapsed, "seconds": elapsed,
            "redis_per_round": sum(n for n, _ in per_round),
            "breakdown": ", ".join(f"{name} {n:.1f}" for n, name in per_round[:10]),
            "rounds_per_s": rounds / idle_seconds}


def round_line(processes: int, report: dict[str, Any], extra: str = "") -> str:
    """One printed result of `round_report` (``extra`` goes after the per-round count)."""
    return (f"{processes} process(es): {report['changes_per_s']:7.1f} changes/s "
            f"({report['seconds']:.2f} s); idle: {report['rounds_per_s']:.1f} rounds/s, "
            f"{report['redis_per_round']:.1f} Redis commands sent per round{extra}\n"
            f"    per round: {report['breakdown']}")

