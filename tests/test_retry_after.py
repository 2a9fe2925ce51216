"""Retry-After parsing: delay-seconds, the three HTTP-date forms, and what servers get wrong."""

from __future__ import annotations

import datetime as dt

import pytest

from inboxlink.retry_after import parse_retry_after, retry_after_from_headers

NOW = dt.datetime(2015, 10, 21, 7, 27, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(("value", "seconds"), [
    ("120", 120.0), (" 7 ", 7.0), ("0", 0.0), (b"30", 30.0), (45, 45.0), (2.5, 2.5),
    ("1.5", 1.5),  # not RFC delay-seconds, but sent in the wild and unambiguous
    ("Wed, 21 Oct 2015 07:28:00 GMT", 60.0),  # IMF-fixdate
    ("Wednesday, 21-Oct-15 07:28:00 GMT", 60.0),  # obsolete RFC 850
    ("Wed Oct 21 07:28:00 2015", 60.0),  # obsolete asctime (no zone: GMT)
    ("Wed, 21 Oct 2015 07:00:00 GMT", 0.0),  # in the past: retry now
])
def test_valid_values(value: str | bytes | float, seconds: float) -> None:
    assert parse_retry_after(value, now=NOW) == pytest.approx(seconds)


@pytest.mark.parametrize("value", [
    None, "", "   ", "soon", "-5", -1, "nan", "inf", float("inf"), "Wed, 99 Foo 2015",
])
def test_unusable_values_give_no_hint(value: str | float | None) -> None:
    assert parse_retry_after(value, now=NOW) is None


def test_maximum_caps_the_wait() -> None:
    assert parse_retry_after("86400", maximum=300) == 300
    assert parse_retry_after("Thu, 22 Oct 2015 07:27:00 GMT", now=NOW, maximum=60) == 60


def test_http_date_uses_the_clock_by_default() -> None:
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=90)
    seconds = parse_retry_after(later.strftime("%a, %d %b %Y %H:%M:%S GMT"))
    assert seconds is not None
    assert 80 <= seconds <= 90


def test_naive_now_is_taken_as_utc() -> None:
    naive = NOW.replace(tzinfo=None)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=naive) == 60


def test_from_headers_any_case_mapping_or_pairs() -> None:
    assert retry_after_from_headers({"Content-Type": "x", "retry-after": "12"}) == 12
    assert retry_after_from_headers([("RETRY-AFTER", "3"), ("Retry-After", "9")]) == 3
    assert retry_after_from_headers({"Content-Type": "x"}) is None
    assert retry_after_from_headers(None) is None
