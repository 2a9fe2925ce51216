"""Gmail: marking, moving and deleting 1,000 messages — inboxlink against raw loops.

Runs against the local Gmail API emulator (tests/gmail/emulator.py) over real HTTP and
reports HTTP requests, quota units and time for:

- inboxlink ``set_read`` / ``move(ARCHIVE)`` with id verification (the default: a batch of
  ``messages.get(format=minimal)`` per ``batch_size`` ids, then ⌈n/1000⌉ batchModify) and
  without it (``verify_ids=False``: ⌈n/1000⌉ batchModify only),
- ``delete`` (messages.trash in batch requests),
- the raw google-api-python-client loop a user would write: one ``messages.modify`` /
  ``messages.trash`` per message.

    python benchmarks/gmail_actions.py [--messages 1000] [--batch-size 50]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from _gmail_peer import print_rows, raw_service, settings

from inboxlink.adapters.gmail import GmailMailbox
from inboxlink.adapters.gmail._quota import COST
from inboxlink.models import FolderRole
from inboxlink.testing.conformance import make_message
from tests.gmail.emulator import GmailEmulator


def _mailbox(emu: GmailEmulator, batch_size: int, verify: bool) -> GmailMailbox:
    mailbox = GmailMailbox(settings(emu, quota_units_per_minute=None, batch_size=batch_size,
                                    verify_ids=verify))
    mailbox.folders()
    return mailbox



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=50)
    args = parser.parse_args()
    emu = GmailEmulator().start()
    rows: list[tuple[str, int, int, float]] = []
    try:
        ids = [emu.deliver(make_message(n)) for n in range(args.messages)]
        n = len(ids)

        def measure(name: str, fn: Callable[[], int]) -> None:
            emu.reset_counts()
            started = time.perf_counter()
            units = fn()
            rows.append((name, len(emu.requests), units, time.perf_counter() - started))

        def ours(action: Callable[[GmailMailbox], None], verify: bool) -> Callable[[], int]:
            def run() -> int:
                mailbox = _mailbox(emu, args.batch_size, verify)
                emu.reset_counts()
                before = mailbox.units_spent
                action(mailbox)
                return mailbox.units_spent - before
            return run

        def raw_loop(call: Callable[[Any, str], Any], cost: int) -> Callable[[], int]:
            def run() -> int:
                svc = raw_service(emu)
                for message_id in ids:
                    call(svc, message_id).execute()
                return cost * n
            return run

        def modify(body: dict[str, list[str]]) -> Callable[[Any, str], Any]:
            return lambda svc, i: svc.users().messages().modify(userId="me", id=i, body=body)

        def restore() -> None:
            for message_id in ids:
                emu.relabel(message_id, add=("INBOX", "UNREAD"), remove=("TRASH",))

        for verify in (True, False):
            label = "verified ids" if verify else "verify_ids=False"
            measure(f"mark {n} read: inboxlink, {label}",
                    ours(lambda m: m.set_read(ids), verify))
            restore()
        measure(f"mark {n} read: raw loop of messages.modify",
                raw_loop(modify({"removeLabelIds": ["UNREAD"]}), COST["messages.modify"]))
        for verify in (True, False):
            label = "verified ids" if verify else "verify_ids=False"
            measure(f"archive {n}: inboxlink, {label}",
                    ours(lambda m: m.move(ids, FolderRole.ARCHIVE) and None, verify))
            restore()
        measure(f"archive {n}: raw loop of messages.modify",
                raw_loop(modify({"removeLabelIds": ["INBOX"]}), COST["messages.modify"]))
        restore()
        measure(f"delete {n} to Trash: inboxlink (trash in batches)",
                ours(lambda m: m.delete(ids), True))
        restore()
        measure(f"delete {n} to Trash: raw loop of messages.trash",
                raw_loop(lambda svc, i: svc.users().messages().trash(userId="me", id=i),
                         COST["messages.trash"]))
    finally:
        emu.stop()
    print_rows(rows, 52)


if __name__ == "__main__":
    main()
