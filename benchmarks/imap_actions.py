"""Bulk actions on IMAP: mark 1,000 messages read and move 1,000, inboxlink vs a
per-message loop with raw imapclient (one UID STORE / UID MOVE per message), on Dovecot with
MOVE and on the same Dovecot without MOVE (COPY + \\Deleted + UID EXPUNGE).

Commands are counted from imapclient's protocol log in a separate pass (the log slows
everything down); times come from a pass without it. One run each: the actions change state.

Run: ``python benchmarks/imap_actions.py [count]`` (starts its own Dovecots; needs root).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from _imap_peer import PASSWORD, Peer
from imap.dovecot import BASIC_CAPABILITIES
from imap.helpers import CommandLog, command_log
from imapclient import IMAPClient

from inboxlink.adapters.imap import ImapMailbox
from inboxlink.models import FolderRole


def _raw(peer: Peer) -> IMAPClient:
    host, port = peer.settings().imap_endpoint
    client = IMAPClient(host, port, ssl_context=peer.client_context())
    client.login(peer.user, PASSWORD)
    client._imap.debug = 0
    return client


def _timed(log: CommandLog | None, fn: Callable[[], Any]) -> tuple[float, int]:
    mark = len(log.commands) if log else 0
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started, len(log.since(mark)) if log else 0


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


def run(peer: Peer, label: str, log: CommandLog | None) -> list[tuple[str, float, int]]:
    rows = []
    raw = _raw(peer)
    _reset(raw)
    with ImapMailbox(peer.settings()) as box:
        box.folders()
        ids = [s.id for s in box.iter_messages(FolderRole.INBOX, page_size=1000)]
        took, cmds = _timed(log, lambda: box.set_read(ids))
        rows.append((f"{label}: inboxlink set_read({len(ids)} ids)", took, cmds))
        took, cmds = _timed(log, lambda: box.move(ids, FolderRole.ARCHIVE))
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
    took, _ = _timed(None, store_loop)
    rows.append((f"{label}: raw imapclient, one UID STORE per message", took, len(uids)))
    took, _ = _timed(None, move_loop)
    rows.append((f"{label}: raw imapclient, one UID MOVE (or COPY+STORE+EXPUNGE) per message",
                 took, per_move * len(uids)))
    _reset(raw)
    raw.logout()
    return rows


def main(count: int) -> None:
    rows: list[tuple[str, float, int]] = []
    for label, caps in (("MOVE", None), ("no MOVE", BASIC_CAPABILITIES)):
        peer = Peer(count, capabilities=caps, name="act" if caps is None else "actbasic")
        try:
            with command_log() as log:
                counted = run(peer, label, log)
            timed = run(peer, label, None)
            rows += [(name, seconds, cmds) for (name, _, cmds), (_, seconds, _) in
                     zip(counted, timed, strict=True)]
        finally:
            peer.stop()
    print(f"\nBulk actions on {count:,} messages, loopback Dovecot over TLS, one run")
    print(f"{'what':<78} {'seconds':>8} {'commands':>9}")
    for name, seconds, cmds in rows:
        print(f"{name:<78} {seconds:8.3f} {cmds:9d}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
