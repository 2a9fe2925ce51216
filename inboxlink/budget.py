"""Per-mailbox limits that hold across threads, processes and machines.

A `Budget` hands out two kinds of permits, both keyed by the mailbox:

- **slots** — at most ``limit`` holders at once (IMAP connections ≤ 4, Graph requests in
  flight ≤ 4). Each slot is a *lease*: a holder that dies without releasing it loses it
  after ``lease`` seconds, so a killed worker never leaks a slot forever. Live holders
  renew their lease in the background.
- **units** — a token bucket (``rate`` units per second, up to ``burst``) for quota-metered
  APIs (Gmail's quota units per user per second).

`InProcessBudget` (the default) keeps them in memory; `RedisBudget` keeps them
in Redis with atomic Lua scripts, shared by every process that points at the same server.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

from inboxlink import errors
from inboxlink._lease import renewing

__all__ = ["Budget", "InProcessBudget", "RedisBudget", "default_budget"]


@runtime_checkable
class Budget(Protocol):
    """Shared per-mailbox limits: connection/request slots and quota-unit buckets."""

    def slot(self, mailbox: str, kind: str, limit: int, *,
             timeout: float = 60.0) -> contextlib.AbstractContextManager[None]:
        """Hold one of ``limit`` slots of ``kind`` for ``mailbox``; waits up to ``timeout``
        seconds, then raises ``RateLimited``."""
        ...

    def take(self, mailbox: str, bucket: str, units: float, *, rate: float, burst: float,
             timeout: float = 60.0) -> None:
        """Take ``units`` from the bucket (refilled at ``rate``/s up to ``burst``); waits
        for them up to ``timeout`` seconds, then raises ``RateLimited``."""
        ...


def _exhausted(mailbox: str, what: str, waited: float) -> errors.RateLimited:
    return errors.RateLimited(
        f"No {what} free for {mailbox} after {waited:.1f} s: other workers hold them.",
        provider="budget", code=what, retry_after=1.0)


class InProcessBudget:
    """The default budget: limits shared by the threads of one process."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._held: dict[tuple[str, str], int] = {}
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    @contextlib.contextmanager
    def slot(self, mailbox: str, kind: str, limit: int, *,
             timeout: float = 60.0) -> Iterator[None]:
        """Hold one of ``limit`` slots (see `Budget`)."""
        key = (mailbox.lower(), kind)
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._held.get(key, 0) >= limit:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _exhausted(mailbox, f"{kind} slot", timeout)
                self._lock.wait(left)
            self._held[key] = self._held.get(key, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._held[key] -= 1
                self._lock.notify_all()

    def take(self, mailbox: str, bucket: str, units: float, *, rate: float, burst: float,
             timeout: float = 60.0) -> None:
        """Take ``units`` from a token bucket (see `Budget`)."""
        key = (mailbox.lower(), bucket)
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                now = time.monotonic()
                tokens, stamp = self._buckets.get(key, (burst, now))
                tokens = min(burst, tokens + (now - stamp) * rate)
                if tokens >= units:
                    self._buckets[key] = (tokens - units, now)
                    return
                self._buckets[key] = (tokens, now)
                wait = (units - tokens) / rate
            if time.monotonic() + wait > deadline:
                raise _exhausted(mailbox, f"{bucket} units", timeout)
            time.sleep(wait)


_DEFAULT = InProcessBudget()


def default_budget() -> InProcessBudget:
    """The budget adapters use when given none: one `InProcessBudget` per process.

    Every mailbox object of the process counts against it, so two objects opened on the
    same account share its limits (as they share the server's).
    """
    return _DEFAULT


def _reset_after_fork() -> None:
    # Slots held by the parent's threads are never released in the child: start empty.
    global _DEFAULT
    _DEFAULT = InProcessBudget()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


# Every script reads the Redis server's clock, so machines with skewed clocks agree on
# leases and refills, and a permit costs one round trip.
_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

# KEYS[1] = slot set; ARGV = lease, holder id, limit. Expired leases go first.
_ACQUIRE = _NOW + """
local lease = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[2])
  redis.call('PEXPIRE', KEYS[1], math.ceil(lease * 1000) + 1000)
  return 1
end
return 0
"""

# KEYS[1] = slot set; ARGV = lease, holder id. Renews only a lease still held, and keeps
# the set itself alive as long as its newest lease.
_RENEW = _NOW + """
local lease = tonumber(ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then
  redis.call('ZADD', KEYS[1], 'XX', now + lease, ARGV[2])
  redis.call('PEXPIRE', KEYS[1], math.ceil(lease * 1000) + 1000)
  return 1
end
return 0
"""

# KEYS[1] = bucket hash; ARGV = units, rate, burst. Returns seconds to wait (0: taken).
_TAKE = _NOW + """
local units = tonumber(ARGV[1])
local rate, burst = tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or burst
local stamp = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local wait = 0
if tokens >= units then tokens = tokens - units else wait = (units - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return tostring(wait)
"""


class RedisBudget:
    """Limits shared by every process and machine using the same Redis.

    Args:
        url: a ``redis://`` URL (or pass ``client=`` a ``redis.Redis``).
        lease: seconds a slot survives without renewal (a dead holder frees it after this).
        prefix: key prefix in Redis.
        poll: seconds between tries while waiting for a slot.
    """

    def __init__(self, url: str | None = None, *, client: Any = None, lease: float = 30.0,
                 prefix: str = "inboxlink:budget", poll: float = 0.05) -> None:
        if client is None:
            if url is None:
                raise ValueError("RedisBudget needs a url= or a client=")
            import redis

            client = redis.Redis.from_url(url)
        self._redis = client
        self.lease = lease
        self.prefix = prefix
        self.poll = poll
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._take = client.register_script(_TAKE)

    def _call(self, operation: Any, *args: Any, **kwargs: Any) -> Any:
        import redis

        try:
            return operation(*args, **kwargs)
        except redis.RedisError as exc:
            raise errors.TransientError(
                f"The budget store (Redis) failed: {type(exc).__name__}.", provider="budget",
                code=type(exc).__name__,
                remedy="Check that the Redis server is running; the call can be retried.",
            ) from exc

    @contextlib.contextmanager
    def slot(self, mailbox: str, kind: str, limit: int, *,
             timeout: float = 60.0) -> Iterator[None]:
        """Hold one of ``limit`` leased slots (see `Budget`)."""
        key = f"{self.prefix}:slot:{kind}:{mailbox.lower()}"
        holder = uuid.uuid4().hex
        deadline = time.monotonic() + timeout
        while True:
            if self._call(self._acquire, keys=[key], args=[self.lease, holder, limit]):
                break
            if time.monotonic() >= deadline:
                raise _exhausted(mailbox, f"{kind} slot", timeout)
            time.sleep(self.poll)
        try:
            with renewing(lambda: self._call(self._renew, keys=[key], args=[self.lease, holder]),
                          self.lease, name="inboxlink-lease",
                          tolerated=(errors.TransientError,)):
                yield
        finally:
            with contextlib.suppress(errors.TransientError):
                self._call(self._redis.zrem, key, holder)

    def take(self, mailbox: str, bucket: str, units: float, *, rate: float, burst: float,
             timeout: float = 60.0) -> None:
        """Take ``units`` from a shared token bucket (see `Budget`)."""
        key = f"{self.prefix}:bucket:{bucket}:{mailbox.lower()}"
        deadline = time.monotonic() + timeout
        while True:
            wait = float(self._call(self._take, keys=[key], args=[units, rate, burst]))
            if wait <= 0:
                return
            if time.monotonic() + wait > deadline:
                raise _exhausted(mailbox, f"{bucket} units", timeout)
            time.sleep(wait)

    def __repr__(self) -> str:
        return f"RedisBudget(prefix={self.prefix!r}, lease={self.lease})"
