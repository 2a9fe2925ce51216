"""Peak memory saving one large base64 attachment to a file (target: < 50 MB above baseline).

Run: ``python benchmarks/imap_attachment.py [megabytes]`` (starts its own Dovecot; needs
root). ``megabytes`` is the encoded size of the attachment (default 100). Each measurement
runs in a fresh process; the figure is the growth of peak RSS during the call, so the
baseline (interpreter, libraries, a connected mailbox) is excluded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import tempfile
import time

from _imap_peer import Peer, child_config, child_settings, peak_kb, reset_peak, run_children


def _message(payload: bytes) -> bytes:
    boundary = b"b0undary-7f3a"
    encoded = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    return (b"From: big@example.net\r\nTo: alice@example.com\r\nSubject: large attachment\r\n"
            b"Message-ID: <bigattach@example.net>\r\nDate: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"" + boundary
            + b"\"\r\n\r\n--" + boundary + b"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            b"The archive is attached.\r\n--" + boundary
            + b"\r\nContent-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=\"archive.zip\"\r\n\r\n"
            + encoded + b"--" + boundary + b"--\r\n")


def child(mode: str, config: dict[str, object]) -> None:
    """Save the attachment one way, in this (fresh) process."""
    from inboxlink.adapters.imap import ImapMailbox

    settings, _ = child_settings(config)
    with tempfile.NamedTemporaryFile(delete=False) as target:
        pass
    mailbox = ImapMailbox(settings)
    (summary,) = mailbox.list_messages("INBOX").items
    before, start = reset_peak(), time.perf_counter()
    if mode == "save":
        (info,) = mailbox.list_attachments(summary.id)
        written = mailbox.save_attachment(summary.id, info.part, target.name)
    else:
        (attachment,) = mailbox.fetch(summary.id).attachments
        attachment.save(target.name)
        written = attachment.size
    seconds = time.perf_counter() - start
    delta = (peak_kb() - before) / 1024
    with open(target.name, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    os.unlink(target.name)
    print(json.dumps({"mode": mode, "delta_mb": delta, "seconds": seconds, "bytes": written,
                      "sha256": digest}))


def main(megabytes: int) -> None:
    payload = os.urandom(megabytes * 1_000_000 * 3 // 4)
    digest = hashlib.sha256(payload).hexdigest()
    raw = _message(payload)
    peer = Peer(0, extra=[raw])
    try:
        rows = run_children(__file__, ("save", "fetch"), child_config(peer))
    finally:
        peer.stop()
    print(f"\nOne attachment, {len(payload) / 1e6:.0f} MB decoded / {len(raw) / 1e6:.0f} MB "
          "message (base64), loopback Dovecot over TLS")
    names = {"save": "save_attachment (BODY.PEEK[2]<o.n>, 1 MiB, decoded on the fly)",
             "fetch": "fetch() then Attachment.save (whole message parsed)"}
    print(f"{'what':<66} {'peak RSS growth MB':>19} {'seconds':>8}")
    for row in rows:
        assert row["bytes"] == len(payload), row
        assert row["sha256"] == digest, row
        print(f"{names[row['mode']]:<66} {row['delta_mb']:19.1f} {row['seconds']:8.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], json.loads(sys.argv[3]))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
