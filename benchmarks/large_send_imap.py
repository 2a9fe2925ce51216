"""Peak memory sending one message with a large file attachment over SMTP (+ the Sent APPEND).

Run: ``python benchmarks/large_send_imap.py [megabytes]`` (starts its own Dovecot and an
aiosmtpd server; needs root). ``megabytes`` is the size of the attached file (default 100).
Each way of sending runs in a fresh process; the figure is the growth of peak RSS during
the call (Linux ``VmHWM`` after ``clear_refs``), so the baseline — interpreter, libraries,
a connected mailbox — is excluded. Target for inboxlink: < 50 MB whatever the file size.

Ways, side by side:

* ``inboxlink``: ``ImapMailbox.send`` of an ``OutgoingMessage`` with
  ``Attachment.from_path`` — SMTP DATA and the Sent APPEND both streamed from the spool;
* ``inboxlink-smtp``: the same with ``save_copy=False`` (SMTP only);
* ``stdlib``: ``EmailMessage.add_attachment(file bytes)`` and ``smtplib.sendmail`` (what an
  application does without inboxlink: the message built in memory);
* ``stdlib+append``: the same, then ``imapclient.append`` of the same bytes to Sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import smtplib
import ssl
import sys
import tempfile
import time
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy

from _imap_peer import (
    PASSWORD,
    Peer,
    child_config,
    child_settings,
    peak_kb,
    reset_peak,
    run_children,
)
from imap.smtp_peer import SmtpServer  # the tests' aiosmtpd server (on sys.path via _imap_peer)

MODES = ("inboxlink", "inboxlink-smtp", "stdlib", "stdlib+append")
_TO = "bob@example.com"


def child(mode: str, config: dict[str, object]) -> None:
    """Send the message one way, in this (fresh) process."""
    from inboxlink import Attachment, OutgoingMessage
    from inboxlink.adapters.imap import ImapMailbox

    settings, ctx = child_settings(config)
    path, smtp_port = str(config["file"]), int(str(config["smtp_port"]))
    if mode.startswith("inboxlink"):
        import attrs

        mailbox = ImapMailbox(attrs.evolve(settings, smtp_host="127.0.0.1", smtp_port=smtp_port,
                                           smtp_security="starttls"))
        mailbox.folders()  # warm: the Sent folder is known before the measurement
        before, start = reset_peak(), time.perf_counter()
        message = OutgoingMessage(to=[_TO], subject="Large file", text="The file is attached.",
                                  attachments=[Attachment.from_path(path)])
        result = mailbox.send(message, save_copy=mode == "inboxlink")
        seconds = time.perf_counter() - start
        delta = (peak_kb() - before) / 1024
        sent_copy = result.sent_copy.value
        mailbox.close()
    else:
        from imapclient import IMAPClient

        client = IMAPClient("127.0.0.1", settings.imap_port, ssl_context=ctx)
        client.login(settings.address, PASSWORD)
        before, start = reset_peak(), time.perf_counter()
        message_std = EmailMessage()
        message_std["From"], message_std["To"] = settings.address, _TO
        message_std["Subject"] = "Large file"
        message_std.set_content("The file is attached.")
        with open(path, "rb") as fh:
            message_std.add_attachment(fh.read(), maintype="application",
                                       subtype="octet-stream",
                                       filename=os.path.basename(path))
        raw = message_std.as_bytes(policy=default_policy.clone(linesep="\r\n"))
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=120) as smtp:
            smtp.starttls(context=ctx)
            smtp.login(settings.address, PASSWORD)
            smtp.sendmail(settings.address, [_TO], raw)
        sent_copy = "none"
        if mode == "stdlib+append":
            client.append("Sent", raw, flags=[b"\\Seen"])
            sent_copy = "appended"
        seconds = time.perf_counter() - start
        delta = (peak_kb() - before) / 1024
        client.logout()
    print(json.dumps({"mode": mode, "delta_mb": delta, "seconds": seconds,
                      "sent_copy": sent_copy}))


def _attachment_digest(raw: bytes) -> str:
    """The sha256 of the (only) attachment of a received message, decoded."""
    parsed = BytesParser(policy=default_policy).parsebytes(raw)
    (part,) = [p for p in parsed.walk() if p.get_filename()]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return hashlib.sha256(payload).hexdigest()


def main(megabytes: int) -> None:
    peer = Peer(0)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(str(peer.dir / "chain.pem"), str(peer.dir / "key.pem"))
    smtp = SmtpServer(server_ctx, users={peer.user: PASSWORD},
                      data_size_limit=(megabytes * 2 + 10) << 20)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(prefix="large-", suffix=".bin", delete=False) as fh:
        for _ in range(megabytes):
            block = os.urandom(1_000_000)
            digest.update(block)
            fh.write(block)
    config = child_config(peer)
    config.update(file=fh.name, smtp_port=smtp.port)
    try:
        rows = run_children(__file__, MODES, config)
        received = [r.raw for r in smtp.received]
    finally:
        smtp.stop()
        peer.stop()
        os.unlink(fh.name)
    assert len(received) == len(MODES), len(received)
    for raw in received:  # every way delivered the file intact
        assert _attachment_digest(raw) == digest.hexdigest()
    encoded = len(base64.encodebytes(b"\0" * 3_000)) * megabytes * 1_000_000 / 3_000 / 1e6
    print(f"\nOne {megabytes} MB file attachment ({encoded:.0f} MB as base64), STARTTLS SMTP "
          "(aiosmtpd) and the Sent copy by APPEND to Dovecot over TLS, loopback")
    names = {"inboxlink": "inboxlink send (SMTP + Sent APPEND, streamed from the spool)",
             "inboxlink-smtp": "inboxlink send(save_copy=False) (SMTP only)",
             "stdlib": "stdlib EmailMessage in memory + smtplib.sendmail",
             "stdlib+append": "stdlib in memory + sendmail + imapclient.append"}
    print(f"{'what':<64} {'peak RSS growth MB':>19} {'seconds':>8} {'Sent copy':>12}")
    for row in rows:
        print(f"{names[row['mode']]:<64} {row['delta_mb']:19.1f} {row['seconds']:8.2f} "
              f"{row['sent_copy']:>12}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], json.loads(sys.argv[3]))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
