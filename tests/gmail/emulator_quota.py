"""The emulator's per-user quota meter: Gmail's quota units, charged per call, metered the
way Google documents its per-user limit.

Every call costs the units Google's quota page lists for its method (a batch of n calls
costs the sum of the n). The per-user limit is a rate — 15,000 units per user per minute,
"a moving average that allows short bursts" in the older wording — so the meter is a leaky
bucket: its level drains at ``per_minute / 60`` units a second, and a call that would lift
it above ``burst`` is refused with Gmail's ``429 rateLimitExceeded`` body. Off (counting
only) until :meth:`QuotaMeter.limit` is called.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

Response = tuple[int, dict[str, str], bytes]

#: units per call (developers.google.com/gmail/api/reference/quota); the emulator's own
#: copy, so a wrong figure in the adapter's table cannot hide itself
UNITS = {
    "labels.list": 1, "labels.get": 1, "getProfile": 1, "messages.list": 5,
    "messages.get": 5, "messages.attachments.get": 5, "messages.send": 100,
    "messages.insert": 25, "messages.import": 25, "messages.modify": 5,
    "messages.batchModify": 50, "messages.batchDelete": 50, "messages.trash": 5,
    "messages.delete": 10, "threads.get": 10, "history.list": 2, "watch": 100, "stop": 50,
}


class QuotaMeter:
    """Units charged to the account, its leaky-bucket level, and refusals."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.per_minute: float | None = None
        self.burst = 0.0
        self.level = 0.0
        self._stamp = clock()
        #: units of every call served
        self.charged = 0
        #: the highest level reached by a served call
        self.peak = 0.0
        #: calls refused for exceeding the per-user rate
        self.refused = 0

    def limit(self, per_minute: float, burst: float) -> None:
        """Enforce ``per_minute`` units per user, allowing bursts up to ``burst`` units."""
        with self._lock:
            self.per_minute, self.burst, self.level = per_minute, burst, 0.0
            self._stamp = self._clock()

    def charge(self, operation: str) -> Response | None:
        """Charge one call; the refusal to answer with when it is over the limit."""
        units = UNITS.get(operation, 0)
        with self._lock:
            if self.per_minute is None:
                self.charged += units
                return None
            now = self._clock()
            self.level = max(0.0, self.level - (now - self._stamp) * self.per_minute / 60.0)
            self._stamp = now
            if self.level + units > self.burst:
                self.refused += 1
                return _rate_limited()
            self.level += units
            self.charged += units
            self.peak = max(self.peak, self.level)
            return None


def _rate_limited() -> Response:
    # Gmail's per-user refusal (guides/handle-errors: 429 "Too many requests",
    # usageLimits/rateLimitExceeded).
    message = "User-rate limit exceeded.  Retry after 1 second."
    body = {"error": {"code": 429, "message": message, "status": "RESOURCE_EXHAUSTED",
                      "errors": [{"message": message, "domain": "usageLimits",
                                  "reason": "rateLimitExceeded"}]}}
    return 429, {"Content-Type": "application/json; charset=UTF-8"}, json.dumps(body).encode()
