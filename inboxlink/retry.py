"""Retry policy (tenacity) driven by the typed errors.

Only :class:`~inboxlink.errors.RateLimited` and :class:`~inboxlink.errors.TransientError`
are retried, never longer than ``max_attempts`` tries or ``max_total`` seconds, and never
sooner than the provider's ``retry_after``. Each call runs under one overall ``deadline``
(:mod:`inboxlink.deadline`) that also bounds the network waits and reconnects inside it.
Sending is never wrapped in this policy: a send the provider may already have accepted
must not be repeated.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import tenacity

from inboxlink import deadline as _deadline
from inboxlink import errors

__all__ = ["DEADLINE_FACTOR", "RetryPolicy", "bounded", "is_retryable", "waits_disabled"]

R = TypeVar("R")

_DISABLE_ENV = "INBOXLINK_NO_RETRY_WAIT"
#: the default deadline of one public call, in multiples of the adapter's network timeout
DEADLINE_FACTOR = 4


def waits_disabled() -> bool:
    """True when ``INBOXLINK_NO_RETRY_WAIT=1``: retries happen at once (for test suites)."""
    return os.environ.get(_DISABLE_ENV, "") not in ("", "0")


def is_retryable(exc: BaseException) -> bool:
    """Whether the policy retries this exception."""
    return isinstance(exc, (errors.RateLimited, errors.TransientError)) and exc.retryable


class _PastDeadline(tenacity.stop.stop_base):
    """Stop when the back-off before the next try would not end before the deadline."""

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        left = _deadline.remaining()
        if left is None:
            return False
        # With waits disabled (test suites) the back-off is not taken, so it costs nothing.
        upcoming = 0.0 if waits_disabled() else (retry_state.upcoming_sleep or 0.0)
        return left <= 0 or upcoming >= left


@attrs.frozen
class RetryPolicy:
    """How reads are retried.

    Args:
        max_attempts: tries in all, the first included (1 disables retrying).
        max_total: give up once this many seconds have passed since the first try.
        initial: first back-off in seconds (doubled each time, with jitter).
        max_wait: cap on one back-off (a larger ``retry_after`` still wins, up to ``max_total``).
        sleep: the sleep function; tests pass a no-op or set ``INBOXLINK_NO_RETRY_WAIT=1``.
        deadline: seconds one public call may take in all: every try, back-off, reconnect
            and network wait inside it. ``None`` lets the adapter choose
            ``DEADLINE_FACTOR × timeout`` (see :func:`bounded`). No retry starts that could
            not finish its back-off before the deadline.
    """

    max_attempts: int = 4
    max_total: float = 120.0
    initial: float = 0.5
    max_wait: float = 30.0
    sleep: Callable[[float], None] | None = None
    deadline: float | None = None

    def wait_for(self, retry_state: tenacity.RetryCallState) -> float:
        """Seconds to wait before the next try."""
        backoff = tenacity.wait_exponential(multiplier=self.initial, max=self.max_wait)
        jitter = tenacity.wait_random(0, self.initial)
        wait = min(float(backoff(retry_state)) + float(jitter(retry_state)), self.max_wait)
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, errors.RateLimited) and exc.retry_after is not None:
            wait = max(wait, float(exc.retry_after))
        return wait

    def _sleep(self, seconds: float) -> None:
        if waits_disabled():
            return
        (self.sleep or tenacity.nap.sleep)(seconds)


    def call(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Call ``fn`` under this policy's deadline and retry it as the policy says; the last
        error is re-raised."""
        with _deadline.scope(self.deadline):
            return self._retrying()(fn, *args, **kwargs)

    def _retrying(self) -> tenacity.Retrying:
        return tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts)
            | tenacity.stop_before_delay(self.max_total) | _PastDeadline(),
            wait=self.wait_for,
            retry=tenacity.retry_if_exception(is_retryable),
            sleep=self._sleep,
            reraise=True,
        )


def bounded(policy: RetryPolicy | None, timeout: float) -> RetryPolicy:
    """``policy`` (or the default) with a deadline: its own, else ``DEADLINE_FACTOR × timeout``."""
    policy = policy or RetryPolicy()
    if policy.deadline is not None:
        return policy
    return attrs.evolve(policy, deadline=DEADLINE_FACTOR * timeout)
