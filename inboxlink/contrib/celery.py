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

    # and one beat process next to the workers: celery -A mail beat

Each round is the embedded `Runner`'s ``sync_mailbox`` — the token is stored only after
the handler returned — run by a task that Celery acknowledges late and rejects when its
worker dies, so a killed worker's round is delivered again. A round that failed is retried
by Celery; a round that succeeded hands over to its successor and schedules it
``interval`` seconds later.

Exactly one chain of rounds lives per mailbox (`inboxlink.contrib._chains`): a round runs
only if it is the mailbox's current one and no other round of the mailbox is running, and
holds a lease while it runs. When a chain is lost — a round could not schedule its
successor because Redis was restarting, a worker died and its round never came back — its
lease expires, and the ``inboxlink.ensure_chains`` task, run every ``check_every`` seconds
by **celery beat**, starts a new chain for it (atomically, only while the lease is still
gone, so never beside a live one). Scheduling, periodic tasks, retries, acknowledgement
and concurrency are Celery's; nothing of that is redone here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from inboxlink.budget import Budget
from inboxlink.contrib._chains import Chains, Claim
from inboxlink.models import FolderRole
from inboxlink.sync.runner import Handler, Resolver, Runner, folder_key
from inboxlink.sync.store import TokenStore

__all__ = ["SyncTasks", "install"]

#: Celery task name of one sync round
TASK_NAME = "inboxlink.sync_round"
#: Celery task name of the watchdog that restarts lost chains (run by celery beat)
ENSURE_NAME = "inboxlink.ensure_chains"
#: the beat schedule entry `install` adds
BEAT_ENTRY = "inboxlink-ensure-chains"


@attrs.define
class SyncTasks:
    """What `install` registered: start/stop mailboxes, the round task and the watchdog."""

    app: Any
    task: Any
    ensure_task: Any
    runner_factory: Callable[[], Runner]
    chains: Chains
    interval: float
    folders: tuple[str, ...]
    budget: Budget | None = None
    _runner: Runner | None = None

    @property
    def redis(self) -> Any:
        """The Redis client of the chain bookkeeping."""
        return self.chains.redis

    def runner(self) -> Runner:
        """This worker process's runner (made on first use, after the worker forked)."""
        if self._runner is None:
            self._runner = self.runner_factory()
        return self._runner

    def chain_key(self, key: str) -> str:
        """The Redis key holding the id of the mailbox's current round."""
        return self.chains.chain_key(key)

    def start(self, key: str, folders: Iterable[FolderRole | str] | None = None,
              *, countdown: float = 0) -> str:
        """Start (or restart) keeping ``key`` current; returns the first round's id. Any
        older chain of rounds for the same mailbox ends at its next step."""
        names = list(self.folders if folders is None else (folder_key(f) for f in folders))
        round_id = self.chains.start(key, names, countdown)  # current before it can run
        self.task.apply_async(args=(key, names, round_id), task_id=round_id,
                              countdown=countdown)
        return round_id

    def stop(self, key: str) -> None:
        """Stop keeping ``key`` current (its pending round ends when it runs)."""
        self.chains.stop(key)

    def current(self, key: str) -> str | None:
        """The id of the mailbox's current round, or ``None`` when it is not kept current."""
        return self.chains.current(key)

    def ensure(self) -> list[str]:
        """Start a new chain for every mailbox whose chain was lost; returns their keys.
        (What the beat-driven ``inboxlink.ensure_chains`` task does.)"""
        restarted = []
        for key, names in list(self.chains.lost()):
            round_id = self.chains.restart(key)
            if round_id is not None:
                self.task.apply_async(args=(key, names, round_id), task_id=round_id)
                restarted.append(key)
        return restarted


def install(app: Any, *, resolver: Resolver, handler: Handler, store: TokenStore,
            redis_url: str | None = None, budget: Budget | None = None,
            folders: Iterable[FolderRole | str] = (FolderRole.INBOX,),
            interval: float = 30.0, retry_delay: float = 5.0,
            lease: float = 60.0, grace: float = 120.0, check_every: float | None = 60.0,
            on_resync: Callable[[str, str], None] | None = None,
            on_error: Callable[[str, str, BaseException], None] | None = None,
            prefix: str = "inboxlink:celery") -> SyncTasks:
    """Register the sync round task and its watchdog on ``app``; return the `SyncTasks`.

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
        retry_delay: seconds before Celery retries a failed round (or one that found
            another round of its mailbox still running).
        lease: seconds a running round's lease outlives its worker (renewed meanwhile).
        grace: seconds a scheduled round may wait in the broker beyond its countdown
            before its chain counts as lost; keep it above your queue's worst backlog.
        check_every: seconds between watchdog runs, added to ``app.conf.beat_schedule``
            (run ``celery beat``); ``None`` adds nothing (schedule ``ensure_chains`` yourself).
        on_resync / on_error: passed to each worker's `Runner`.
    """
    import redis

    url = redis_url or str(app.conf.broker_url or "")
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("install() needs redis_url= when the broker is not Redis")
    chains = Chains(redis.Redis.from_url(url), prefix, lease=lease, grace=grace)

    def make_runner() -> Runner:
        return Runner(store=store, resolver=resolver, handler=handler, on_resync=on_resync,
                      on_error=on_error, workers=1, keep_open=False)

    handle: SyncTasks

    # Celery ships no type hints, so its decorator is untyped. shared=False: the task closes
    # over this install's store and handler, and must not be copied into other apps.
    @app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True,  # type: ignore[untyped-decorator]
              max_retries=None, shared=False)
    def sync_round(self: Any, key: str, names: list[str], round_id: str) -> dict[str, int]:
        claim = chains.claim(key, round_id)
        if claim is Claim.STALE:
            return {"stale": 1}  # another round owns this mailbox now
        if claim is Claim.BUSY:  # a redelivered copy, or a restart while a round runs
            raise self.retry(countdown=retry_delay)
        with chains.holding(key, round_id):
            report = handle.runner().sync_mailbox(key, names)
        if report.failures:
            # Keep the mailbox for this round's retry (same id); a lost lease means the
            # watchdog restarted the chain meanwhile, and this round simply ends.
            if chains.finish(key, round_id, round_id, retry_delay):
                raise self.retry(countdown=retry_delay)
            return {"stale": 1}
        successor = uuid.uuid4().hex
        # Hand over first, then schedule: a round that dies in between (or cannot reach the
        # broker) leaves a `next:` lease that expires, and the watchdog restarts the chain.
        if chains.finish(key, round_id, successor, interval):
            sync_round.apply_async(args=(key, names, successor), task_id=successor,
                                   countdown=interval)
        return {"batches": report.batches, "changes": report.changes}

    @app.task(name=ENSURE_NAME, shared=False, ignore_result=True)  # type: ignore[untyped-decorator]
    def ensure_chains() -> int:
        return len(handle.ensure())

    if check_every is not None:
        app.conf.beat_schedule = {**(app.conf.beat_schedule or {}),
                                  BEAT_ENTRY: {"task": ENSURE_NAME, "schedule": check_every}}
    handle = SyncTasks(app=app, task=sync_round, ensure_task=ensure_chains,
                       runner_factory=make_runner, chains=chains, interval=interval,
                       folders=tuple(folder_key(f) for f in folders), budget=budget)
    return handle
