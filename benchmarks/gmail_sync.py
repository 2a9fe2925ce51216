"""Gmail: the change feed against re-listing, in HTTP requests, quota units and time.

Runs against the local Gmail API emulator (tests/gmail/emulator.py) over real HTTP with a
folder of ``--messages`` (10,000) summaries and compares, side by side:

- re-listing the whole Inbox with inboxlink (messages.list + batched metadata gets),
- ``changes()`` after 10 new messages (history.list + one metadata batch),
- the raw google-api-python-client doing the same partial sync the naive way
  (history.list, then one messages.get per added message),
- a ``changes()`` with nothing new (one history.list) and ``sync_token()`` (getProfile).

    python benchmarks/gmail_sync.py [--messages 10000] [--new 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from _gmail_peer import Row, print_rows, raw_service, settings

from inboxlink.adapters.gmail import GmailMailbox
from inboxlink.adapters.gmail._quota import COST
from inboxlink.testing.conformance import make_message
from tests.gmail.emulator import GmailEmulator


def _mailbox(emu: GmailEmulator) -> GmailMailbox:
    mailbox = GmailMailbox(settings(emu, quota_units_per_minute=None))
    mailbox.folders()
    return mailbox



def naive_partial_sync(emu: GmailEmulator, start: str) -> int:
    """history.list pages, then one messages.get(format=metadata) per added message."""
    svc = raw_service(emu)
    units = 0
    added: list[str] = []
    token = None
    while True:
        page = svc.users().history().list(userId="me", startHistoryId=start, labelId="INBOX",
                                          historyTypes=["messageAdded"], pageToken=token,
                                          maxResults=500).execute()
        units += COST["history.list"]
        added += [e["message"]["id"] for r in page.get("history", [])
                  for e in r.get("messagesAdded", [])]
        token = page.get("nextPageToken")
        if not token:
            break
    for message_id in added:
        svc.users().messages().get(userId="me", id=message_id, format="metadata").execute()
        units += COST["messages.get"]
    return units


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--new", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    emu = GmailEmulator().start()
    rows: list[Row] = []
    try:
        for n in range(args.messages):
            emu.deliver(make_message(n))

        def measure(name: str, fn: Callable[[], int], repeat: int = args.repeat) -> None:
            runs = []
            for _ in range(repeat):
                emu.reset_counts()
                started = time.perf_counter()
                units = fn()
                runs.append((len(emu.requests), units, time.perf_counter() - started))
            rows.append((name, runs[0][0], runs[0][1], statistics.median(r[2] for r in runs)))

        mailbox = _mailbox(emu)

        def relist() -> int:
            before = mailbox.units_spent
            assert sum(1 for _ in mailbox.iter_messages("INBOX", page_size=500)) >= args.messages
            return mailbox.units_spent - before

        measure(f"re-list {args.messages} summaries: inboxlink", relist, repeat=1)
        token = mailbox.sync_token("INBOX")
        start = str(emu.history[-1].id)
        for n in range(args.new):
            emu.deliver(make_message(100_000 + n))

        def changes() -> int:
            before = mailbox.units_spent
            batch = mailbox.changes("INBOX", token)
            assert len(batch.added) == args.new
            assert not batch.more
            return mailbox.units_spent - before

        measure(f"changes() after {args.new} new: inboxlink", changes)
        measure(f"partial sync, {args.new} new: raw client loop",
                lambda: naive_partial_sync(emu, start))
        latest = mailbox.changes("INBOX", token).token

        def no_change() -> int:
            before = mailbox.units_spent
            assert not mailbox.changes("INBOX", latest)
            return mailbox.units_spent - before

        measure("changes() with nothing new: inboxlink", no_change)

        def take_token() -> int:
            before = mailbox.units_spent
            mailbox.sync_token("INBOX")
            return mailbox.units_spent - before

        measure("sync_token(): inboxlink", take_token)
    finally:
        emu.stop()
    print_rows(rows, 46, digits=3)
    relist_row, changes_row = rows[0], rows[1]
    print(f"changes()/re-list: requests {changes_row[1] / relist_row[1]:.2%}, "
          f"units {changes_row[2] / relist_row[2]:.2%}, time {changes_row[3] / relist_row[3]:.2%}")


if __name__ == "__main__":
    main()
