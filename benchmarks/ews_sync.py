"""EWS change feed: baseline, no-change and 10-new ``changes()`` vs re-listing the folder,
side by side with exchangelib's own ``folder.sync_items()`` doing the same work.

Runs against the loopback EWS emulator of the test suite (tests/ews/emulator.py): the
figures are round trips, bytes on the wire and client-side cost, not a real server's
speed. Each figure is the median of three runs; the emulator counts requests and bytes.

    python benchmarks/ews_sync.py [--messages 10000]
"""

from __future__ import annotations

import argparse
from typing import Any

import attrs
from _ews_peer import ADDRESS, exchangelib_inbox, loaded, measure

from inboxlink.models import FolderRole
from inboxlink.testing.conformance import make_message

INBOX = FolderRole.INBOX
#: what exchangelib's sync_items is asked for here: the FindItem-able summary fields
#: (inboxlink's summaries also carry To/Cc, through one extra GetItem)
SUMMARY_FIELDS = ("subject", "author", "datetime_sent", "datetime_received", "message_id",
                  "is_read", "size")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    count = parser.parse_args().messages

    emulator, mailbox, _ = loaded(count)
    inbox = exchangelib_inbox(mailbox)

    quiet = mailbox.sync_token(INBOX)
    xl_quiet = list_sync_state(inbox)
    before_new = mailbox.sync_token(INBOX)
    xl_before_new = xl_quiet
    for n in range(count, count + 10):
        emulator.deliver(ADDRESS, make_message(n))
    after = mailbox.sync_token(INBOX)
    xl_after = list_sync_state(inbox)

    def il_relist() -> int:
        return sum(1 for _ in mailbox.iter_messages(INBOX, page_size=1000))

    def il_baseline() -> int:
        return int(bool(mailbox.sync_token(INBOX)))

    def xl_baseline() -> int:
        return int(bool(list_sync_state(inbox)))

    def il_quiet() -> int:
        return len(mailbox.changes(INBOX, after))

    def xl_quiet_round() -> int:
        return sum(1 for _ in inbox.sync_items(sync_state=xl_after, only_fields=SUMMARY_FIELDS,
                                               max_changes_returned=512))

    def il_ten() -> int:
        return len(mailbox.changes(INBOX, before_new))

    def xl_ten() -> int:
        return sum(1 for _ in inbox.sync_items(sync_state=xl_before_new,
                                               only_fields=SUMMARY_FIELDS,
                                               max_changes_returned=512))

    del quiet
    rows = [
        ("re-list", "inboxlink iter_messages (FindItem + GetItem per 1,000)", il_relist),
        ("baseline", "inboxlink sync_token (SyncFolderItems ids only, 512/call)", il_baseline),
        ("baseline", "exchangelib sync_items(id_only) to the end", xl_baseline),
        ("no change", "inboxlink changes()", il_quiet),
        ("no change", "exchangelib sync_items(state, summary fields)", xl_quiet_round),
        ("10 new", "inboxlink changes() (SyncFolderItems + GetItem)", il_ten),
        ("10 new", "exchangelib sync_items(state, summary fields)", xl_ten),
    ]
    print(f"EWS emulator on loopback, {count} messages in the Inbox, median of 3\n")
    print(f"{'task':9} {'client':58} {'req':>4} {'resp KB':>9} {'total s':>8} "
          f"{'client s':>8} {'items':>6} {'% bytes':>8} {'% client':>8}")
    relist: tuple[float, int] | None = None
    for task, name, work in rows:
        m = measure(emulator, work)
        seconds, client, requests, sizes, items = attrs.astuple(m)
        if relist is None:
            relist = (client, sizes)
        print(f"{task:9} {name:58} {requests:4d} {sizes / 1024:9.1f} {seconds:8.3f} "
              f"{client:8.3f} {items:6d} {100 * sizes / relist[1]:8.2f} "
              f"{100 * client / relist[0]:8.2f}")
    print("\n% bytes / % client: response bytes and client seconds as a share of re-listing "
          "the whole folder (client s leaves out the in-process emulator's answering time). "
          "exchangelib's sync_items needs the same SyncFolderItems rounds; inboxlink adds one "
          "GetItem for complete summaries (To/Cc included).")
    mailbox.close()
    emulator.stop()


def list_sync_state(folder: Any) -> str:
    """exchangelib's own baseline: sync_items with ids only until the end; its SyncState."""
    folder.item_sync_state = None
    for _ in folder.sync_items(only_fields=["id"],
                               max_changes_returned=512):
        pass
    return str(folder.item_sync_state)


if __name__ == "__main__":
    main()
