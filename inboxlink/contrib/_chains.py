"""The Redis bookkeeping that keeps exactly one chain of sync rounds per mailbox alive.

Three keys per deployment prefix:

- ``<prefix>:chain:<key>`` — the id of the mailbox's current round (no expiry);
- ``<prefix>:lease:<key>`` — a lease with an expiry: ``run:<id>`` while round ``<id>`` runs
  (renewed in the background), ``next:<id>`` while round ``<id>`` waits in the broker;
- ``<prefix>:mailboxes`` — a hash of every mailbox kept current (key → its folders).

A round runs only if it is current and no round of the mailbox is running; it hands over
to its successor only while it still holds its ``run:`` lease. A mailbox whose lease
expired has lost its chain (a round could not schedule its successor while Redis was down,
a worker died and its round was never redelivered): `Chains.restart` starts a new one,
atomically and only while the lease is still gone, so a restarted chain never runs beside
a live one. Every step is one Lua script: one round trip, atomic on the server.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

from inboxlink._lease import renewing

__all__ = ["Chains", "Claim"]


class Claim(enum.Enum):
    """What a round may do."""

    RUN = 1  # it is current and nothing else of the mailbox runs
    STALE = 0  # another round owns the mailbox now: end
    BUSY = -1  # it is current, but a round of the mailbox still runs: try again later


# KEYS = chain, lease; ARGV = round id, lease ms.
_CLAIM = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local holder = redis.call('GET', KEYS[2])
if holder and string.sub(holder, 1, 4) == 'run:' then return -1 end
redis.call('SET', KEYS[2], 'run:' .. ARGV[1], 'PX', ARGV[2])
return 1
"""

# KEYS = lease; ARGV = 'run:<id>', lease ms. Renews only a lease still held.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# KEYS = chain, lease; ARGV = round id, next id, ms the next round may take to start.
# Hands over (next id = successor) or waits for its own retry (next id = round id); a round
# that lost its lease or was replaced meanwhile hands over nothing (returns 0).
_FINISH = """
if redis.call('GET', KEYS[2]) ~= 'run:' .. ARGV[1] then return 0 end
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('SET', KEYS[2], 'next:' .. ARGV[2], 'PX', ARGV[3])
  return 1
end
if current then
  redis.call('SET', KEYS[2], 'next:' .. current, 'PX', ARGV[3])
else
  redis.call('DEL', KEYS[2])
end
return 0
"""

# KEYS = chain, lease; ARGV = new id, ms it may take to start. A running round keeps its
# lease: the new round waits for it (BUSY) rather than running beside it.
_START = """
redis.call('SET', KEYS[1], ARGV[1])
local holder = redis.call('GET', KEYS[2])
if not (holder and string.sub(holder, 1, 4) == 'run:') then
  redis.call('SET', KEYS[2], 'next:' .. ARGV[1], 'PX', ARGV[2])
end
return 1
"""

# KEYS = chain, lease, registry; ARGV = new id, ms it may take to start, mailbox key.
_RESTART = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('HEXISTS', KEYS[3], ARGV[3]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], 'next:' .. ARGV[1], 'PX', ARGV[2])
return 1
"""


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Chains:
    """One chain of rounds per mailbox (see the module docstring).

    Args:
        client: a ``redis.Redis``.
        prefix: key prefix of this deployment.
        lease: seconds a running round's lease lives without renewal (renewed every third).
        grace: seconds a scheduled round may wait in the broker beyond its countdown before
            its chain counts as lost.
    """

    def __init__(self, client: Any, prefix: str, *, lease: float, grace: float) -> None:
        self.redis = client
        self.prefix = prefix
        self.lease = lease
        self.grace = grace
        self._claim = client.register_script(_CLAIM)
        self._renew = client.register_script(_RENEW)
        self._finish = client.register_script(_FINISH)
        self._start = client.register_script(_START)
        self._restart = client.register_script(_RESTART)

    # ------------------------------------------------------------------ keys
    def chain_key(self, key: str) -> str:
        """The key holding the id of the mailbox's current round."""
        return f"{self.prefix}:chain:{key}"

    def lease_key(self, key: str) -> str:
        """The key holding the mailbox's chain lease."""
        return f"{self.prefix}:lease:{key}"

    @property
    def registry(self) -> str:
        """The hash of every mailbox kept current (key → JSON list of folders)."""
        return f"{self.prefix}:mailboxes"

    def _keys(self, key: str) -> list[str]:
        return [self.chain_key(key), self.lease_key(key)]

    # ------------------------------------------------------------------ membership
    def start(self, key: str, folders: list[str], countdown: float) -> str:
        """Register ``key`` and make a new round current; returns its id (schedule it)."""
        round_id = uuid.uuid4().hex
        self.redis.hset(self.registry, key, json.dumps(folders))
        self._start(keys=self._keys(key), args=[round_id, _ms(countdown + self.grace)])
        return round_id

    def stop(self, key: str) -> None:
        """Forget ``key``: its pending round finds it is no longer current."""
        self.redis.hdel(self.registry, key)
        self.redis.delete(self.chain_key(key))

    def current(self, key: str) -> str | None:
        """The id of the mailbox's current round, or ``None``."""
        value = self.redis.get(self.chain_key(key))
        return None if value is None else _text(value)

    # ------------------------------------------------------------------ one round
    def claim(self, key: str, round_id: str) -> Claim:
        """May round ``round_id`` run now?"""
        return Claim(int(self._claim(keys=self._keys(key), args=[round_id, _ms(self.lease)])))

    def holding(self, key: str, round_id: str) -> AbstractContextManager[None]:
        """Renew the running round's lease in the background while the block runs."""
        import redis

        return renewing(
            lambda: self._renew(keys=[self.lease_key(key)],
                                args=[f"run:{round_id}", _ms(self.lease)]),
            self.lease, name="inboxlink-chain-lease", tolerated=(redis.RedisError,))

    def finish(self, key: str, round_id: str, next_id: str, countdown: float) -> bool:
        """Hand the mailbox over to round ``next_id``, due in ``countdown`` seconds (pass
        ``round_id`` itself before a retry). False: this round no longer owned it."""
        return bool(self._finish(keys=self._keys(key),
                                 args=[round_id, next_id, _ms(countdown + self.grace)]))

    # ------------------------------------------------------------------ the watchdog
    def lost(self, batch: int = 500) -> Iterator[tuple[str, list[str]]]:
        """Every registered mailbox whose chain lease expired, with its folders."""
        cursor = 0
        while True:
            cursor, found = self.redis.hscan(self.registry, cursor, count=batch)
            entries = [(_text(k), _text(v)) for k, v in found.items()]
            pipe = self.redis.pipeline(transaction=False)
            for key, _ in entries:
                pipe.exists(self.lease_key(key))
            for (key, folders), alive in zip(entries, pipe.execute(), strict=True):
                if not alive:
                    yield key, json.loads(folders)
            if int(cursor) == 0:
                return

    def restart(self, key: str, countdown: float = 0.0) -> str | None:
        """Start a new chain for ``key`` if its lease is still gone; its first round's id
        (schedule it), or ``None`` when a live chain showed up meanwhile."""
        round_id = uuid.uuid4().hex
        keys = [*self._keys(key), self.registry]
        if self._restart(keys=keys, args=[round_id, _ms(countdown + self.grace), key]):
            return round_id
        return None
