"""The Celery app the worker-process tests start (``celery -A celery_app worker``).

Configured from the environment the test sets: Redis (broker, token store, chain
bookkeeping), the Dovecot port and CA, a key prefix and a queue of the test's own. The
handler records every added message in a Redis list; the first message whose subject
starts with ``SLOW`` parks the handler (the test then kills that worker process). Every
sync round records when it opened and closed its mailbox, so a test can check that no two
rounds of one mailbox ever overlapped. ``celery -A celery_app beat`` runs the watchdog
that restarts lost chains every ``INBOXLINK_TEST_CHECK_EVERY`` seconds.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import time

import redis
from celery import Celery

from inboxlink import ChangeSet
from inboxlink.adapters.imap import ImapMailbox, ImapSettings
from inboxlink.budget import RedisBudget
from inboxlink.contrib.celery import install
from inboxlink.sync import RedisStore

REDIS = os.environ["INBOXLINK_TEST_REDIS"]
PREFIX = os.environ["INBOXLINK_TEST_PREFIX"]
PORT = int(os.environ["INBOXLINK_TEST_IMAP_PORT"])
CA = os.environ["INBOXLINK_TEST_CA"]
PASSWORD = os.environ["INBOXLINK_TEST_PASSWORD"]

app = Celery("inboxlink_test", broker=REDIS)
app.conf.update(
    task_default_queue=os.environ["INBOXLINK_TEST_QUEUE"],
    broker_transport_options={"visibility_timeout": 5},
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
)
_redis = redis.Redis.from_url(REDIS)
#: INBOXLINK_TEST_BUDGET=1: every worker process counts connections in one RedisBudget
BUDGET = (RedisBudget(REDIS, prefix=f"{PREFIX}:budget", lease=5.0)
          if os.environ.get("INBOXLINK_TEST_BUDGET") else None)
#: seconds the handler keeps a non-empty batch (its connection stays open meanwhile)
PAUSE = float(os.environ.get("INBOXLINK_TEST_PAUSE", "0"))


class RecordedMailbox(ImapMailbox):
    """Records ``key opened closed`` (wall clock) when the round closes it."""

    key = ""
    opened = 0.0

    def close(self) -> None:
        try:
            super().close()
        finally:
            # Redis may be down (the restart scenario): such a round handed nothing over.
            with contextlib.suppress(redis.RedisError):
                _redis.rpush(f"{PREFIX}:rounds", f"{self.key} {self.opened} {time.time()}")


def open_mailbox(key: str) -> ImapMailbox:
    # "user@example.com#3": several keys (sync chains) may share one account.
    mailbox = RecordedMailbox(ImapSettings(
        address=key.split("#")[0], imap_host="127.0.0.1", imap_port=PORT,
        imap_security="tls", password=PASSWORD,
        ssl_context=ssl.create_default_context(cafile=CA), timeout=10.0, budget=BUDGET))
    mailbox.key, mailbox.opened = key, time.time()
    return mailbox


def record_error(key: str, folder: str, error: BaseException) -> None:
    provider = getattr(error, "provider", "")
    # Redis itself may be down (the restart scenario): then there is nothing to record in.
    with contextlib.suppress(redis.RedisError):
        _redis.rpush(f"{PREFIX}:errors", f"{key} {provider} {type(error).__name__} {error}")


def handle(key: str, batch: ChangeSet) -> None:
    for summary in batch.added:
        if (summary.subject or "").startswith("SLOW") and \
                _redis.setnx(f"{PREFIX}:slow-armed", os.getpid()):
            _redis.set(f"{PREFIX}:in-handler", os.getpid())
            time.sleep(120)  # the test kills this process here
        _redis.rpush(f"{PREFIX}:handled", f"{key} {summary.message_id}")
    if batch.added and PAUSE:
        time.sleep(PAUSE)  # the mailbox (and its connection slot) stays open meanwhile


sync = install(app, resolver=open_mailbox, handler=handle,
               store=RedisStore(REDIS, prefix=f"{PREFIX}:tokens"), redis_url=REDIS,
               interval=float(os.environ.get("INBOXLINK_TEST_INTERVAL", "0.3")),
               retry_delay=0.3, prefix=f"{PREFIX}:chain",
               # a running round's lease, and how long a scheduled one may sit in the queue
               lease=3.0, grace=float(os.environ.get("INBOXLINK_TEST_GRACE", "10")),
               check_every=float(os.environ.get("INBOXLINK_TEST_CHECK_EVERY", "1")),
               on_error=record_error)
