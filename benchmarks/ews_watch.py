"""EWS watch(): latency from a delivery to the hint, and requests while idle — streaming
notifications (inboxlink's default) against polling ``changes()`` (the base class's
default ``PollPolicy``: 2 s doubling to 60 s).

Runs against the loopback EWS emulator of the test suite (tests/ews/emulator.py), whose
GetStreamingEvents pushes a change within ~20 ms: the latency figures are the client's
part, not a real server's. Requests are counted by the emulator.

    python benchmarks/ews_watch.py [--deliveries 20] [--idle 60]
"""

from __future__ import annotations

import argparse
import queue
import statistics
import threading
import time

from _ews_peer import ADDRESS, settings, started
from ews.emulator import EwsEmulator

from inboxlink.adapters.ews import EwsMailbox
from inboxlink.changes import ChangeHint
from inboxlink.mailbox_sync import SyncMixin, Watch
from inboxlink.models import FolderRole
from inboxlink.testing.conformance import make_message

INBOX = FolderRole.INBOX


class PollingEwsMailbox(EwsMailbox):
    """The same adapter with the base class's polling ``watch`` (for comparison only)."""

    def _wait_for_change(self, watch: Watch) -> ChangeHint | None:
        return SyncMixin._wait_for_change(self, watch)


def latencies(emulator: EwsEmulator, mailbox: EwsMailbox, deliveries: int) -> list[float]:
    """Seconds from each delivery to its hint."""
    hints: queue.Queue[ChangeHint] = queue.Queue()
    watch = mailbox.watch(INBOX, timeout=deliveries * 70 + 30)
    token = mailbox.sync_token(INBOX)

    def consume() -> None:
        for hint in watch:
            hints.put(hint)

    threading.Thread(target=consume, daemon=True).start()
    time.sleep(1.0)  # let the watch subscribe / take its baseline
    found = []
    for n in range(deliveries):
        started = time.perf_counter()
        emulator.deliver(ADDRESS, make_message(n))
        hints.get(timeout=120)
        found.append(time.perf_counter() - started)
        token = mailbox.changes(INBOX, token).token  # what an application does next
        time.sleep(0.2)
    watch.stop()
    return found


def idle_requests(emulator: EwsEmulator, mailbox: EwsMailbox, seconds: float) -> int:
    """Requests a watch makes while nothing changes for ``seconds``."""
    before = len(emulator.requests)
    assert list(mailbox.watch(INBOX, timeout=seconds)) == []
    return len(emulator.requests) - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=20)
    parser.add_argument("--idle", type=float, default=60.0)
    options = parser.parse_args()

    emulator = started()
    print(f"EWS emulator on loopback; {options.deliveries} deliveries; "
          f"idle window {options.idle:.0f} s\n")
    print(f"{'watch':44} {'median ms':>9} {'p95 ms':>8} {'max ms':>8} {'idle requests':>13}")
    for name, cls in (("streaming notifications (GetStreamingEvents)", EwsMailbox),
                      ("polling changes() (PollPolicy 2 s -> 60 s)", PollingEwsMailbox)):
        with cls(settings(emulator)) as mailbox:
            found = sorted(latencies(emulator, mailbox, options.deliveries))
            idle = idle_requests(emulator, mailbox, options.idle)
        p95 = found[min(len(found) - 1, int(len(found) * 0.95))]
        print(f"{name:44} {1000 * statistics.median(found):9.1f} {1000 * p95:8.1f} "
              f"{1000 * found[-1]:8.1f} {idle:13d}")
    print("\nidle requests: everything the watch sent in the idle window, subscribing or the "
          "baseline sync_token included.")
    emulator.stop()


if __name__ == "__main__":
    main()
