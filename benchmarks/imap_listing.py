"""Listing 10,000 summaries: inboxlink vs raw imapclient (UID SEARCH + one UID FETCH) vs imap_tools.

Run: ``python benchmarks/imap_listing.py [count]`` (starts its own Dovecot; needs root).
"""

from __future__ import annotations

import sys
from typing import Any

from _imap_peer import PASSWORD, Peer, median_time

from inboxlink.adapters.imap import ImapMailbox
from inboxlink.adapters.imap.convert import SUMMARY_ITEMS


def main(count: int) -> None:
    peer = Peer(count)
    settings = peer.settings()
    host, port = settings.imap_endpoint
    try:
        mailbox = ImapMailbox(settings)

        def inboxlink_list() -> None:
            n = 0
            for s in mailbox.iter_messages("INBOX", page_size=1000):
                _ = (s.subject, s.from_, s.date)
                n += 1
            assert n == count, n

        def raw(debug_off: bool) -> Any:
            client = peer.raw_client(quiet=debug_off)
            client.select_folder("INBOX", readonly=True)

            def run() -> None:
                uids = client.search("ALL")
                data = client.fetch(uids, list(SUMMARY_ITEMS))
                assert len(data) == count

            return client, run

        raw_client, raw_default = raw(False)
        quiet_client, raw_quiet = raw(True)
        results = [
            ("raw imapclient, SEARCH+1 FETCH, no parsing (debug=5 default)",
             median_time(raw_default)),
            ("raw imapclient, SEARCH+1 FETCH, no parsing (debug off) = floor",
             median_time(raw_quiet)),
            ("inboxlink iter_messages(page_size=1000), subject/from/date read",
             median_time(inboxlink_list)),
        ]
        try:
            from imap_tools import MailBox

            tools = MailBox(host, port, ssl_context=peer.client_context())
            tools.login(peer.user, PASSWORD, initial_folder="INBOX")

            def tools_list() -> None:
                n = 0
                for msg in tools.fetch(bulk=True, headers_only=True, mark_seen=False):
                    _ = (msg.subject, msg.from_, msg.date)
                    n += 1
                assert n == count, n

            results.append(("imap_tools bulk headers_only, subject/from/date read",
                            median_time(tools_list)))
            tools.logout()
        except ImportError:
            results.append(("imap_tools (not installed)", float("nan")))
        raw_client.logout()
        quiet_client.logout()
        mailbox.close()
    finally:
        peer.stop()

    floor = results[1][1]
    ours = results[2][1]
    print(f"\nListing {count} summaries, loopback Dovecot over TLS, median of 3")
    print(f"{'what':<66} {'seconds':>8} {'× floor':>8} {'inboxlink ×':>12}")
    for name, seconds in results:
        print(f"{name:<66} {seconds:8.3f} {seconds / floor:8.2f} {ours / seconds:12.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
