"""Gmail: HTTP requests and quota units for 1,000 summaries and 1,000 raw messages.

Runs against the local Gmail API emulator (tests/gmail/emulator.py) over real HTTP and
compares inboxlink (messages.list + batched messages.get) with the naive loop a user would
write with the same google-api-python-client: one messages.get per message.

    python benchmarks/gmail_requests.py [--messages 1000] [--paced]

``--paced`` also runs inboxlink with its default pacing (15,000 units/user/minute) to show
what staying under Gmail's per-user quota costs in wall time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from _gmail_peer import print_rows, raw_service, settings

from inboxlink.adapters.gmail import GmailMailbox
from inboxlink.adapters.gmail._quota import COST
from inboxlink.testing.conformance import make_message
from tests.gmail.emulator import GmailEmulator


def naive_list(emu: GmailEmulator, count: int) -> int:
    """messages.list pages, then one messages.get(format=metadata) per message."""
    svc = raw_service(emu)
    units = 0
    ids: list[str] = []
    token = None
    while len(ids) < count:
        page = svc.users().messages().list(userId="me", labelIds=["INBOX"], maxResults=500,
                                           pageToken=token).execute()
        units += COST["messages.list"]
        ids += [m["id"] for m in page.get("messages", [])]
        token = page.get("nextPageToken")
        if not token:
            break
    for message_id in ids[:count]:
        svc.users().messages().get(userId="me", id=message_id, format="metadata",
                                   metadataHeaders=["Subject", "From", "Date"]).execute()
        units += COST["messages.get"]
    return units


def naive_fetch(emu: GmailEmulator, ids: list[str]) -> int:
    svc = raw_service(emu)
    for message_id in ids:
        svc.users().messages().get(userId="me", id=message_id, format="raw").execute()
    return COST["messages.get"] * len(ids)



def _mailbox(emu: GmailEmulator, paced: bool) -> GmailMailbox:
    return GmailMailbox(settings(emu, quota_units_per_minute=15_000 if paced else None))


def _run(emu: GmailEmulator, fn: Callable[[], int]) -> tuple[int, int, float]:
    emu.reset_counts()
    start = time.perf_counter()
    units = fn()
    return len(emu.requests), units, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--paced", action="store_true")
    args = parser.parse_args()
    emu = GmailEmulator().start()
    try:
        ids = [emu.deliver(make_message(n, body=f"Body {n}\n" + "x" * 3000))
               for n in range(args.messages)]
        rows: list[tuple[str, int, int, float]] = []

        def measure(name: str, fn: Callable[[], int]) -> None:
            runs = [_run(emu, fn) for _ in range(args.repeat)]
            rows.append((name, runs[0][0], runs[0][1], statistics.median(r[2] for r in runs)))

        def ours_list(paced: bool) -> Callable[[], int]:
            def run() -> int:
                mailbox = _mailbox(emu, paced)
                mailbox.folders()
                units_before = mailbox.units_spent
                emu.reset_counts()
                got = sum(1 for _ in zip(range(args.messages),
                                         mailbox.iter_messages("INBOX", page_size=500),
                                         strict=False))
                assert got == args.messages
                return mailbox.units_spent - units_before
            return run

        def ours_fetch(paced: bool) -> Callable[[], int]:
            def run() -> int:
                mailbox = _mailbox(emu, paced)
                assert len(mailbox.fetch_many(ids)) == len(ids)
                return mailbox.units_spent
            return run

        n = args.messages
        measure(f"list {n} summaries: naive loop", lambda: naive_list(emu, n))
        measure(f"list {n} summaries: inboxlink", ours_list(False))
        measure(f"fetch {n} raw: naive loop", lambda: naive_fetch(emu, ids))
        measure(f"fetch {n} raw: inboxlink", ours_fetch(False))
        if args.paced:
            args.repeat = 1
            measure(f"list {n} summaries: inboxlink, paced", ours_list(True))
            measure(f"fetch {n} raw: inboxlink, paced", ours_fetch(True))
    finally:
        emu.stop()
    print_rows(rows, 44)


if __name__ == "__main__":
    main()
