"""Retry policy (tenacity) driven by the typed errors.

One rule, the error's own word: an error is retried exactly when its ``retryable`` flag
says repeating the call can succeed (``RateLimited``, ``TransientError``, and for reads
``ConnectionLost`` / ``ServerUnreachable``), never longer than ``max_attempts`` tries (one
budget for the whole public call, shared by every retry layer inside it) or ``max_total``
seconds, and never sooner than the provider's ``retry_after``. Each call runs under one
overall ``deadline`` (`inboxlink.deadline`) that also bounds the network waits and
reconnects inside it.

A call that changes something (storing a Sent copy) goes through `RetryPolicy.call_write`:
it is repeated only after errors that prove the server did not act (refused, throttled,
never reached) — never after a dropped connection or a timeout, which may have come after
the server did it. Sending is never wrapped in this policy at all: a send the provider
may already have accepted must not be repeated.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Callable, Coroutine, Iterable
from contextvars import ContextVar
from typing import Any, TypeVar

import attrs
import tenacity

from inboxlink import _bridge, errors
from inboxlink import deadline as _deadline

__all__ = ["DEADLINE_FACTOR", "RetryPolicy", "bounded", "carried", "is_retryable",
           "spend_retry", "waits_disabled"]

R = TypeVar("R")

_DISABLE_ENV = "INBOXLINK_NO_RETRY_WAIT"
#: the default deadline of one public call, in multiples of the adapter's network timeout
DEADLINE_FACTOR = 4


def waits_disabled() -> bool:
    """True when ``INBOXLINK_NO_RETRY_WAIT=1``: retries happen at once (for test suites)."""
    return os.environ.get(_DISABLE_ENV, "") not in ("", "0")


#: failures that may come after the server acted: a write is not repeated after them
_MAYBE_DONE: tuple[type[errors.InboxLinkError], ...] = (
    errors.ConnectionLost, errors.OperationTimeout, errors.SendOutcomeUnknown,
)


def is_retryable(exc: BaseException, *, idempotent: bool = True) -> bool:
    """Whether the policy retries this exception: exactly its ``retryable`` flag.

    With ``idempotent=False`` (a write), an error that may have come after the server
    acted (a dropped connection, a timeout) is not retried even though it is retryable.
    Anything that is not an `InboxLinkError` is never retried.
    """
    if not isinstance(exc, errors.InboxLinkError) or not exc.retryable:
        return False
    return idempotent or not isinstance(exc, _MAYBE_DONE)


@attrs.define
class _Budget:
    """Tries one public call may make, across every retry layer inside it."""

    limit: int
    used: int = 0


_BUDGET: ContextVar[_Budget | None] = ContextVar("inboxlink_retry_budget", default=None)


class _OutOfAttempts(tenacity.stop.stop_base):
    def __init__(self, budget: _Budget) -> None:
        self.budget = budget

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        return self.budget.used >= self.budget.limit


def spend_retry(wait: float) -> bool:
    """Whether one more try (after ``wait`` seconds) fits the current call; if so it is counted.

    Inside `RetryPolicy.call` the call's own attempt budget and deadline decide;
    outside any call only a deadline (if any) does, and the caller's loop keeps its own limit.
    """
    budget = _BUDGET.get()
    if budget is not None and budget.used >= budget.limit:
        return False
    left = _deadline.remaining()
    if left is not None and (left <= 0 or (not waits_disabled() and wait >= left)):
        return False
    if budget is not None:
        budget.used += 1
    return True


def carried(coro: Coroutine[Any, Any, R]) -> Coroutine[Any, Any, R]:
    """``coro`` wrapped to run with the calling thread's retry budget and deadline.

    A coroutine handed to another thread's event loop runs in that loop's context, so the
    call's budget and deadline would be lost there; capture them now, set them in the task.
    """
    budget = _BUDGET.get()
    end = _deadline.current_end()

    async def run() -> R:
        token = _BUDGET.set(budget)
        try:
            with _deadline.until(end):
                return await coro
        finally:
            _BUDGET.reset(token)

    return run()


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
            ``DEADLINE_FACTOR × timeout`` (see `bounded`). No retry starts that could
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

    def nap(self, seconds: float) -> None:
        """Sleep ``seconds`` with this policy's ``sleep`` (none when
        ``INBOXLINK_NO_RETRY_WAIT=1``): the back-off between tries, and the wait before a
        re-send in a blocking loop (`pause` is its event-loop twin)."""
        if waits_disabled():
            return
        (self.sleep or _bridge.sleep)(seconds)

    def call(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Call ``fn`` (a read, or an idempotent change) under this policy's deadline and
        retry it as the policy says; the last error is re-raised.

        The attempts are one budget for the whole call: a loop inside ``fn`` that re-sends
        failed parts (a batch's throttled items) draws on it through `spend_retry`, so
        retries never multiply across layers. A nested ``call`` shares the outer budget.
        """
        return self._call(fn, args, kwargs, idempotent=True)

    def _call(self, fn: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any], *,
              idempotent: bool) -> R:
        outer = _BUDGET.get()
        budget = outer or _Budget(self.max_attempts)
        token = _BUDGET.set(budget) if outer is None else None

        first = [True]

        def attempt(*a: Any, **kw: Any) -> R:
            # Nested, the first try is part of the outer try already counted.
            if outer is None or not first[0]:
                budget.used += 1
            first[0] = False
            return fn(*a, **kw)

        try:
            with _deadline.scope(self.deadline):
                return self._retrying(budget, idempotent)(attempt, *args, **kwargs)
        finally:
            if token is not None:
                _BUDGET.reset(token)

    def resend_wait(self, attempt: int, started: float,
                    retry_afters: Iterable[float | None] = ()) -> float | None:
        """Seconds to wait before re-sending the failed part of a request that partly failed
        (a batch's throttled items), or ``None`` when this policy says stop.

        ``attempt`` counts the sends made so far (1 after the first), ``started`` is the
        ``time.monotonic()`` of the first. The back-off is this policy's (``initial``,
        doubled per attempt, capped at ``max_wait``) and never shorter than the longest
        Retry-After among ``retry_afters``. A re-send is one more try of the public call: it
        draws on the call's one budget (`spend_retry`), so retry layers never multiply.
        """
        if attempt >= self.max_attempts:
            return None
        backoff = min(self.initial * 2.0 ** (attempt - 1), self.max_wait)
        wait = max((backoff, *(float(hint) for hint in retry_afters if hint is not None)))
        if time.monotonic() - started + wait > self.max_total or not spend_retry(wait):
            return None
        return wait

    async def pause(self, seconds: float) -> None:
        """``asyncio.sleep(seconds)`` for a re-send on an event loop (none when
        ``INBOXLINK_NO_RETRY_WAIT=1``)."""
        if not waits_disabled():
            await asyncio.sleep(seconds)

    def call_write(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Call ``fn``, a change that must not happen twice; retried only when provably safe.

        Only errors showing the server did not act are retried (see `is_retryable`
        with ``idempotent=False``); the last error is re-raised.
        """
        return self._call(fn, args, kwargs, idempotent=False)

    def _retrying(self, budget: _Budget, idempotent: bool) -> tenacity.Retrying:
        return tenacity.Retrying(
            stop=_OutOfAttempts(budget)
            | tenacity.stop_before_delay(self.max_total) | _PastDeadline(),
            wait=self.wait_for,
            retry=tenacity.retry_if_exception(
                functools.partial(is_retryable, idempotent=idempotent)),
            sleep=self.nap,
            reraise=True,
        )


def bounded(policy: RetryPolicy | None, timeout: float) -> RetryPolicy:
    """``policy`` (or the default) with a deadline: its own, else ``DEADLINE_FACTOR × timeout``."""
    policy = policy or RetryPolicy()
    if policy.deadline is not None:
        return policy
    return attrs.evolve(policy, deadline=DEADLINE_FACTOR * timeout)
