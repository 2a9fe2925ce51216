"""`inboxlink._lease.renewing`: the one lease-renewal loop of budget slots and sync chains."""

from __future__ import annotations

import threading
import time

import pytest

from inboxlink._lease import renewing


def _thread_named(name: str) -> bool:
    return any(t.name == name for t in threading.enumerate())


def test_renews_while_the_block_runs_and_stops_with_it() -> None:
    calls: list[int] = []
    third = threading.Event()

    def renew() -> None:
        calls.append(1)
        if len(calls) == 3:
            third.set()

    with renewing(renew, 0.03, name="t-lease", tolerated=()):
        assert third.wait(10), "no renewals while the block ran"
    made = len(calls)
    time.sleep(0.1)  # three lease periods: a renewer still running would have called again
    assert len(calls) == made
    assert not _thread_named("t-lease")


def test_a_tolerated_failure_does_not_end_the_renewals() -> None:
    calls: list[int] = []
    again = threading.Event()

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("store away")
        again.set()

    with renewing(flaky, 0.03, name="t-flaky", tolerated=(ConnectionError,)):
        assert again.wait(10), "the first failure ended the renewals"


def test_the_blocks_own_error_passes_through_and_the_thread_ends() -> None:
    with pytest.raises(ValueError, match="own error"), \
            renewing(lambda: None, 10.0, name="t-raise", tolerated=()):
        raise ValueError("the block's own error")
    assert not _thread_named("t-raise")
