"""Gmail API quota: what each method costs, and a token bucket that paces under the limit.

Gmail counts *quota units* per user per minute (15,000) and per project per minute
(1,200,000); a batch of n calls costs the sum of its n calls. Pacing ourselves is cheaper
than running into ``429 userRateLimitExceeded`` and backing off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inboxlink.budget import Budget

__all__ = ["COST", "PER_USER_UNITS_PER_MINUTE", "TokenBucket", "shared_pacer"]

#: quota units per call (developers.google.com/gmail/api/reference/quota)
COST: Mapping[str, int] = {
    "labels.list": 1,
    "labels.get": 1,
    "getProfile": 1,
    "messages.list": 5,
    "messages.get": 5,
    "messages.attachments.get": 5,
    "messages.send": 100,
    "messages.insert": 25,
    "messages.import": 25,
    "messages.modify": 5,
    "messages.batchModify": 50,
    "messages.batchDelete": 50,
    "messages.trash": 5,
    "messages.delete": 10,
    "threads.get": 10,
    "history.list": 2,
    "watch": 100,
    "stop": 50,
}

PER_USER_UNITS_PER_MINUTE = 15_000


class TokenBucket:
    """Units refill continuously at ``rate`` per second up to ``capacity``.

    ``take(n)`` blocks until ``n`` units are available (a request larger than the capacity
    waits for a full bucket and then drains it, so it is never refused). With capacity C
    and rate r, no window of 60 s ever spends more than ``C + 60·r`` units.
    """

    def __init__(
        self,
        capacity: float,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if capacity <= 0 or rate <= 0:
            raise ValueError("capacity and rate must be positive")
        self.capacity = float(capacity)
        self.rate = float(rate)
        self._clock = clock
        self._sleep = sleep
        self._level = float(capacity)
        self._stamp = clock()
        self._lock = threading.Lock()
        #: total seconds spent waiting (for benchmarks and tests)
        self.waited = 0.0
        #: total units taken
        self.spent = 0

    @classmethod
    def per_minute(cls, units_per_minute: int, **kwargs: Callable[[], float]) -> TokenBucket:
        """A bucket that keeps every 60-second window under ``units_per_minute``.

        A fifth of the budget may be spent at once; the rest refills steadily.
        """
        burst = units_per_minute * 0.2
        rate = (units_per_minute - burst) / 60.0
        return cls(burst, rate, **kwargs)  # type: ignore[arg-type]

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._stamp) * self.rate)
        self._stamp = now

    def take(self, units: int) -> float:
        """Take ``units``, waiting as long as needed; returns the seconds waited."""
        with self._lock:
            self.spent += units
            need = min(float(units), self.capacity)
            self._refill()
            wait = 0.0
            if self._level < need:
                wait = (need - self._level) / self.rate
                self._sleep(wait)
                self._refill()
            self._level -= units
            self.waited += wait
            return wait


def shared_pacer(budget: Budget, user: str, units_per_minute: int,
                 timeout: float) -> Callable[[int], None]:
    """Pacing through a shared `inboxlink.budget.Budget`: the same shape as
    `TokenBucket.per_minute` (a fifth at once, the rest refilled steadily), but one bucket
    per Gmail user for every process and machine using the budget.

    A call costing more than the burst takes the whole burst (as `TokenBucket` does): a
    shared bucket can never hold more, so asking for more would wait forever.
    """
    burst = units_per_minute * 0.2
    rate = (units_per_minute - burst) / 60.0
    key = f"gmail:{user.casefold()}"

    def take(units: int) -> None:
        budget.take(key, "quota-units", min(float(units), burst), rate=rate, burst=burst,
                    timeout=timeout)

    return take
