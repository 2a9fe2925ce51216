"""EWS requests in flight through a shared budget, measured by the emulator: two mailbox
objects (each with its own exchangelib Protocol, as two processes would have) share a
`RedisBudget` and never have more than ``max_concurrent`` requests at the server at once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

from inboxlink.budget import RedisBudget
from inboxlink.testing.conformance import make_message

from .conftest import ADDRESS
from .emulator import EwsEmulator

CAP = 1  # each object's exchangelib pool alone lets one request through at a time


def _peak(emulator: EwsEmulator, connect: Callable[..., Any], **options: Any) -> int:
    emulator.deliver(ADDRESS, make_message(1))
    boxes = [connect(**options) for _ in range(2)]
    for box in boxes:
        box.folders()
    emulator.delay = 0.05
    emulator.peak = 0
    failures: list[BaseException] = []

    def work(box: Any) -> None:
        try:
            for _ in range(3):
                assert len(box.list_messages("inbox").items) == 1
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(boxes[n % 2],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures
    return emulator.peak


def test_a_shared_budget_caps_requests_in_flight(
        emulator: EwsEmulator, connect: Callable[..., Any], redis_server: Any) -> None:
    budget = RedisBudget(redis_server.url, prefix=f"e{uuid.uuid4().hex[:8]}")
    assert _peak(emulator, connect, budget=budget, max_concurrent=CAP) == CAP


def test_without_a_budget_the_requests_overlap_more(
        emulator: EwsEmulator, connect: Callable[..., Any]) -> None:
    # Guards the test above: the measurement does see more than the cap without a budget.
    assert _peak(emulator, connect) > CAP
