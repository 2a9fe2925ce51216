"""The retry policy: only RateLimited/TransientError, honours retry_after, bounded."""

from __future__ import annotations

import time

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


def _instances() -> list[errors.InboxLinkError]:
    return [cls() for cls in errors.all_error_classes()]


@pytest.mark.parametrize("error", _instances(), ids=lambda e: type(e).__name__)
def test_is_retryable_is_exactly_the_errors_own_flag(error: errors.InboxLinkError) -> None:
    from inboxlink.retry import is_retryable

    assert is_retryable(error) is error.retryable
    flipped = type(error)(retryable=not error.retryable)
    assert is_retryable(flipped) is flipped.retryable


@pytest.mark.parametrize("error", [errors.ConnectionLost(), errors.ServerUnreachable()],
                         ids=lambda e: type(e).__name__)
def test_reads_are_retried_after_a_dropped_or_unreachable_connection(
        error: errors.InboxLinkError) -> None:
    fn = Flaky(error)
    assert RetryPolicy(sleep=lambda _: None).call(fn) == "ok"
    assert fn.calls == 2


@pytest.mark.parametrize(
    "error", [errors.ConnectionLost(), errors.OperationTimeout(),
              errors.SendOutcomeUnknown(raw=b"x", message_id="<a@b>")],
    ids=lambda e: type(e).__name__)
def test_writes_are_never_repeated_after_a_failure_that_may_follow_the_server_acting(
        error: errors.InboxLinkError) -> None:
    fn = Flaky(error)
    with pytest.raises(type(error)):
        RetryPolicy(sleep=lambda _: None).call_write(fn)
    assert fn.calls == 1


@pytest.mark.parametrize(
    "error", [errors.RateLimited(), errors.TransientError(), errors.ServerUnreachable()],
    ids=lambda e: type(e).__name__)
def test_writes_are_retried_when_the_server_provably_did_not_act(
        error: errors.InboxLinkError) -> None:
    fn = Flaky(error)
    assert RetryPolicy(sleep=lambda _: None).call_write(fn) == "ok"
    assert fn.calls == 2


def test_foreign_exceptions_are_never_retried() -> None:
    from inboxlink.retry import is_retryable

    assert not is_retryable(ConnectionResetError())
    assert not is_retryable(ValueError())


def test_resend_wait_backs_off_and_honours_the_longest_retry_after() -> None:
    policy = RetryPolicy(max_attempts=5, initial=0.5, max_wait=1.5, max_total=60)
    started = time.monotonic()
    assert policy.resend_wait(1, started) == 0.5
    assert policy.resend_wait(2, started, [None, 0.2]) == 1.0
    assert policy.resend_wait(4, started) == 1.5  # capped at max_wait
    assert policy.resend_wait(1, started, [3.0, 7.0, None]) == 7.0  # Retry-After wins the cap


def test_resend_wait_stops_at_the_attempts_and_the_total_time() -> None:
    policy = RetryPolicy(max_attempts=3, max_total=10)
    now = time.monotonic()
    assert policy.resend_wait(3, now) is None
    assert policy.resend_wait(1, now, [11.0]) is None
    assert policy.resend_wait(1, now - 9.8) is None


def test_resend_wait_draws_on_the_calls_one_budget() -> None:
    policy = RetryPolicy(max_attempts=3, initial=0.0)
    granted: list[float | None] = []

    def call() -> None:
        started = time.monotonic()
        # A batch loop asking for re-sends: the first try of the call already counts.
        granted.extend(policy.resend_wait(n, started) for n in (1, 1, 1))

    policy.call(call)
    assert granted == [0.0, 0.0, None]
