"""Sending a message with a 100 MB attachment through EWS: peak memory and requests.

Each way runs in a fresh child process against the EWS emulator of the test suite (served
by this parent process, so the emulator's own memory is not counted):

- ``inboxlink``: ``mailbox.send`` of an ``OutgoingMessage`` with ``Attachment.from_path`` —
  above ``max_request_size`` (35,000,000 bytes by default) it is a draft (CreateItem of the
  message without the file), one CreateAttachment whose base64 is encoded from the file
  while the request is written, and one SendItem;
- ``exchangelib-steps``: the same three steps with exchangelib alone, the way its
  documentation attaches a file: ``message.save()``,
  ``message.attach(FileAttachment(content=<the file's bytes>))``, then SendItem
  (``account.bulk_send``);
- ``in-memory``: the message built in memory (``EmailMessage.add_attachment``) and its MIME
  sent in one CreateItem (``Message(mime_content=…).send_and_save()``), which a server with
  a request limit below the request refuses.

Reported per way: requests the send made (counted by the emulator), the child's peak RSS
growth during the send (Linux ``clear_refs`` / ``VmHWM``, the helper of the IMAP
benchmarks — ``ru_maxrss`` is carried over exec from the parent), seconds (and of those,
the emulator's time answering: it parses the XML and rebuilds the MIME in Python), and
whether the delivered attachment is byte-exact.

    python benchmarks/large_send_ews.py [--megabytes 100]
"""

from __future__ import annotations

import argparse
import email
import hashlib
import json
import os
import tempfile
import time
from email import policy
from email.message import EmailMessage
from typing import Any

from _bench import child_or_args, run_child  # (and the repository, tests/ on sys.path)

ADDRESS = "alice@example.com"
PASSWORD = "pw"
MODES = ("inboxlink", "exchangelib-steps", "in-memory")


def _headers(message: EmailMessage) -> None:
    message["From"] = ADDRESS
    message["To"] = "bob@example.net"
    message["Subject"] = "The big file"
    message.set_content("The file is attached.\n")


def child(mode: str, config: dict[str, Any]) -> None:
    from _bench import peak_kb, reset_peak

    from inboxlink import OutgoingMessage
    from inboxlink.adapters.ews import EwsMailbox, EwsSettings
    from inboxlink.models import FolderRole
    from inboxlink.values import Attachment

    path = config["path"]
    mailbox = EwsMailbox(EwsSettings(address=ADDRESS, url=config["url"], password=PASSWORD,
                                     timeout=600))
    mailbox.folder(FolderRole.SENT)  # connected, folders known: the send is what is measured
    from exchangelib.attachments import FileAttachment
    from exchangelib.items import Message

    before, start = reset_peak(), time.perf_counter()
    if mode == "inboxlink":
        mailbox.send(OutgoingMessage(to=["bob@example.net"], subject="The big file",
                                     text="The file is attached.\n",
                                     attachments=[Attachment.from_path(path)]))
    elif mode == "exchangelib-steps":
        small = EmailMessage()
        _headers(small)
        message = Message(account=mailbox.account, folder=mailbox.account.drafts,
                          mime_content=small.as_bytes(policy=policy.SMTP))
        message.save()
        with open(path, "rb") as fh:
            message.attach(FileAttachment(name=os.path.basename(path), content=fh.read()))
        # SendItem of the saved draft (send_and_save() would first UpdateItem it).
        mailbox.account.bulk_send(ids=[message], save_copy=True,
                                  copy_to_folder=mailbox.account.sent)
    else:
        built = EmailMessage()
        _headers(built)
        with open(path, "rb") as fh:
            built.add_attachment(fh.read(), maintype="application", subtype="octet-stream",
                                 filename=os.path.basename(path))
        Message(account=mailbox.account, mime_content=built.as_bytes(policy=policy.SMTP),
                folder=mailbox.account.sent).send_and_save()
    seconds = time.perf_counter() - start
    delta_mb = (peak_kb() - before) / 1024
    mailbox.close()
    print(json.dumps({"delta_mb": round(delta_mb, 1), "seconds": round(seconds, 2)}))


def _delivered_digest(raw: bytes) -> str | None:
    parsed = email.message_from_bytes(raw, policy=policy.default)
    for part in parsed.iter_attachments():  # type: ignore[attr-defined]
        payload = part.get_payload(decode=True)
        return hashlib.sha256(payload).hexdigest()
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=100)
    args = child_or_args(parser, child)
    if args is None:
        return

    from ews.emulator import EwsEmulator

    server = EwsEmulator()
    server.start()
    server.add_user(ADDRESS, PASSWORD)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "big.bin")
        digest = hashlib.sha256()
        with open(path, "wb") as fh:
            for _ in range(args.megabytes):
                block = os.urandom(1 << 20)
                digest.update(block)
                fh.write(block)
        expected = digest.hexdigest()
        config = {"url": server.ews_url, "path": path}
        print(f"attachment {args.megabytes} MiB from a file; requests are the send's alone")
        print(f"{'way':18} {'requests':>8} {'peak RSS +MB':>13} {'seconds':>8} "
              f"{'server s':>8} exact  steps")
        for mode in MODES:
            seen, busy = len(server.requests), server.server_seconds
            row = run_child(__file__, mode, config)
            steps = [r for r in server.requests[seen:]
                     if r not in ("GetFolder", "FindFolder", "ConvertId", "ResolveNames")]
            exact = bool(server.outbox) and _delivered_digest(server.outbox[-1][0]) == expected
            print(f"{mode:18} {len(steps):8d} {row['delta_mb']:13.1f} {row['seconds']:8.2f} "
                  f"{server.server_seconds - busy:8.2f} {exact!s:5}  {'+'.join(steps)}")
            server.outbox.clear()
            server.items.clear()
    server.stop()


if __name__ == "__main__":
    main()
