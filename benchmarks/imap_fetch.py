"""Fetching 1,000 full messages: inboxlink fetch_many vs raw imapclient vs imap_tools.

Run: ``python benchmarks/imap_fetch.py [count]`` (starts its own Dovecot; needs root).
"""

from __future__ import annotations

import sys

from _imap_peer import PASSWORD, Peer, median_time
from imapclient import IMAPClient

from inboxlink.adapters.imap import ImapMailbox


def main(count: int) -> None:
    peer = Peer(count)
    settings = peer.settings()
    host, port = settings.imap_endpoint
    try:
        mailbox = ImapMailbox(settings)
        ids = [s.id for s in mailbox.list_messages("INBOX", limit=count).items]
        assert len(ids) == count

        def ours() -> None:
            messages = mailbox.fetch_many(ids)
            assert len(messages) == count

        def raw(debug_off: bool) -> tuple[IMAPClient, object]:
            client = peer.raw_client(quiet=debug_off)
            client.select_folder("INBOX", readonly=True)
            uids = client.search("ALL")

            def run() -> None:
                data = client.fetch(uids, ["BODY.PEEK[]"])
                assert len(data) == count

            return client, run

        default_client, raw_default = raw(False)
        quiet_client, raw_quiet = raw(True)
        results = [
            ("raw imapclient fetch(uids, BODY.PEEK[]) (debug=5 default)", median_time(raw_default)),
            ("raw imapclient fetch(uids, BODY.PEEK[]) (debug off)", median_time(raw_quiet)),
            ("inboxlink fetch_many (chunks of 500)", median_time(ours)),
        ]

        def one_by_one() -> None:
            for message_id in ids:
                mailbox.fetch(message_id)

        results.append(("inboxlink fetch() one at a time (for contrast)",
                        median_time(one_by_one, 1)))
        try:
            from imap_tools import MailBox

            tools = MailBox(host, port, ssl_context=peer.client_context())
            tools.login(peer.user, PASSWORD, initial_folder="INBOX")

            def tools_fetch() -> None:
                got = list(tools.fetch(bulk=True, mark_seen=False))
                assert len(got) == count

            results.append(("imap_tools fetch(bulk=True)", median_time(tools_fetch)))
            tools.logout()
        except ImportError:
            pass
        default_client.logout()
        quiet_client.logout()
        mailbox.close()
    finally:
        peer.stop()
    base = results[2][1]
    megabytes = peer.bytes_total / 1e6
    print(f"\nFetching {count} full messages ({megabytes:.1f} MB), loopback Dovecot over TLS, "
          "median of 3")
    print(f"{'what':<60} {'seconds':>8} {'MB/s':>8} {'inboxlink ×':>12}")
    for name, seconds in results:
        print(f"{name:<60} {seconds:8.3f} {megabytes / seconds:8.1f} {base / seconds:12.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000)
