"""Gmail ``watch()`` in poll mode: delivery-to-hint latency and requests per idle minute.

Runs against the local Gmail API emulator (tests/gmail/emulator.py) over real HTTP with the
default :class:`~inboxlink.mailbox_sync.PollPolicy` (2 s, doubling to 60 s while idle):

- latency: a message is delivered ``--after`` seconds into a watch (repeated ``--repeat``
  times); the poll interval at that moment bounds the latency;
- idle cost: HTTP requests and quota units of a watch over ``--idle`` quiet seconds.

    python benchmarks/gmail_watch.py [--after 1 5 20] [--idle 120]
"""

from __future__ import annotations

import argparse
import threading
import time

from _gmail_peer import settings

from inboxlink.adapters.gmail import GmailMailbox
from inboxlink.testing.conformance import make_message
from tests.gmail.emulator import GmailEmulator


def _mailbox(emu: GmailEmulator) -> GmailMailbox:
    mailbox = GmailMailbox(settings(emu, quota_units_per_minute=None))
    mailbox.folders()
    return mailbox


def latency(emu: GmailEmulator, after: float) -> float:
    mailbox = _mailbox(emu)
    watch = mailbox.watch("INBOX", timeout=after + 120)
    got = threading.Event()
    thread = threading.Thread(target=lambda: (next(watch), got.set()), daemon=True)
    thread.start()
    time.sleep(after)
    delivered = time.monotonic()
    emu.deliver(make_message(int(after * 1000)))
    got.wait(after + 120)
    seen = time.monotonic() - delivered
    watch.stop()
    thread.join(5)
    return seen


def idle_cost(emu: GmailEmulator, seconds: float) -> tuple[int, int]:
    mailbox = _mailbox(emu)
    emu.reset_counts()
    before = mailbox.units_spent
    assert list(mailbox.watch("INBOX", timeout=seconds)) == []
    return len(emu.requests), mailbox.units_spent - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--after", type=float, nargs="+", default=[1.0, 5.0, 20.0])
    parser.add_argument("--idle", type=float, default=120.0)
    args = parser.parse_args()
    emu = GmailEmulator().start()
    try:
        print(f"{'delivered after (s)':>20} {'hint latency (s)':>17}")
        for after in args.after:
            print(f"{after:>20.1f} {latency(emu, after):>17.2f}")
        requests, units = idle_cost(emu, args.idle)
        print(f"idle {args.idle:.0f} s: {requests} HTTP requests, {units} quota units "
              f"(1 getProfile, then history.list per poll)")
    finally:
        emu.stop()


if __name__ == "__main__":
    main()
