"""Graph change feed: what ``changes()`` costs after 10 new messages in a 10,000-message
folder, next to re-listing that folder (inboxlink, and msgraph-sdk with its models).

Everything talks to the local Graph emulator of tests/graph over real HTTP on loopback; the
table also estimates each at a 50 ms round trip (requests x RTT), since loopback hides
latency. The baseline (``sync_token``) is reported too: it pages the folder's ids once.

Run: python benchmarks/graph_sync.py [N] [NEW]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import _bench  # noqa: F401  (puts the repository and tests/ on sys.path)

os.environ.setdefault("INBOXLINK_NO_RETRY_WAIT", "1")

from benchmarks.graph_requests import naive_list
from inboxlink.adapters.graph import GraphMailbox, GraphSettings
from inboxlink.testing.conformance import make_message
from tests.graph.emulator import GraphEmulator

RTT = 0.050
RUNS = 3


def timed(emu: GraphEmulator, fn: Callable[[], Any]) -> tuple[int, float, Any]:
    before = emu.count()
    started = time.perf_counter()
    result = fn()
    return emu.count() - before, time.perf_counter() - started, result


def median_of(emu: GraphEmulator, fn: Callable[[], Any]) -> tuple[int, float, Any]:
    runs = [timed(emu, fn) for _ in range(RUNS)]
    return runs[-1][0], statistics.median(r[1] for r in runs), runs[-1][2]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    new = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    emu = GraphEmulator().start()
    for i in range(n):
        emu.deliver(make_message(i))
    box = GraphMailbox(GraphSettings(address=emu.address, access_token=emu.token,
                                     base_url=emu.base_url))
    inbox = box.folder("inbox")
    rows = []

    req, secs, token = timed(emu, lambda: box.sync_token(inbox))
    rows.append(("baseline", f"sync_token() over {n}", n, req, secs))

    # changes() after `new` deliveries, RUNS times, each continuing the last token.
    runs = []
    for r in range(RUNS):
        for i in range(new):
            emu.deliver(make_message(n + r * new + i))
        req, secs, batch = timed(emu, lambda t=token: box.changes(inbox, t))
        assert len(batch.added) == new, batch
        assert not batch.more, batch
        token = batch.token
        runs.append((req, secs))
    changes_req, changes_secs = runs[-1][0], statistics.median(s for _, s in runs)
    rows.append(("changes", f"changes() after {new} new", new, changes_req, changes_secs))

    req, secs, batch = median_of(emu, lambda: box.changes(inbox, token))
    assert not batch
    rows.append(("nochange", "changes(), nothing new", 0, req, secs))

    total = n + RUNS * new
    req, secs, ids = median_of(emu, lambda: [s.id for s in box.iter_messages(inbox,
                                                                              page_size=1000)])
    assert len(ids) == total
    relist_req, relist_secs = req, secs
    rows.append(("relist", "inboxlink list, $top=1000", total, req, secs))
    # kiota's model parsing takes about a minute for 10,000 messages here: one run only.
    req, secs, ids = timed(emu, lambda: asyncio.run(naive_list(emu, inbox.id, 1000)))
    rows.append(("relist", "msgraph-sdk, $top=1000, models", len(ids), req, secs))
    box.close()
    emu.stop()

    print(f"{'op':9} {'how':32} {'items':>6} {'requests':>9} {'wall s':>8} {'@50ms RTT s':>12}")
    for op, how, items, req, secs in rows:
        print(f"{op:9} {how:32} {items:6d} {req:9d} {secs:8.3f} {secs + req * RTT:12.2f}")
    print(f"changes() vs inboxlink re-list: requests {100 * changes_req / relist_req:.1f} %, "
          f"loopback wall {100 * changes_secs / relist_secs:.1f} %, at 50 ms RTT "
          f"{100 * (changes_secs + changes_req * RTT) / (relist_secs + relist_req * RTT):.1f} %")


if __name__ == "__main__":
    main()
