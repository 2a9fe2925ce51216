"""Bulk actions on IMAP: mark 1,000 messages read and move 1,000, inboxlink vs a
per-message loop with raw imapclient (one UID STORE / UID MOVE per message), on Dovecot with
MOVE and on the same Dovecot without MOVE (COPY + \\Deleted + UID EXPUNGE).

Commands are counted from imapclient's protocol log in a separate pass (the log slows
everything down); times come from a pass without it. One run each: the actions change state.

Run: ``python benchmarks/imap_actions.py [count]`` (starts its own Dovecots; needs root).
"""

from __future__ import annotations

import sys

from _imap_peer import Peer, Row, by_capabilities, counted, print_rows
from imap.dovecot import BASIC_CAPABILITIES
from imap.helpers import CommandLog
from imapclient import IMAPClient

from inboxlink.adapters.imap import ImapMailbox
from inboxlink.models import FolderRole


def _reset(client: IMAPClient) -> None:
    """Everything back to INBOX, unread."""
    client.select_folder("Archive")
    uids = client.search("ALL")
    if uids:
        if client.has_capability("MOVE"):
            client.move(uids, "INBOX")
        else:
            client.copy(uids, "INBOX")
            client.add_flags(uids, [b"\\Deleted"], silent=True)
            client.uid_expunge(uids)
    client.select_folder("INBOX")
    client.remove_flags(client.search("ALL"), [b"\\Seen"], silent=True)


def run(peer: Peer, label: str, log: CommandLog | None) -> list[Row]:
    rows: list[Row] = []
    raw = peer.raw_client()
    _reset(raw)
    with ImapMailbox(peer.settings()) as box:
        box.folders()
        ids = [s.id for s in box.iter_messages(FolderRole.INBOX, page_size=1000)]
        took, cmds, _ = counted(log, lambda: box.set_read(ids))
        rows.append((f"{label}: inboxlink set_read({len(ids)} ids)", took, cmds))
        took, cmds, _ = counted(log, lambda: box.move(ids, FolderRole.ARCHIVE))
        rows.append((f"{label}: inboxlink move({len(ids)} ids)", took, cmds))
    _reset(raw)
    raw.select_folder("INBOX")
    uids = raw.search("ALL")

    def store_loop() -> None:
        for uid in uids:
            raw.add_flags([uid], [b"\\Seen"], silent=True)

    def move_loop() -> None:
        for uid in uids:
            if raw.has_capability("MOVE"):
                raw.move([uid], "Archive")
            else:
                raw.copy([uid], "Archive")
                raw.add_flags([uid], [b"\\Deleted"], silent=True)
                raw.uid_expunge([uid])

    per_move = 1 if raw.has_capability("MOVE") else 3
    took, _, _ = counted(None, store_loop)
    rows.append((f"{label}: raw imapclient, one UID STORE per message", took, len(uids)))
    took, _, _ = counted(None, move_loop)
    rows.append((f"{label}: raw imapclient, one UID MOVE (or COPY+STORE+EXPUNGE) per message",
                 took, per_move * len(uids)))
    _reset(raw)
    raw.logout()
    return rows


def main(count: int) -> None:
    rows = by_capabilities(count, (("MOVE", None, "act"),
                                   ("no MOVE", BASIC_CAPABILITIES, "actbasic")), run)
    print_rows(f"Bulk actions on {count:,} messages, loopback Dovecot over TLS, one run", rows)

if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
