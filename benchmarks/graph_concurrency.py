"""Graph adapter: requests in flight per mailbox, and wall time, under max_concurrent.

12 threads share one GraphMailbox; each lists a page, fetches 3 messages (one $batch) and
streams one MIME source. The local Graph emulator of tests/graph holds every request for
a simulated 50 ms round trip and records the most requests it saw in flight at once.

Run: python benchmarks/graph_concurrency.py
"""

from __future__ import annotations

import io
import os
import threading
import time

import _bench  # noqa: F401  (puts the repository and tests/ on sys.path)

os.environ.setdefault("INBOXLINK_NO_RETRY_WAIT", "1")

from inboxlink.adapters.graph import GraphMailbox, GraphSettings
from inboxlink.testing.conformance import make_message
from tests.graph.emulator import GraphEmulator

THREADS = 12
RTT = 0.050


def run(cap: int) -> tuple[int, float, int]:
    emu = GraphEmulator().start()
    try:
        ids = [emu.deliver(make_message(n)) for n in range(1, 5)]
        box = GraphMailbox(GraphSettings(address=emu.address, access_token=emu.token,
                                         base_url=emu.base_url, max_concurrent=cap))
        box.folders()
        emu.delay = RTT
        emu.peak.clear()
        before = len(emu.requests)
        barrier = threading.Barrier(THREADS)

        def work(n: int) -> None:
            barrier.wait()
            box.list_messages("inbox", limit=2)
            box.fetch_many(ids[:3])
            box.fetch_to_file(ids[n % len(ids)], io.BytesIO())

        threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        outer = sum(1 for r in emu.requests[before:] if not r.in_batch)
        box.close()
        return emu.peak[emu.address], elapsed, outer
    finally:
        emu.stop()


def main() -> None:
    print(f"{THREADS} threads x (list + $batch fetch + stream), {RTT * 1000:.0f} ms per request")
    print(f"{'max_concurrent':>14} | {'peak in flight':>14} | {'requests':>8} | {'wall s':>6}")
    for cap in (1, 2, 4, THREADS):
        peak, elapsed, outer = run(cap)
        print(f"{cap:>14} | {peak:>14} | {outer:>8} | {elapsed:>6.2f}")


if __name__ == "__main__":
    main()
