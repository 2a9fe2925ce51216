"""The Celery app of ``benchmarks/scale_fake.py``: the sync rounds on fake mailboxes.

The fake keeps its mailboxes in memory, so worker processes cannot share one: every
process keeps a *mirror* of them, rebuilt from a per-mailbox message count in Redis (the
benchmark "delivers" by raising it). Mirrors stay identical — same uidvalidity, the same
deliveries in the same order, so the same modseqs — and a token taken in one process is
good in every other, as a real server's is. Each round holds one of the mailbox's 4
connection slots in the shared `RedisBudget` while its mailbox is open (what the IMAP
adapter does), and the handler sleeps ``INBOXLINK_BENCH_WORK`` seconds per change (the
application's own I/O, a database write per message).
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

import redis
from celery import Celery

from inboxlink import ChangeSet
from inboxlink.budget import RedisBudget
from inboxlink.contrib.celery import install
from inboxlink.sync import RedisStore
from inboxlink.testing import FakeMailbox, FakeMailServer

REDIS = os.environ["INBOXLINK_BENCH_REDIS"]
PREFIX = os.environ["INBOXLINK_BENCH_PREFIX"]
WORK = float(os.environ.get("INBOXLINK_BENCH_WORK", "0.002"))

app = Celery("inboxlink_bench", broker=REDIS)
app.conf.update(task_default_queue=f"q-{PREFIX}", worker_prefetch_multiplier=1,
                broker_transport_options={"visibility_timeout": 60},
                broker_connection_retry_on_startup=True)
_redis = redis.Redis.from_url(REDIS)
budget = RedisBudget(REDIS, prefix=f"{PREFIX}:budget")
_server = FakeMailServer()
_mirrored: dict[str, int] = {}


def message(key: str, number: int) -> bytes:
    return (f"From: bob@example.net\r\nTo: {key}\r\nSubject: m{number}\r\n"
            f"Message-ID: <{number}.{key}@bench>\r\n\r\nhello\r\n").encode()


def _mirror(key: str) -> None:
    target = int(_redis.get(f"{PREFIX}:count:{key}") or 0)
    have = _mirrored.get(key)
    if have is None:
        # every process's copy of the folder must carry the same uidvalidity
        _server.account(key).folders["INBOX"].uidvalidity = 1
        have = 0
    for number in range(have, target):
        _server.deliver(message(key, number), to=key)
    _mirrored[key] = target


class BudgetedFake(FakeMailbox):
    """A fake mailbox holding one connection slot of the shared budget while open."""

    _permit: contextlib.ExitStack

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._permit.close()


def open_mailbox(key: str) -> FakeMailbox:
    _redis.incr(f"{PREFIX}:rounds")  # the benchmark's own count: one command per round
    permit = contextlib.ExitStack()
    permit.enter_context(budget.slot(key, "connection", 4, timeout=30))
    _mirror(key)
    mailbox = BudgetedFake(key, server=_server)
    mailbox._permit = permit
    return mailbox


def handle(key: str, batch: ChangeSet) -> None:
    time.sleep(WORK * len(batch))
    _redis.incrby(f"{PREFIX}:handled", len(batch.added))


def record_error(key: str, folder: str, error: BaseException) -> None:
    _redis.rpush(f"{PREFIX}:errors", f"{key} {type(error).__name__} {error}")


sync: Any = install(app, resolver=open_mailbox, handler=handle,
                    store=RedisStore(REDIS, prefix=f"{PREFIX}:tokens"), redis_url=REDIS,
                    interval=0.0, retry_delay=0.2, prefix=f"{PREFIX}:chain",
                    check_every=None, on_error=record_error)
