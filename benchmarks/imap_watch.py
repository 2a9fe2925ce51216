"""Latency from a delivery by another client to ``watch()``'s hint: IDLE vs NOOP polling.

Run: ``python benchmarks/imap_watch.py [deliveries]`` (starts its own Dovecots; needs root).
"""

from __future__ import annotations

import queue
import random
import statistics
import sys
import threading
import time

from _imap_peer import Peer, realistic_message
from imap.dovecot import BASIC_CAPABILITIES

from inboxlink.adapters.imap import ImapMailbox
from inboxlink.changes import ChangeHint
from inboxlink.mailbox_sync import PollPolicy
from inboxlink.models import FolderRole


def measure(peer: Peer, deliveries: int) -> list[float]:
    other = peer.raw_client(quiet=False)
    hints: queue.Queue[tuple[float, ChangeHint]] = queue.Queue()
    latencies = []
    with ImapMailbox(peer.settings()) as box:
        box.poll_policy = PollPolicy()  # the defaults: 2 s, doubling to 60 s while idle
        watch = box.watch(FolderRole.INBOX, timeout=600)

        def consume() -> None:
            for hint in watch:
                hints.put((time.perf_counter(), hint))

        threading.Thread(target=consume, daemon=True).start()
        time.sleep(1.0)
        rng = random.Random(7)
        for n in range(deliveries):
            while not hints.empty():
                hints.get_nowait()
            time.sleep(rng.uniform(0.2, 1.0))
            started = time.perf_counter()
            other.append("INBOX", realistic_message(10_000 + n, rng))
            at, _ = hints.get(timeout=130)
            latencies.append(at - started)
        watch.stop()
    other.logout()
    return latencies


def main(deliveries: int) -> None:
    rows = []
    for label, caps in (("IDLE", None), ("NOOP polling (no IDLE), default PollPolicy",
                                         BASIC_CAPABILITIES)):
        peer = Peer(10, capabilities=caps, name="watch" if caps is None else "watchbasic")
        try:
            found = measure(peer, deliveries)
        finally:
            peer.stop()
        rows.append((label, statistics.median(found), max(found)))
    print(f"\nDelivery → hint latency over {deliveries} deliveries, loopback Dovecot over TLS")
    print(f"{'mode':<48} {'median s':>9} {'max s':>9}")
    for label, median, worst in rows:
        print(f"{label:<48} {median:9.4f} {worst:9.4f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
