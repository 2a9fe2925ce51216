"""Preparing a message with a 100 MB attachment: the spool on disk vs the stdlib in memory.

What every adapter's large send starts from: `mime.prepare` writes the wire bytes, and the
bytes are then streamed to the network (here: read through to /dev/null in 1 MiB steps,
the way SMTP DATA, IMAP APPEND and the uploads read them). Side by side, each in a fresh
child process so one's allocations cannot raise the other's peak:

- ``spool``: ``Attachment.from_path`` — the file's base64 streamed into a temporary file;
- ``memory``: the same file read into ``Attachment(data=…)``, the message written by the
  stdlib generator in memory (what inboxlink did before, and what ``EmailMessage`` +
  ``add_attachment`` + ``as_bytes`` does in any script).

Reported: peak RSS growth (Linux ``clear_refs``/``VmHWM``), seconds, wire size, and
whether the attachment parsed back from the wire bytes is byte-exact (checked in the
parent, outside the measurement).

    python benchmarks/large_prepare.py [--megabytes 100]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

import _bench  # noqa: F401  (puts the repository and tests/ on sys.path)

MODES = ("spool", "memory")


def child(mode: str, path: str, out: str) -> None:
    from _bench import peak_kb, reset_peak

    from inboxlink import mime
    from inboxlink.values import Attachment, OutgoingMessage

    before = reset_peak()
    started = time.perf_counter()
    if mode == "spool":
        attachment = Attachment.from_path(path)
    else:
        with open(path, "rb") as fh:
            attachment = Attachment(filename=os.path.basename(path), data=fh.read(),
                                    content_type="application/octet-stream")
    prepared = mime.prepare(OutgoingMessage(to=["bob@example.net"], subject="Large",
                                            text="Attached.", attachments=[attachment]),
                            default_from="alice@example.com")
    with open(os.devnull, "wb") as sink, open(out, "wb") as copy:
        for block in prepared.spool.chunks():
            sink.write(block)
            copy.write(block)  # for the parent's byte-exact check, not in a real send
    seconds = time.perf_counter() - started
    print(json.dumps({"mode": mode, "peak_growth_mb": (peak_kb() - before) / 1024,
                      "seconds": seconds, "wire_mb": prepared.size / 1e6,
                      "on_disk": prepared.spool.on_disk}))


def main(megabytes: int) -> None:
    from inboxlink import mime

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "payload.bin")
        with open(path, "wb") as fh:
            for _ in range(megabytes):
                fh.write(os.urandom(1 << 20))
        with open(path, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        print(f"{megabytes} MiB attachment; peak RSS growth per mode (fresh child each)")
        for mode in MODES:
            out = os.path.join(folder, f"{mode}.eml")
            result = subprocess.run([sys.executable, __file__, "--child", mode, path, out],
                                    check=True, capture_output=True, text=True)
            row = json.loads(result.stdout)
            with open(out, "rb") as fh:
                (attachment,) = mime.attachments(mime.parse(fh.read()))
            exact = hashlib.sha256(attachment.data).hexdigest() == digest
            print(f"  {mode:7} peak +{row['peak_growth_mb']:7.1f} MB  {row['seconds']:5.2f} s  "
                  f"wire {row['wire_mb']:6.1f} MB  on disk {row['on_disk']!s:5}  "
                  f"byte-exact {exact}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--child", nargs=3, metavar=("MODE", "PATH", "OUT"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
    else:
        main(args.megabytes)
