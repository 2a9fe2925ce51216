"""The retry policy: only RateLimited/TransientError, honours retry_after, bounded."""

from __future__ import annotations

import pytest

from inboxlink import errors
from inboxlink.retry import RetryPolicy


class Flaky:
    def __init__(self, *failures: errors.InboxLinkError) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def test_retries_rate_limits_waiting_at_least_retry_after() -> None:
    slept: list[float] = []
    policy = RetryPolicy(max_attempts=4, initial=0.01, max_wait=0.02, sleep=slept.append)
    fn = Flaky(errors.RateLimited(retry_after=5), errors.TransientError())
    assert policy.call(fn) == "ok"
    assert fn.calls == 3
    assert slept[0] >= 5
    assert slept[1] <= 0.05


@pytest.mark.parametrize(
    "error", [errors.InvalidCredentials(), errors.NotFound(), errors.SendAsDenied(),
              errors.TransientError(retryable=False)]
)
def test_non_retryable_errors_fail_at_once(error: errors.InboxLinkError) -> None:
    fn = Flaky(error)
    with pytest.raises(type(error)):
        RetryPolicy(sleep=lambda _: None).call(fn)
    assert fn.calls == 1


def test_attempts_are_bounded_and_the_last_error_is_raised() -> None:
    fn = Flaky(*[errors.TransientError(f"try {i}") for i in range(10)])
    with pytest.raises(errors.TransientError, match="try 2"):
        RetryPolicy(max_attempts=3, sleep=lambda _: None).call(fn)
    assert fn.calls == 3


def test_total_time_is_bounded_by_retry_after() -> None:
    slept: list[float] = []
    fn = Flaky(errors.RateLimited(retry_after=600), errors.RateLimited(retry_after=600))
    with pytest.raises(errors.RateLimited):
        RetryPolicy(max_total=60, sleep=slept.append).call(fn)
    assert fn.calls == 1
    assert slept == []


def test_waits_can_be_disabled_for_test_suites(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setenv("INBOXLINK_NO_RETRY_WAIT", "1")
    fn = Flaky(errors.RateLimited(retry_after=30))
    assert RetryPolicy(sleep=slept.append).call(fn) == "ok"
    assert slept == []
    assert fn.calls == 2
