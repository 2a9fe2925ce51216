"""The Graph in-flight cap across processes: two worker processes share a `RedisBudget`,
and the emulator's per-mailbox peak of requests in flight never passes the cap."""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from typing import Any

import pytest

from inboxlink.budget import RedisBudget
from inboxlink.testing.conformance import make_message

from .conftest import make_mailbox
from .emulator import GraphEmulator

CAP = 2
THREADS = 4  # per process: each process alone fills its own cap of 2


def _worker(emulator: GraphEmulator, redis_url: str | None, prefix: str) -> None:
    # Runs in a forked child: its own mailbox object, its own loop, the shared budget.
    budget = None if redis_url is None else RedisBudget(redis_url, prefix=prefix)
    box = make_mailbox(emulator, max_concurrent=CAP, budget=budget)
    failures: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(3):
                assert len(box.list_messages("inbox", limit=2).items) == 2
        except BaseException as exc:  # reported through the exit code
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    box.close()
    raise SystemExit(1 if failures or any(t.is_alive() for t in threads) else 0)


def _peak_with(emulator: GraphEmulator, redis_url: str | None) -> int:
    for n in range(1, 4):
        emulator.deliver(make_message(n))
    emulator.delay = 0.05
    emulator.peak.clear()
    prefix = f"g{uuid.uuid4().hex[:8]}"
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_worker, args=(emulator, redis_url, prefix))
                 for _ in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(90)
    assert [p.exitcode for p in processes] == [0, 0]
    assert emulator.in_flight[emulator.address] == 0
    return emulator.peak[emulator.address]


@pytest.mark.timeout(120)
def test_two_processes_sharing_a_redis_budget_never_pass_the_cap(
        emulator: GraphEmulator, redis_server: Any) -> None:
    assert _peak_with(emulator, redis_server.url) == CAP


@pytest.mark.timeout(120)
def test_without_a_shared_budget_the_processes_add_up(emulator: GraphEmulator) -> None:
    # Guards the test above: each process alone keeps its own cap, so together they pass it.
    assert _peak_with(emulator, None) > CAP
