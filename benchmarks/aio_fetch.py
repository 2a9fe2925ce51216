"""The async face: 200 concurrent fetches across 50 mailboxes on one event loop, against the
synchronous API in a thread pool doing the same work, and the loop's responsiveness.

Each mailbox is a fake whose fetch blocks for a simulated 20 ms round trip (the shape of a
network call in a blocking client library), so both sides wait on the same "network".
The async face runs those calls in worker threads, at most 4 per mailbox.

Run: python benchmarks/aio_fetch.py
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from inboxlink.aio.threaded import ThreadedAsyncMailbox  # noqa: E402
from inboxlink.testing import FakeMailbox, FakeMailServer  # noqa: E402
from inboxlink.testing.conformance import make_message  # noqa: E402

MAILBOXES, CALLS, RTT = 50, 200, 0.020


class NetworkFake(FakeMailbox):
    def _fetch_many(self, message_ids: list[str]) -> Any:
        time.sleep(RTT)
        return super()._fetch_many(message_ids)


def setup() -> list[tuple[NetworkFake, str]]:
    server = FakeMailServer()
    boxes = []
    for n in range(MAILBOXES):
        box = NetworkFake(f"user{n}@example.com", server=server)
        boxes.append((box, box.deliver(make_message(n))))
    return boxes


def sync_pool(boxes: list[tuple[NetworkFake, str]], threads: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda i: boxes[i % MAILBOXES][0].fetch(boxes[i % MAILBOXES][1]),
                      range(CALLS)))
    return time.perf_counter() - started


async def async_run(boxes: list[tuple[NetworkFake, str]]) -> tuple[float, float]:
    faces = [(ThreadedAsyncMailbox(box, concurrency=4), mid) for box, mid in boxes]
    lags: list[float] = []
    done = anyio.Event()

    async def ticker() -> None:
        while not done.is_set():
            before = time.perf_counter()
            await anyio.sleep(0.005)
            lags.append(time.perf_counter() - before - 0.005)

    started = time.perf_counter()
    async with anyio.create_task_group() as outer:
        outer.start_soon(ticker)
        async with anyio.create_task_group() as group:
            for i in range(CALLS):
                face, mid = faces[i % MAILBOXES]
                group.start_soon(face.fetch, mid)
        elapsed = time.perf_counter() - started
        done.set()
    return elapsed, max(lags)


def main() -> None:
    boxes = setup()
    serial = CALLS * RTT
    print(f"{CALLS} fetches across {MAILBOXES} mailboxes, {RTT * 1000:.0f} ms each "
          f"(serial: {serial:.2f} s)")
    for threads in (8, 40):
        print(f"  sync API, thread pool of {threads:>2}: {sync_pool(boxes, threads):.3f} s")
    # The first run also starts the worker threads (up to 4 per mailbox); later runs reuse them.
    for label in ("cold", "warm", "warm"):
        elapsed, lag = anyio.run(async_run, boxes)
        print(f"  aio, one loop, ≤4 threads per mailbox ({label}): {elapsed:.3f} s; "
              f"max loop lag {lag * 1000:.1f} ms")


if __name__ == "__main__":
    main()
