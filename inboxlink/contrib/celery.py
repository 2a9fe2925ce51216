"""Keep many mailboxes current on Celery workers: one task per mailbox sync round.

::

    from celery import Celery
    from inboxlink.budget import RedisBudget
    from inboxlink.contrib.celery import install
    from inboxlink.sync import RedisStore

    app = Celery("mail", broker="redis://127.0.0.1:6379/0")
    budget = RedisBudget("redis://127.0.0.1:6379/0")
    sync = install(app, resolver=open_mailbox, handler=handle,
                   store=RedisStore("redis://127.0.0.1:6379/0"), budget=budget)
    sync.start("alice")            # from anywhere that can reach the broker

Each round is the embedded `Runner`'s ``sync_mailbox`` — the token is
stored only after the handler returned — run by a task that Celery acknowledges late and
rejects when its worker dies, so a killed worker's round is delivered again (after the
broker's visibility timeout). A round that failed is retried by Celery; a round that
succeeded schedules the next one ``interval`` seconds later. Exactly one chain of rounds
lives per mailbox: each round carries its id and its parent's, Redis remembers the current
one, and a round runs only if it is current or takes over from its parent atomically — so
a redelivered or duplicated round whose successor already exists ends at once. Scheduling,
retries, acknowledgement and concurrency are Celery's; nothing of that is redone here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from inboxlink.budget import Budget
from inboxlink.models import FolderRole
from inboxlink.sync.runner import Handler, Resolver, Runner, folder_key
from inboxlink.sync.store import TokenStore

__all__ = ["SyncTasks", "install"]

#: Celery task name of one sync round
TASK_NAME = "inboxlink.sync_round"

# KEYS[1] = chain key; ARGV = round id, parent id. The round runs if it is current, or
# takes over when its parent still is (it started before the parent handed over).
_CLAIM = """
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then return 1 end
if current and current == ARGV[2] then redis.call('SET', KEYS[1], ARGV[1]) return 1 end
return 0
"""

# KEYS[1] = chain key; ARGV = round id, successor id. Hand over only while still current.
_HAND_OVER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) end
return 1
"""


@attrs.define
class SyncTasks:
    """What `install` registered: start/stop mailboxes and the round task itself."""

    app: Any
    task: Any
    runner_factory: Callable[[], Runner]
    redis: Any
    prefix: str
    interval: float
    folders: tuple[str, ...]
    budget: Budget | None = None
    _runner: Runner | None = None

    def runner(self) -> Runner:
        """This worker process's runner (made on first use, after the worker forked)."""
        if self._runner is None:
            self._runner = self.runner_factory()
        return self._runner

    def chain_key(self, key: str) -> str:
        """The Redis key holding the id of the mailbox's current round."""
        return f"{self.prefix}:chain:{key}"

    def start(self, key: str, folders: Iterable[FolderRole | str] | None = None,
              *, countdown: float = 0) -> str:
        """Start (or restart) keeping ``key`` current; returns the first round's id. Any
        older chain of rounds for the same mailbox ends at its next step."""
        names = list(self.folders if folders is None else (folder_key(f) for f in folders))
        round_id = uuid.uuid4().hex
        self.redis.set(self.chain_key(key), round_id)  # current before it can run
        self.task.apply_async(args=(key, names, round_id, ""), task_id=round_id,
                              countdown=countdown)
        return round_id

    def stop(self, key: str) -> None:
        """Stop keeping ``key`` current (its pending round ends when it runs)."""
        self.redis.delete(self.chain_key(key))

    def current(self, key: str) -> str | None:
        """The id of the mailbox's current round, or ``None`` when it is not kept current."""
        value = self.redis.get(self.chain_key(key))
        return None if value is None else (value.decode() if isinstance(value, bytes)
                                           else str(value))


def install(app: Any, *, resolver: Resolver, handler: Handler, store: TokenStore,
            redis_url: str | None = None, budget: Budget | None = None,
            folders: Iterable[FolderRole | str] = (FolderRole.INBOX,),
            interval: float = 30.0, retry_delay: float = 5.0,
            on_resync: Callable[[str, str], None] | None = None,
            on_error: Callable[[str, str, BaseException], None] | None = None,
            prefix: str = "inboxlink:celery") -> SyncTasks:
    """Register the sync round task on ``app`` and return the `SyncTasks` handle.

    Args:
        app: the Celery application (its broker should be Redis or RabbitMQ; set the
            broker's visibility timeout above your longest round).
        resolver: opens a mailbox for a key (pass ``budget=`` to ``connect`` there, so every
            worker shares the per-mailbox limits).
        handler: called with ``(key, batch)``; idempotent by message id (at least once).
        store: where tokens live; a `RedisStore` across machines.
        redis_url: Redis for the round-chain bookkeeping (default: the app's broker URL).
        budget: kept on the handle for the resolver's use.
        folders: the folders `SyncTasks.start` keeps current by default.
        interval: seconds between the end of a round and the next.
        retry_delay: seconds before Celery retries a failed round.
        on_resync / on_error: passed to each worker's `Runner`.
    """
    import redis

    url = redis_url or str(app.conf.broker_url or "")
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("install() needs redis_url= when the broker is not Redis")
    client = redis.Redis.from_url(url)
    claim = client.register_script(_CLAIM)
    hand_over = client.register_script(_HAND_OVER)

    def make_runner() -> Runner:
        return Runner(store=store, resolver=resolver, handler=handler, on_resync=on_resync,
                      on_error=on_error, workers=1, keep_open=False)

    handle: SyncTasks

    # Celery ships no type hints, so its decorator is untyped. shared=False: the task closes
    # over this install's store and handler, and must not be copied into other apps.
    @app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True,  # type: ignore[untyped-decorator]
              max_retries=None, shared=False)
    def sync_round(self: Any, key: str, names: list[str], round_id: str,
                   parent_id: str) -> dict[str, int]:
        if not claim(keys=[handle.chain_key(key)], args=[round_id, parent_id]):
            return {"stale": 1}  # another round owns this mailbox now
        report = handle.runner().sync_mailbox(key, names)
        if report.failures:
            raise self.retry(countdown=retry_delay)
        successor = uuid.uuid4().hex
        # Schedule first, then hand over: a worker killed in between leaves this round
        # current; whichever of its redelivery and the orphan successor claims first wins.
        sync_round.apply_async(args=(key, names, successor, round_id), task_id=successor,
                               countdown=interval)
        hand_over(keys=[handle.chain_key(key)], args=[round_id, successor])
        return {"batches": report.batches, "changes": report.changes}

    handle = SyncTasks(app=app, task=sync_round, runner_factory=make_runner, redis=client,
                       prefix=prefix, interval=interval,
                       folders=tuple(folder_key(f) for f in folders), budget=budget)
    return handle
