"""Peak memory streaming one large message to a file (target: < 50 MB above baseline).

Run: ``python benchmarks/imap_stream.py [megabytes]`` (starts its own Dovecot; needs root).
Each measurement runs in a fresh process; the figure is the growth of peak RSS during the
call, so the baseline (interpreter, libraries, a connected mailbox) is excluded.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import tempfile
import time

from _imap_peer import (
    PASSWORD,
    Peer,
    child_config,
    child_settings,
    peak_kb,
    reset_peak,
    run_children,
)


def _big_message(megabytes: int) -> bytes:
    payload = base64.encodebytes(os.urandom(megabytes * 1_000_000 * 3 // 4))
    head = (b"From: big@example.net\r\nTo: alice@example.com\r\nSubject: large\r\n"
            b"Message-ID: <big@example.net>\r\nDate: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n")
    return head + payload.replace(b"\n", b"\r\n")


def child(mode: str, config: dict[str, object]) -> None:
    """Measure one way of getting the message, in this (fresh) process."""
    from imapclient import IMAPClient

    from inboxlink.adapters.imap import ImapMailbox

    settings, ctx = child_settings(config)
    with tempfile.NamedTemporaryFile(delete=False) as target:
        pass
    if mode == "raw":
        client = IMAPClient("127.0.0.1", int(str(config["port"])), ssl_context=ctx)
        client.login(str(config["user"]), PASSWORD)
        client.select_folder("INBOX", readonly=True)
        (uid,) = client.search("ALL")
        before, start = reset_peak(), time.perf_counter()
        data = client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
        with open(target.name, "wb") as fh:
            fh.write(data)
        written = len(data)
    else:
        mailbox = ImapMailbox(settings)
        (summary,) = mailbox.list_messages("INBOX").items
        before, start = reset_peak(), time.perf_counter()
        if mode == "stream":
            written = mailbox.fetch_to_file(summary.id, target.name)
        else:
            raw = mailbox.fetch(summary.id).raw
            with open(target.name, "wb") as fh:
                fh.write(raw)
            written = len(raw)
    seconds = time.perf_counter() - start
    os.unlink(target.name)
    print(json.dumps({"mode": mode, "delta_mb": (peak_kb() - before) / 1024,
                      "seconds": seconds, "bytes": written}))


def main(megabytes: int) -> None:
    raw = _big_message(megabytes)
    peer = Peer(0, extra=[raw])
    try:
        rows = run_children(__file__, ("stream", "fetch", "raw"), child_config(peer))
    finally:
        peer.stop()
    print(f"\nOne {len(raw) / 1e6:.0f} MB message to a file, loopback Dovecot over TLS")
    names = {"stream": "inboxlink fetch_to_file (partial FETCH, 1 MiB chunks)",
             "fetch": "inboxlink fetch() then write (whole message in memory)",
             "raw": "raw imapclient fetch BODY.PEEK[] then write (debug=5 default)"}
    print(f"{'what':<62} {'peak RSS growth MB':>19} {'seconds':>8}")
    for row in rows:
        assert row["bytes"] == len(raw), row
        print(f"{names[row['mode']]:<62} {row['delta_mb']:19.1f} {row['seconds']:8.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], json.loads(sys.argv[3]))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
