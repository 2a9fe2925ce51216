"""EWS actions on 1,000 messages: mark read and move — inboxlink's batched UpdateItem /
MoveItem against exchangelib's per-item loop (``item.save`` / ``item.move``) and its own
bulk calls (``account.bulk_update`` / ``account.bulk_move``).

Runs against the loopback EWS emulator of the test suite (tests/ews/emulator.py): the
figures are round trips and client-side cost, not a real server's speed. Each figure is
the median of three runs; the emulator counts requests.

    python benchmarks/ews_actions.py [--messages 1000]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from _ews_peer import loaded, measure

from inboxlink.models import FolderRole


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    count = parser.parse_args().messages

    emulator, mailbox, _ = loaded(count)
    account = mailbox.account
    inbox_folder = mailbox.folder(FolderRole.INBOX)
    archive_folder = mailbox.folder(FolderRole.ARCHIVE)
    inbox = mailbox._ews_folder(inbox_folder)
    archive = mailbox._ews_folder(archive_folder)

    def inbox_ids() -> list[str]:
        return [i.id for i in emulator.items.values() if i.folder_id == inbox_folder.id]

    def unread_ids() -> list[str]:
        ids = inbox_ids()
        for item_id in ids:
            emulator.items[item_id].is_read = False
        return ids

    def unread_items() -> list[Any]:
        ids = unread_ids()
        return list(account.fetch(ids=[(i, None) for i in ids], only_fields=["is_read"]))

    def back_to_inbox() -> list[str]:
        # Each move run starts with every message in the Inbox (moved back, not measured).
        stray = [i.id for i in emulator.items.values() if i.folder_id == archive_folder.id]
        if stray:
            mailbox.move(stray, FolderRole.INBOX)
        return inbox_ids()

    def back_to_inbox_items() -> list[Any]:
        ids = back_to_inbox()
        return list(account.fetch(ids=[(i, None) for i in ids], only_fields=["is_read"]))

    def il_read(ids: list[str]) -> int:
        mailbox.set_read(ids)
        return len(ids)

    def xl_bulk_read(items: list[Any]) -> int:
        for item in items:
            item.is_read = True
        return sum(1 for _ in account.bulk_update(items=[(i, ["is_read"]) for i in items]))

    def xl_loop_read(items: list[Any]) -> int:
        for item in items:
            item.is_read = True
            item.save(update_fields=["is_read"])
        return len(items)

    def il_move(ids: list[str]) -> int:
        return len(mailbox.move(ids, FolderRole.ARCHIVE))

    def xl_bulk_move(ids: list[str]) -> int:
        return sum(1 for _ in account.bulk_move(ids=[(i, None) for i in ids], to_folder=archive))

    def xl_loop_move(items: list[Any]) -> int:
        for item in items:
            item.move(to_folder=archive)
        return len(items)

    rows: list[tuple[str, str, Callable[[], Any], Callable[[Any], int]]] = [
        ("read", "inboxlink set_read (UpdateItem, 100 ids per request)", unread_ids, il_read),
        ("read", "exchangelib account.bulk_update(is_read)", unread_items, xl_bulk_read),
        ("read", "exchangelib per-item loop (item.save(update_fields))", unread_items,
         xl_loop_read),
        ("move", "inboxlink move (MoveItem, 100 ids per request)", back_to_inbox, il_move),
        ("move", "exchangelib account.bulk_move", back_to_inbox, xl_bulk_move),
        ("move", "exchangelib per-item loop (item.move)", back_to_inbox_items, xl_loop_move),
    ]
    del inbox
    print(f"EWS emulator on loopback, {count} messages, median of 3\n")
    print(f"{'task':5} {'client':56} {'requests':>8} {'total s':>8} {'client s':>8} "
          f"{'items':>6}")
    for task, name, prepare, work in rows:
        m = measure(emulator, work, prepare)
        print(f"{task:5} {name:56} {m.requests:8d} {m.seconds:8.3f} {m.client:8.3f} "
              f"{m.items:6d}")
    print("\nclient s: total minus the emulator's own answering time (it runs in this "
          "process). The exchangelib loops need the items fetched first (not counted).")
    mailbox.close()
    emulator.stop()


if __name__ == "__main__":
    main()
