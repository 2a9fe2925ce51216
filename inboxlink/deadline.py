"""One deadline per public call, bounding every wait, reconnect and retry inside it.

`inboxlink.retry.RetryPolicy.call` opens a `scope` around each public call it
runs; the code below it asks `remaining` (or `bound`) before every network wait,
reconnect or back-off, so a stalled server costs at most the deadline, not
``timeout × reconnects × retries × connections``. An inner scope never extends an outer one.
The deadline lives in a `contextvars.ContextVar`, so threads and coroutines of other
calls are not affected.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from inboxlink import errors

__all__ = ["bound", "current_end", "remaining", "scope", "until"]

_END: ContextVar[float | None] = ContextVar("inboxlink_deadline", default=None)


@contextmanager
def scope(seconds: float | None) -> Iterator[None]:
    """Run the block under a deadline ``seconds`` from now (``None``: no new deadline)."""
    if seconds is None:
        yield
        return
    end = time.monotonic() + seconds
    outer = _END.get()
    token = _END.set(end if outer is None else min(outer, end))
    try:
        yield
    finally:
        _END.reset(token)


def current_end() -> float | None:
    """The current deadline as a `time.monotonic` instant (``None``: no deadline)."""
    return _END.get()


@contextmanager
def until(end: float | None) -> Iterator[None]:
    """Run the block under the deadline instant ``end`` (carried over from another thread)."""
    token = _END.set(end)
    try:
        yield
    finally:
        _END.reset(token)


def remaining() -> float | None:
    """Seconds left before the current deadline (``None`` outside any scope; may be ≤ 0)."""
    end = _END.get()
    return None if end is None else end - time.monotonic()


def bound(timeout: float, *, provider: str | None = None) -> float:
    """The wait allowed for one network operation: ``timeout``, cut to the deadline.

    Raises `OperationTimeout` when the deadline has passed.
    """
    left = remaining()
    if left is None:
        return timeout
    if left <= 0:
        raise errors.OperationTimeout(
            "The call ran out of time (its overall deadline passed).", provider=provider,
            code="deadline",
            remedy="The server is slow or not answering: retry later, or raise the retry "
                   "policy's deadline (RetryPolicy(deadline=…)) for very large operations.",
        )
    return min(timeout, left)
