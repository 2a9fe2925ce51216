"""``Retry-After`` parsing, once for every adapter (RFC 9110 §10.2.3).

The header is either delay-seconds (``120``) or an HTTP-date
(``Wed, 21 Oct 2015 07:28:00 GMT``; the obsolete RFC 850 and asctime forms too). Servers
also send things the RFC does not allow — ``1.5``, negative numbers, ``inf``, garbage, a
date in the past — so the answer is always ``None`` (no usable hint) or a finite number
of seconds ≥ 0, optionally capped, ready for `RateLimited`'s
``retry_after``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime

__all__ = ["parse_retry_after", "retry_after_from_headers"]


def parse_retry_after(
    value: str | bytes | float | None,
    *,
    now: dt.datetime | None = None,
    maximum: float | None = None,
) -> float | None:
    """Seconds to wait according to a ``Retry-After`` value, or ``None`` when it gives none.

    Args:
        value: the header's value (a number is taken as seconds).
        now: the current time for an HTTP-date (default: the clock, UTC).
        maximum: cap the answer (a server asking for a day is not obeyed blindly).
    """
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    seconds = _seconds(value, now)
    if seconds is None:
        return None
    return min(seconds, maximum) if maximum is not None else seconds


def _seconds(value: str | float, now: dt.datetime | None) -> float | None:
    if isinstance(value, (int, float)):
        number = float(value)
        return number if math.isfinite(number) and number >= 0 else None
    text = value.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        # float() also reads "nan", "inf", "1e9", "-3": only a finite, non-negative delay
        # is a delay.
        return number if math.isfinite(number) and number >= 0 else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # the asctime form carries no zone; HTTP dates are GMT
        when = when.replace(tzinfo=dt.timezone.utc)
    current = now if now is not None else dt.datetime.now(dt.timezone.utc)
    if current.tzinfo is None:
        current = current.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - current).total_seconds())


def retry_after_from_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None,
    *,
    now: dt.datetime | None = None,
    maximum: float | None = None,
) -> float | None:
    """`parse_retry_after()` of the ``Retry-After`` header in ``headers`` (a mapping or
    ``(name, value)`` pairs, names in any case; the first one wins)."""
    if headers is None:
        return None
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in pairs:
        if str(name).lower() == "retry-after":
            return parse_retry_after(value, now=now, maximum=maximum)
    return None
