"""The one deadline and the one retry budget, without any network."""

from __future__ import annotations

import asyncio
import time

import pytest

from inboxlink import deadline, errors
from inboxlink.retry import RetryPolicy, bounded, carried, spend_retry


def test_policy_attempts_are_one_budget_for_nested_retry_loops() -> None:
    policy = RetryPolicy(max_attempts=4, sleep=lambda s: None)
    inner_tries: list[int] = []

    def call() -> None:
        inner_tries.append(1)
        while spend_retry(0.0):  # an inner loop re-sending failed parts
            inner_tries.append(1)
        raise errors.RateLimited(retry_after=0)

    with pytest.raises(errors.RateLimited):
        policy.call(call)
    assert len(inner_tries) == 4


def test_a_nested_call_shares_the_outer_budget() -> None:
    policy = RetryPolicy(max_attempts=3, sleep=lambda s: None)
    tries: list[int] = []

    def inner() -> None:
        tries.append(1)
        raise errors.TransientError()

    with pytest.raises(errors.TransientError):
        policy.call(lambda: policy.call(inner))
    assert len(tries) == 3


def test_no_retry_starts_whose_back_off_would_pass_the_deadline(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INBOXLINK_NO_RETRY_WAIT", raising=False)
    slept: list[float] = []
    policy = RetryPolicy(max_attempts=10, deadline=5.0, sleep=slept.append)
    tries: list[int] = []

    def throttled() -> None:
        tries.append(1)
        raise errors.RateLimited(retry_after=30)

    with pytest.raises(errors.RateLimited):
        policy.call(throttled)
    assert tries == [1]
    assert slept == []


def test_bound_cuts_waits_to_the_deadline_and_refuses_past_it() -> None:
    assert deadline.bound(7.0) == 7.0  # no deadline: the timeout as given
    with deadline.scope(0.2):
        assert deadline.bound(7.0) <= 0.2
        time.sleep(0.25)
        with pytest.raises(errors.OperationTimeout):
            deadline.bound(7.0)
    with deadline.scope(10), deadline.scope(100):
        remaining = deadline.remaining()
        assert remaining is not None
        assert remaining <= 10  # an inner scope never extends the outer one


def test_the_default_deadline_is_a_few_timeouts() -> None:
    assert bounded(None, 2.0).deadline == 8.0
    assert bounded(RetryPolicy(deadline=3.0), 2.0).deadline == 3.0


def test_budget_and_deadline_are_carried_into_another_loop() -> None:
    seen: list[float | None] = []

    async def probe() -> bool:
        seen.append(deadline.remaining())
        return spend_retry(0.0)

    policy = RetryPolicy(max_attempts=1, deadline=30)

    def call() -> bool:
        # A fresh loop stands for the Graph adapter's loop thread: the context is not shared.
        return asyncio.new_event_loop().run_until_complete(carried(probe()))

    assert policy.call(call) is False  # the one attempt is used: no retry inside
    assert seen[0] is not None
    assert 0 < seen[0] <= 30
