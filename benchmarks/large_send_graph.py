"""Sending a message with a 100 MB attachment through Graph: file-backed versus in memory.

Each way runs in a fresh child process against the Graph emulator of the test suite (started
once, in this parent process, so the emulator's own copy of the upload is not counted):

- ``file``: ``Attachment.from_path(path)`` — the attachment is read chunk by chunk while it
  is uploaded (draft, one upload session, ranged PUTs, ``/send``);
- ``memory``: the same message built in memory, ``Attachment(data=path.read_bytes())`` (what
  a caller did before file-backed attachments), sent the same way.

Reported per way: requests the emulator received (drafts, upload sessions, PUTs, status GETs,
sends, sendMail), the child's peak RSS growth during the send (Linux ``clear_refs`` /
``VmHWM``, the helper of ``imap_attachment.py``: ``ru_maxrss`` is carried over ``exec`` from
this parent, which holds the emulator; the mailbox has already made one request, so library
start-up is not counted), seconds, and whether the delivered attachment is byte-exact.

    python benchmarks/large_send_graph.py [--megabytes 100] [--chunk 3276800] [--modes file,memory]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import pathlib
import tempfile
import time
from typing import Any

from _bench import child_or_args, run_child  # (and the repository, tests/ on sys.path)

MODES = ("file", "memory")
COUNTED = {"drafts": ("POST", r"^/v1\.0/me/messages$"),
           "sessions": ("POST", r"/attachments/createUploadSession$"),
           "puts": ("PUT", r"^/upload/"), "status": ("GET", r"^/upload/"),
           "sends": ("POST", r"/messages/[^/]+/send$"), "sendMail": ("POST", r"/sendMail$")}


def child(mode: str, config: dict[str, Any]) -> None:
    """Send the message one way, in this fresh process; print one JSON line."""
    from _bench import peak_kb, reset_peak

    from inboxlink import OutgoingMessage
    from inboxlink.adapters.graph import GraphMailbox, GraphSettings
    from inboxlink.values import Attachment

    mailbox = GraphMailbox(GraphSettings(address=config["address"],
                                         access_token=config["token"],
                                         base_url=config["base_url"], timeout=600,
                                         upload_chunk_size=config["chunk"]))
    mailbox.folders()  # the client, its loop and one request: start-up is not measured
    path = pathlib.Path(config["path"])
    before = reset_peak()
    start = time.perf_counter()
    attachment = (Attachment.from_path(path) if mode == "file" else
                  Attachment(filename=path.name, content_type="application/octet-stream",
                             data=path.read_bytes()))
    mailbox.send(OutgoingMessage(to=["bob@example.com"], subject="Large", text="attached",
                                 attachments=[attachment]))
    seconds = time.perf_counter() - start
    print(json.dumps({"delta_mb": round((peak_kb() - before) / 1024, 1),
                      "seconds": round(seconds, 2)}))
    mailbox.close()


def _delivered_sha(raw: bytes) -> str:
    from email import policy
    from email.parser import BytesParser

    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    (part,) = parsed.iter_attachments()  # type: ignore[attr-defined]
    return hashlib.sha256(part.get_payload(decode=True)).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--chunk", type=int, default=10 * 320 * 1024,
                        help="upload_chunk_size (a multiple of 320 KiB)")
    parser.add_argument("--modes", default=",".join(MODES))
    args = child_or_args(parser, child)
    if args is None:
        return

    from graph.emulator import GraphEmulator

    emulator = GraphEmulator().start()
    size = args.megabytes * 1024 * 1024
    digest = hashlib.sha256()
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "large.bin"
        with open(path, "wb") as fh:
            for n in range(0, size, 1 << 20):
                block = hashlib.sha512(str(n).encode()).digest() * 16384
                fh.write(block)
                digest.update(block)
        chunk = args.chunk
        config = {"address": emulator.address, "token": emulator.token,
                  "base_url": emulator.base_url, "path": str(path), "chunk": chunk}
        print(f"attachment {size / 2**20:.0f} MiB, chunk {chunk} bytes "
              f"(expected PUTs: {math.ceil(size / chunk)})")
        print(f"{'mode':7} {'peak RSS +MB':>13} {'seconds':>8} "
              + " ".join(f"{k:>8}" for k in COUNTED) + "  exact")
        for mode in args.modes.split(","):
            emulator.requests.clear()
            emulator.outbox.clear()
            row = run_child(__file__, mode, config)
            counts = {k: emulator.count(m, p) for k, (m, p) in COUNTED.items()}
            exact = (len(emulator.outbox) == 1
                     and _delivered_sha(emulator.outbox[0]) == digest.hexdigest())
            print(f"{mode:7} {row['delta_mb']:13.1f} {row['seconds']:8.2f} "
                  + " ".join(f"{counts[k]:8d}" for k in COUNTED) + f"  {exact}")
            emulator.messages.clear()
    emulator.stop()


if __name__ == "__main__":
    main()
