"""Retry policy (tenacity) driven by the typed errors.

Only `RateLimited` and `TransientError`
are retried, never longer than ``max_attempts`` tries or ``max_total`` seconds, and never
sooner than the provider's ``retry_after``. Sending is never wrapped in this policy: a
send the provider may already have accepted must not be repeated.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import tenacity

from inboxlink import errors

__all__ = ["RetryPolicy", "is_retryable", "waits_disabled"]

R = TypeVar("R")

_DISABLE_ENV = "INBOXLINK_NO_RETRY_WAIT"


def waits_disabled() -> bool:
    """True when ``INBOXLINK_NO_RETRY_WAIT=1``: retries happen at once (for test suites)."""
    return os.environ.get(_DISABLE_ENV, "") not in ("", "0")


def is_retryable(exc: BaseException) -> bool:
    """Whether the policy retries this exception."""
    return isinstance(exc, (errors.RateLimited, errors.TransientError)) and exc.retryable


@attrs.frozen
class RetryPolicy:
    """How reads are retried.

    Args:
        max_attempts: tries in all, the first included (1 disables retrying).
        max_total: give up once this many seconds have passed since the first try.
        initial: first back-off in seconds (doubled each time, with jitter).
        max_wait: cap on one back-off (a larger ``retry_after`` still wins, up to ``max_total``).
        sleep: the sleep function; tests pass a no-op or set ``INBOXLINK_NO_RETRY_WAIT=1``.
    """

    max_attempts: int = 4
    max_total: float = 120.0
    initial: float = 0.5
    max_wait: float = 30.0
    sleep: Callable[[float], None] | None = None

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
        """Call ``fn`` and retry it as this policy says; the last error is re-raised."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts)
            | tenacity.stop_before_delay(self.max_total),
            wait=self.wait_for,
            retry=tenacity.retry_if_exception(is_retryable),
            sleep=self._sleep,
            reraise=True,
        )
        return retrying(fn, *args, **kwargs)
