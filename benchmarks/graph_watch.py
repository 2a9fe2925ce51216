"""Graph: how soon ``watch()`` (polling ``changes()``) sees a delivery, and what idling costs.

Graph cannot push to a process without a public endpoint, so ``watch()`` polls with the
adaptive back-off of :class:`~inboxlink.mailbox_sync.PollPolicy`. This measures, against
the local Graph emulator over real HTTP: the delay from a delivery to the hint with the
default policy (deliveries at random moments after the watch settled), the requests an
idle watch makes in its first ``IDLE`` seconds, and the steady idle rate the policy implies.
For comparison it also measures a push notification (subscription → a local WSGI receiver).

Run: python benchmarks/graph_watch.py [DELIVERIES] [IDLE]
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import threading
import time

import _bench  # noqa: F401  (puts the repository and tests/ on sys.path)

os.environ.setdefault("INBOXLINK_NO_RETRY_WAIT", "1")

from inboxlink import FolderRole
from inboxlink.adapters.graph import GraphMailbox, GraphSettings
from inboxlink.adapters.graph import watch as push
from inboxlink.mailbox_sync import PollPolicy, Watch
from inboxlink.testing.conformance import make_message
from tests.graph.emulator import GraphEmulator
from tests.graph.test_push import SECRET, Receiver


def polls_per_minute(policy: PollPolicy, seconds: float = 60.0) -> tuple[int, float]:
    """Polls in the first ``seconds`` of idling, and the steady rate per minute."""
    at, delay, count = 0.0, policy.initial, 0
    while at + delay <= seconds:
        at += delay
        count += 1
        delay = min(delay * policy.factor, policy.maximum)
    return count, 60.0 / policy.maximum


def _first_hint(watch: Watch, got: threading.Event) -> None:
    next(watch, None)
    got.set()


def main() -> None:
    deliveries = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    idle = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
    emu = GraphEmulator().start()
    box = GraphMailbox(GraphSettings(address=emu.address, access_token=emu.token,
                                     base_url=emu.base_url))
    policy = box.poll_policy
    latencies = []
    rng = random.Random(7)
    for n in range(deliveries):
        watch = box.watch(FolderRole.INBOX, timeout=30)
        got = threading.Event()
        threading.Thread(target=_first_hint, args=(watch, got), daemon=True).start()
        time.sleep(0.5 + rng.random() * policy.initial)  # a random phase of the poll cycle
        started = time.perf_counter()
        emu.deliver(make_message(n))
        got.wait(30)
        latencies.append(time.perf_counter() - started)
        watch.stop()

    watch = box.watch(FolderRole.INBOX, timeout=idle)
    before = emu.count("GET", r"/messages/delta$")
    list(watch)
    idle_polls = emu.count("GET", r"/messages/delta$") - before - 1  # minus its baseline

    receiver = Receiver()
    sub = push.create_subscription(box, FolderRole.INBOX, receiver.url, SECRET)
    receiver.folders[sub.id] = sub.folder_id
    pushed = []
    for n in range(deliveries):
        started = time.perf_counter()
        emu.deliver(make_message(100 + n))
        receiver.next()
        pushed.append(time.perf_counter() - started)
    push.delete_subscription(box, sub)
    receiver.server.shutdown()
    box.close()
    emu.stop()

    first_minute, steady = polls_per_minute(policy)
    print(f"policy: initial {policy.initial} s, x{policy.factor} while idle, max {policy.maximum} s")
    print(f"poll mode: delivery -> hint median {statistics.median(latencies):.2f} s, "
          f"max {max(latencies):.2f} s over {deliveries} deliveries")
    print(f"idle watch: {idle_polls} delta requests in {idle:.0f} s "
          f"(policy: {first_minute} in the first minute, then {steady:.0f} per minute)")
    print(f"push (subscription -> WSGI receiver): median {statistics.median(pushed) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
