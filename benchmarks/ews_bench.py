"""EWS: list 1,000 summaries and fetch 1,000 messages — inboxlink vs exchangelib used directly.

Runs against the loopback EWS emulator of the test suite (tests/ews/emulator.py), so what
it measures is round trips and client-side cost, not a real server's speed. Each figure is
the median of three runs; requests are counted by the emulator.

    python benchmarks/ews_bench.py [--messages 1000]
"""

from __future__ import annotations

import argparse

from _ews_peer import exchangelib_inbox, loaded, measure

from inboxlink.models import FolderRole

SUMMARY_FIELDS = ("subject", "author", "to_recipients", "cc_recipients", "datetime_sent",
                  "datetime_received", "message_id", "is_read", "size")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    count = parser.parse_args().messages

    emulator, mailbox, ids = loaded(count, body=lambda n: f"Body {n}\n" * 40)
    inbox = exchangelib_inbox(mailbox)
    account = mailbox.account

    def il_list() -> int:
        return sum(1 for _ in mailbox.iter_messages(FolderRole.INBOX, page_size=1000))

    def xl_queryset_list() -> int:
        query = inbox.all().order_by("-datetime_received").only(*SUMMARY_FIELDS)
        return sum(1 for _ in query)

    def xl_loop_list() -> int:
        found = list(inbox.all().order_by("-datetime_received").values_list("id", flat=True))
        n = 0
        for item_id in found:
            for _item in account.fetch(ids=[(item_id, None)], only_fields=list(SUMMARY_FIELDS)):
                n += 1
        return n

    def il_fetch() -> int:
        return len(mailbox.fetch_many(ids))

    def xl_fetch_bulk() -> int:
        return sum(1 for _ in account.fetch(ids=[(i, None) for i in ids],
                                            only_fields=["mime_content"]))

    def xl_loop_fetch() -> int:
        n = 0
        for item_id in ids:
            for _item in account.fetch(ids=[(item_id, None)], only_fields=["mime_content"]):
                n += 1
        return n

    rows = [
        ("list", "inboxlink list_messages (FindItem + GetItem per 1,000)", il_list),
        ("list", "exchangelib QuerySet .only(summary fields)", xl_queryset_list),
        ("list", "exchangelib naive loop (FindItem, then GetItem per item)", xl_loop_list),
        ("fetch", "inboxlink fetch_many (GetItem, 100 ids per request)", il_fetch),
        ("fetch", "exchangelib account.fetch(all ids, mime_content)", xl_fetch_bulk),
        ("fetch", "exchangelib naive loop (GetItem per item)", xl_loop_fetch),
    ]
    print(f"EWS emulator on loopback, {count} messages, median of 3\n")
    print(f"{'task':6} {'client':58} {'requests':>8} {'total s':>8} {'client s':>8} "
          f"{'items':>6} {'ratio':>6}")
    baseline: dict[str, float] = {}
    for task, name, work in rows:
        m = measure(emulator, work)
        baseline.setdefault(task, m.seconds)
        ratio = m.seconds / baseline[task]
        print(f"{task:6} {name:58} {m.requests:8d} {m.seconds:8.3f} {m.client:8.3f} "
              f"{m.items:6d} {ratio:6.2f}")
    print("\nratio: total time relative to inboxlink; client s: total minus the emulator's "
          "own answering time (it runs in this process).")
    mailbox.close()
    emulator.stop()


if __name__ == "__main__":
    main()
