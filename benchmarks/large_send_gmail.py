"""Sending a large message through Gmail: peak memory and requests, side by side.

Each case runs in a fresh child process against the Gmail emulator of the test suite
(started once, in this parent process), sending a message with one file attachment:

- ``resumable``: ``mailbox.send`` with ``Attachment.from_path`` — the message is spooled to
  disk and goes up as a resumable media upload in ``upload_chunk_size`` chunks (the default
  above 5 MB);
- ``simple``: the same through inboxlink's small-message path forced on
  (``simple_upload_limit`` = 35 MB): base64url ``raw`` inside one JSON body;
- ``raw-client``: google-api-python-client used the way its Gmail guide shows — the
  message built in memory with ``EmailMessage``, ``urlsafe_b64encode`` into ``raw``,
  ``messages.send(body=…).execute()``;
- ``refused``: a 100 MB file through ``mailbox.send``: ``MessageTooLarge`` before any
  request (the message is still prepared on disk, which is what memory measures).

Reported per case: the child's peak RSS growth during the send (Linux ``clear_refs`` /
``VmHWM`` via ``_bench``: ``ru_maxrss`` cannot be reset and Linux carries it over exec
from this parent, which holds the emulator's copies), requests the emulator served, seconds,
and whether the one delivered message is byte-exact.

    python benchmarks/large_send_gmail.py [--megabytes 30] [--refused-megabytes 100]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
import time
from typing import Any

from _bench import child_or_args, run_child  # (and the repository, tests/ on sys.path)

CASES = ("resumable", "simple", "raw-client", "refused")
MB = 1_000_000


def _file_size_for(message_bytes: int) -> int:
    # base64 makes 4 of 3 bytes and breaks lines at 76 characters (+CRLF): about 1.368×.
    return int(message_bytes * 3 / 4 * 76 / 78) - 2_000


def _open(config: dict[str, Any], **options: Any) -> Any:
    from inboxlink.adapters.gmail import GmailMailbox, GmailSettings
    from inboxlink.retry import RetryPolicy

    return GmailMailbox(GmailSettings(address="alice@gmail.com", access_token="good-token",
                                      api_endpoint=config["url"], timeout=600,
                                      retry=RetryPolicy(max_attempts=1), **options))


def _raw_client(config: dict[str, Any], path: str) -> None:
    import base64
    from email.message import EmailMessage

    import google_auth_httplib2
    import httplib2
    from google.oauth2.credentials import Credentials
    from googleapiclient.discovery import build_from_document
    from googleapiclient.discovery_cache import get_static_doc

    http = google_auth_httplib2.AuthorizedHttp(Credentials(token="good-token"),
                                               http=httplib2.Http(timeout=600))
    service = build_from_document(get_static_doc("gmail", "v1"), http=http,
                                  client_options={"api_endpoint": config["url"]})
    message = EmailMessage()
    message["From"] = "alice@gmail.com"
    message["To"] = "carol@example.org"
    message["Subject"] = "Large file"
    message.set_content("The file is attached.")
    with open(path, "rb") as fh:
        message.add_attachment(fh.read(), maintype="application", subtype="octet-stream",
                               filename=os.path.basename(path))
    raw = base64.urlsafe_b64encode(message.as_bytes()).decode()
    service.users().messages().send(userId="me", body={"raw": raw}).execute()


def child(case: str, config: dict[str, Any]) -> None:
    """Send one way, in this fresh process; print one JSON line."""
    from _bench import peak_kb, reset_peak

    from inboxlink import errors
    from inboxlink.models import Attachment, OutgoingMessage

    path = config["refused_path"] if case == "refused" else config["path"]
    limit = {"simple": 35 * 1024 * 1024}.get(case)
    mailbox = _open(config, **({"simple_upload_limit": limit} if limit else {}))
    mailbox.folders()  # the client is built and connected before measuring
    message = OutgoingMessage(to=["carol@example.org"], subject="Large file",
                              text="The file is attached.",
                              attachments=[Attachment.from_path(path)])
    outcome, requests = "sent", 0
    before, start = reset_peak(), time.perf_counter()
    if case == "raw-client":
        _raw_client(config, path)
    else:
        made = mailbox.requests_made
        try:
            mailbox.send(message)
        except errors.MessageTooLarge:
            outcome = "MessageTooLarge"
        requests = mailbox.requests_made - made
    seconds = time.perf_counter() - start
    delta_mb = (peak_kb() - before) / 1024
    mailbox.close()
    print(json.dumps({"delta_mb": round(delta_mb, 1), "seconds": round(seconds, 2),
                      "outcome": outcome, "client_requests": requests}))


def _attachment_digest(raw: bytes) -> str:
    from inboxlink import mime

    (attachment,) = mime.attachments(mime.parse(raw))
    return hashlib.sha256(attachment.data).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=30.0,
                        help="size of the sent message (the file is about 0.73 of it)")
    parser.add_argument("--refused-megabytes", type=float, default=100.0,
                        help="size of the file of the refused case")
    args = child_or_args(parser, child)
    if args is None:
        return

    from gmail.emulator import GmailEmulator

    emulator = GmailEmulator().start()
    workdir = tempfile.mkdtemp(prefix="inboxlink-bench-")
    path = os.path.join(workdir, "measurements.bin")
    payload = os.urandom(_file_size_for(int(args.megabytes * MB)))
    with open(path, "wb") as fh:
        fh.write(payload)
    expected = hashlib.sha256(payload).hexdigest()
    del payload
    refused = os.path.join(workdir, "too-large.bin")
    with open(refused, "wb") as fh:
        fh.truncate(int(args.refused_megabytes * MB))
    config = {"url": emulator.url, "path": path, "refused_path": refused}
    print(f"file {os.path.getsize(path) / MB:.1f} MB (message about {args.megabytes:.0f} MB); "
          f"refused case: a {args.refused_megabytes:.0f} MB file")
    print(f"{'case':11} {'message MB':>10} {'requests':>8} {'peak RSS +MB':>13} "
          f"{'seconds':>8} outcome / exact")
    for case in CASES:
        emulator.outbox.clear()
        emulator.reset_counts()
        row = run_child(__file__, case, config)
        # The warm-up folders() call is not the send's: count only what came after it.
        requests = len([r for r in emulator.requests if not r[1].endswith("/labels")])
        sent = emulator.sent_raw()
        size = f"{len(sent[0]) / MB:10.1f}" if sent else f"{'-':>10}"
        exact = (len(sent) == 1 and _attachment_digest(sent[0]) == expected) if sent else None
        print(f"{case:11} {size} {requests:8d} {row['delta_mb']:13.1f} "
              f"{row['seconds']:8.2f} {row['outcome']} / {exact}")
    emulator.stop()


if __name__ == "__main__":
    main()
