"""The IMAP change feed: ``changes()`` vs re-listing a 10,000-message folder, QRESYNC vs the
UID-set fallback, next to raw imapclient doing the same work.

Measured per server (Dovecot with QRESYNC, and the same Dovecot advertising neither CONDSTORE
nor QRESYNC): IMAP commands and time of a no-change ``changes()``; of ``changes()`` after 10
new messages; and of re-listing the folder (inboxlink ``iter_messages`` and raw imapclient
UID SEARCH + one UID FETCH). Commands are counted from imapclient's protocol log.

Run: ``python benchmarks/imap_sync.py [count]`` (starts its own Dovecots; needs root).
"""

from __future__ import annotations

import random
import statistics
import sys
import time

from _imap_peer import Peer, Row, by_capabilities, counted, print_rows, realistic_message
from imap.dovecot import BASIC_CAPABILITIES
from imap.helpers import CommandLog

from inboxlink.adapters.imap import ImapMailbox
from inboxlink.adapters.imap.convert import SUMMARY_ITEMS
from inboxlink.models import FolderRole

RUNS = 5


def _drain(box: ImapMailbox, token: str) -> tuple[int, str]:
    seen = 0
    while True:
        batch = box.changes(FolderRole.INBOX, token, limit=1000)
        seen += len(batch)
        token = batch.token
        if not batch.more:
            return seen, token


def run(peer: Peer, label: str, log: CommandLog | None) -> list[Row]:
    """One pass: with ``log`` the commands are counted (imapclient's protocol log is on,
    which slows everything down), without it the times are taken."""
    rows: list[Row] = []
    other = peer.raw_client()
    n = int(other.select_folder("INBOX", readonly=True)[b"EXISTS"])
    with ImapMailbox(peer.settings()) as box:
        box.folders()
        took, cmds, token = counted(log, lambda: box.sync_token(FolderRole.INBOX))
        rows.append((f"{label}: sync_token()", took, cmds))
        times, counts = [], []
        for _ in range(RUNS):
            took, cmds, batch = counted(log, lambda t=token: box.changes(FolderRole.INBOX, t))
            assert not batch
            times.append(took)
            counts.append(cmds)
        rows.append((f"{label}: changes(), no change", statistics.median(times), max(counts)))
        times, counts = [], []
        for _ in range(RUNS):
            with ImapMailbox(peer.settings()) as fresh:  # the token resumed in another process
                fresh.folders()
                took, cmds, batch = counted(
                    log, lambda f=fresh, t=token: f.changes(FolderRole.INBOX, t))
            assert not batch
            times.append(took)
            counts.append(cmds)
        rows.append((f"{label}: changes(), no change, on a new connection",
                     statistics.median(times), max(counts)))
        times, counts = [], []
        for _ in range(RUNS):
            token = box.sync_token(FolderRole.INBOX)
            for _k in range(10):
                n += 1
                other.append("INBOX", realistic_message(n, random.Random(n)))
            took, cmds, (seen, token) = counted(log, lambda t=token: _drain(box, t))
            assert seen == 10, seen
            times.append(took)
            counts.append(cmds)
        rows.append((f"{label}: changes() after 10 new", statistics.median(times), max(counts)))
        times, counts = [], []
        for _ in range(RUNS):
            took, cmds, listed = counted(
                log, lambda: sum(1 for _ in box.iter_messages(FolderRole.INBOX, page_size=1000)))
            assert listed == n
            times.append(took)
            counts.append(cmds)
        rows.append((f"{label}: re-list with inboxlink iter_messages",
                     statistics.median(times), max(counts)))
    other.select_folder("INBOX", readonly=True)
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        uids = other.search("ALL")
        data = other.fetch(uids, list(SUMMARY_ITEMS))
        assert len(data) == n
        times.append(time.perf_counter() - started)
    rows.append((f"{label}: re-list with raw imapclient SEARCH + 1 FETCH",
                 statistics.median(times), 2))
    if "QRESYNC" in [c.decode() for c in other.capabilities()]:
        # raw imapclient doing what changes() does for new mail: SEARCH MODSEQ (CONDSTORE)
        # and the summaries (imapclient 4.1's fetch() cannot take "1:*" for CHANGEDSINCE)
        modseq = int(other.select_folder("INBOX", readonly=True)[b"HIGHESTMODSEQ"])
        for _k in range(10):
            n += 1
            other.append("INBOX", realistic_message(n, random.Random(n)))
        started = time.perf_counter()
        other.select_folder("INBOX", readonly=True)
        changed = other.search(["MODSEQ", str(modseq + 1)])
        summaries = other.fetch(changed, list(SUMMARY_ITEMS))
        assert len(summaries) == 10
        rows.append((f"{label}: raw imapclient SELECT + SEARCH MODSEQ + FETCH after 10 new",
                     time.perf_counter() - started, 3))
    other.logout()
    return rows


def main(count: int) -> None:
    rows = by_capabilities(count, (("QRESYNC", None, "sync"),
                                   ("fallback (no CONDSTORE/QRESYNC)", BASIC_CAPABILITIES,
                                    "syncbasic")), run)
    print_rows(f"Change feed on a {count:,}-message folder, loopback Dovecot over TLS, "
               f"median of {RUNS}", rows, digits=4)
    for label in ("QRESYNC", "fallback (no CONDSTORE/QRESYNC)"):
        mine = {n.split(": ", 1)[1]: (s, c) for n, s, c in rows if n.startswith(label + ":")}
        new, relist = mine["changes() after 10 new"], mine["re-list with inboxlink iter_messages"]
        print(f"{label}: changes() after 10 new = {100 * new[0] / relist[0]:.2f} % of the "
              f"re-list's time, {100 * new[1] / relist[1]:.0f} % of its commands")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
