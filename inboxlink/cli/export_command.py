"""``inboxlink export URL FOLDER out.mbox``: a folder into an mbox file, streamed and resumable.

* **Streamed:** one message at a time is fetched (``fetch_to_file`` into a buffer) and
  appended, so memory holds one message, whatever the folder's size.
* **mboxrd:** a body line ``From …`` (after any number of ``>``) gets one more ``>``, so
  readers that undo mboxrd quoting get the message back exactly; the stdlib ``mailbox``
  module writes the ``From_`` separator lines, the file locking and the appending.
* **Resumable:** a sidecar ``out.mbox.ids`` lists each exported message id with the mbox's
  size after it. A second run skips those ids; a message half-written by an interrupted run
  (the mbox is longer than the last recorded size) is cut off first, so it is not doubled.
* **Unix-friendly:** the progress bar, the summary and errors go to stderr; ``--json`` prints
  a summary document on stdout.
"""

from __future__ import annotations

import io
import mailbox as stdlib_mailbox
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inboxlink.cli.arguments import AddConnection
from inboxlink.cli.data_output import escape, print_json, stderr_console
from inboxlink.models import MessageSummary

if TYPE_CHECKING:
    from rich.console import Console

    from inboxlink.mailbox import Mailbox

__all__ = ["EXPORT_COMMANDS", "add_export_parser", "mboxrd_quote", "read_index"]

#: ``>*From `` at a line start: quoted once more (mboxrd), so quoting can be undone exactly
_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)
_SIDECAR_SUFFIX = ".ids"


def add_export_parser(sub: Any, add_connection: AddConnection) -> None:
    """Register ``export`` on the sub-command parsers."""
    export = sub.add_parser(
        "export", help="export a folder to an mbox file (streamed, resumable)",
        description="Append every message of FOLDER to the mbox file PATH, oldest first. "
        "Run it again to add only what is new: exported ids are kept in PATH.ids.")
    add_connection(export)
    export.add_argument("folder", help="folder path, id or role (inbox, sent, archive …)")
    export.add_argument("mbox", metavar="PATH", help="the mbox file (created when missing)")
    export.add_argument("--json", action="store_true",
                        help="print a summary as JSON on stdout")


def mboxrd_quote(raw: bytes) -> bytes:
    """``raw`` with every ``>*From `` line start quoted once more (mboxrd), CRLF → LF."""
    return _FROM_LINE.sub(rb">\1", raw.replace(b"\r\n", b"\n"))


def read_index(path: Path) -> tuple[set[str], int | None]:
    """The ids already exported, and the mbox size recorded after the last one."""
    done: set[str] = set()
    size: int | None = None
    if not path.exists():
        return done, size
    for line in path.read_text(encoding="utf-8").splitlines():
        recorded, _, message_id = line.partition("\t")
        # A torn last line (the run stopped while writing it) is ignored: its message is
        # cut off below and exported again.
        if message_id and recorded.isdigit():
            done.add(message_id)
            size = int(recorded)
    return done, size


def _from_line(summary: MessageSummary) -> tuple[str, time.struct_time]:
    sender = summary.from_.email if summary.from_ and summary.from_.email else "MAILER-DAEMON"
    when = summary.received_at or summary.date
    stamp = time.gmtime(when.timestamp()) if when else time.gmtime()
    return sender, stamp


def _pending(mailbox: Mailbox, args: Any, done: set[str]) -> list[MessageSummary]:
    # Only summaries are listed up front (small); messages are fetched one by one later.
    summaries = [s for s in mailbox.iter_messages(args.folder) if s.id not in done]
    summaries.reverse()  # oldest first, as mail readers expect an mbox
    return summaries


def _progress(total: int) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("exporting"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=stderr_console(), transient=True,
                    disable=total == 0)


def _export(mailbox: Mailbox, args: Any, console: Console) -> int:
    path = Path(args.mbox)
    sidecar = Path(f"{args.mbox}{_SIDECAR_SUFFIX}")
    done, recorded = read_index(sidecar)
    if path.exists() and path.stat().st_size > (recorded or 0) and recorded is not None:
        # An interrupted run left part of a message after the last recorded one.
        with path.open("r+b") as fh:
            fh.truncate(recorded)
    folder = mailbox.folder(args.folder)
    pending = _pending(mailbox, args, done)
    box = stdlib_mailbox.mbox(str(path), create=True)
    exported = 0
    box.lock()
    try:
        with _progress(len(pending)) as progress, sidecar.open("a", encoding="utf-8") as index:
            task = progress.add_task("export", total=len(pending))
            for summary in pending:
                buffer = io.BytesIO()
                mailbox.fetch_to_file(summary.id, buffer)
                message = stdlib_mailbox.mboxMessage(mboxrd_quote(buffer.getvalue()))
                message.set_from(*_from_line(summary))
                box.add(message)
                box.flush()
                # The id is recorded only once its message is safely in the file.
                index.write(f"{path.stat().st_size}\t{summary.id}\n")
                index.flush()
                exported += 1
                progress.advance(task)
    finally:
        box.unlock()
        box.close()
    skipped = len(done)
    if args.json:
        print_json(console, {"folder": folder.path, "folder_id": folder.id, "path": str(path),
                             "exported": exported, "skipped": skipped,
                             "size": os.path.getsize(path)})
    else:
        stderr_console().print(f"[green]✓[/] exported {exported} message(s) from "
                               f"{escape(folder.path)} to {escape(str(path))}"
                               + (f" ({skipped} already there)" if skipped else ""))
    return 0


#: command name → function, for the command table in ``commands.py``
EXPORT_COMMANDS = {"export": _export}
