"""Quota units per method and the token bucket that paces under the per-user limit."""

from __future__ import annotations

from typing import Any

import pytest

from inboxlink.adapters.gmail._quota import COST, PER_USER_UNITS_PER_MINUTE, TokenBucket
from inboxlink.testing.conformance import make_message

from .emulator import GmailEmulator
from .support import make_mailbox


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_documented_costs() -> None:
    assert COST["messages.get"] == 5
    assert COST["messages.list"] == 5
    assert COST["messages.send"] == 100
    assert COST["messages.insert"] == 25
    assert COST["labels.list"] == 1


def test_bucket_bursts_then_paces() -> None:
    clock = FakeClock()
    bucket = TokenBucket(100, 10, clock=clock, sleep=clock.sleep)
    assert bucket.take(60) == 0
    assert bucket.take(40) == 0
    assert bucket.take(20) == pytest.approx(2.0)
    assert clock.now == pytest.approx(2.0)


def test_bucket_never_refuses_a_request_larger_than_its_capacity() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, 10, clock=clock, sleep=clock.sleep)
    bucket.take(10)
    assert bucket.take(50) == pytest.approx(1.0)  # waits for a full bucket, then drains it
    assert bucket.take(10) == pytest.approx(5.0)  # the debt is paid before the next call


def test_per_minute_bucket_keeps_every_minute_under_the_limit() -> None:
    clock = FakeClock()
    bucket = TokenBucket.per_minute(PER_USER_UNITS_PER_MINUTE, clock=clock, sleep=clock.sleep)
    spent: list[tuple[float, int]] = []
    for _ in range(2000):  # 2000 batches of 50 metadata gets = 500,000 units
        bucket.take(250)
        spent.append((clock.now, 250))
    for start, _ in spent[::50]:
        window = sum(u for t, u in spent if start <= t < start + 60)
        assert window <= PER_USER_UNITS_PER_MINUTE


def test_mailbox_counts_units_per_call(emulator: GmailEmulator) -> None:
    for n in range(12):
        emulator.deliver(make_message(n))
    mailbox = make_mailbox(emulator)
    mailbox.folders()
    page = mailbox.list_messages("INBOX", limit=500)
    assert mailbox.units_spent == 1 + 5 + 12 * 5
    mailbox.fetch_many([s.id for s in page.items])
    assert mailbox.units_spent == 1 + 5 + 12 * 5 + 12 * 5
    assert mailbox.bucket is not None
    assert mailbox.bucket.spent == mailbox.units_spent


def test_pacing_can_be_switched_off(emulator: GmailEmulator) -> None:
    assert make_mailbox(emulator, quota_units_per_minute=None).bucket is None


def test_listing_is_paced_by_the_mailbox_bucket(emulator: GmailEmulator) -> None:
    for n in range(250):
        emulator.deliver(make_message(n))
    mailbox = make_mailbox(emulator)
    clock = FakeClock()
    mailbox.bucket = TokenBucket(1000, 100, clock=clock, sleep=clock.sleep)
    mailbox.folders()  # 1 unit
    mailbox.list_messages("INBOX", limit=500)  # 5 + 250 x 5 units, in five batches of 50
    assert mailbox.bucket.spent == 1256
    # 1,000 units were in the bucket; the other 256 took 2.56 s to refill, spread over the
    # batches that needed them rather than taken as one burst.
    assert sum(clock.sleeps) == pytest.approx(2.56)
    assert len(clock.sleeps) >= 2


def test_a_shared_budget_paces_every_mailbox_object_of_the_user_from_one_bucket(
        emulator: GmailEmulator, redis_server: Any) -> None:
    import time
    import uuid

    import redis

    from inboxlink.budget import RedisBudget

    for n in range(12):
        emulator.deliver(make_message(n))
    prefix = f"q{uuid.uuid4().hex[:8]}"
    budget = RedisBudget(redis_server.url, prefix=prefix)
    boxes = [make_mailbox(emulator, quota_units_per_minute=600, budget=budget)
             for _ in range(2)]  # a burst of 120 units, then 8 units a second
    assert all(box.bucket is None for box in boxes)  # no private buckets
    started = time.monotonic()
    for box in boxes:
        box.folders()
        box.list_messages("INBOX", limit=500)
    elapsed = time.monotonic() - started
    spent = sum(box.units_spent for box in boxes)
    assert spent == 2 * (1 + 5 + 12 * 5)
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    keys = client.keys(f"{prefix}:*")
    assert len(keys) == 1  # one bucket for the user, whichever object spent
    left = float(client.hget(keys[0], "tokens") or 0)
    # Every unit either object spent came out of that bucket (refilled at 8/s meanwhile).
    assert left <= 120 - spent + 8 * elapsed + 1e-6
