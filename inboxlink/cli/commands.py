"""The everyday commands: ``folders``, ``ls``, ``show``, ``send``.

Like the data commands, they print data on stdout (a table, or ``--json`` in the schema of
`inboxlink.cli.data_output`) and errors, warnings and progress on stderr, so
``inboxlink show URL ID --raw > message.eml`` never writes an error into the file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from inboxlink import errors
from inboxlink.cli.action_commands import ACTION_COMMANDS
from inboxlink.cli.credentials import connect_options, display_url
from inboxlink.cli.data_output import (
    folder_json,
    message_json,
    print_json,
    send_json,
    stderr_console,
    summary_json,
)
from inboxlink.cli.export_command import EXPORT_COMMANDS
from inboxlink.cli.sync_commands import SYNC_COMMANDS
from inboxlink.cli.urls import check_url
from inboxlink.models import Message, MessageSummary, OutgoingMessage

if TYPE_CHECKING:
    from rich.console import Console

    from inboxlink.mailbox import Mailbox

__all__ = ["DATA_COMMANDS", "run"]

#: listings longer than this show a progress bar while pages arrive
PROGRESS_THRESHOLD = 200
_PAGE = 200


def _folders(mailbox: Mailbox, args: Any, console: Console) -> int:
    from rich.table import Table

    if args.json:
        print_json(console, {"folders": [folder_json(f) for f in mailbox.folders()]})
        return 0

    table = Table("path", "id", "role", "found by", "total", "unread")
    for folder in mailbox.folders():
        table.add_row(folder.path, folder.id, str(folder.role or ""),
                      str(folder.role_source or ""),
                      "" if folder.total is None else str(folder.total),
                      "" if folder.unread is None else str(folder.unread))
    console.print(table)
    return 0


def _ls(mailbox: Mailbox, args: Any, console: Console) -> int:
    from rich.progress import Progress
    from rich.table import Table

    if args.limit < 1:
        raise errors.ConfigurationError("--limit must be at least 1.",
                                        remedy="Pass --limit 1 or more.")
    folder = mailbox.folder(args.folder)
    summaries: list[MessageSummary] = []
    cursor: str | None = None
    # A progress bar only helps when several pages are needed; it would flicker otherwise.
    with Progress(console=stderr_console(), transient=True,
                  disable=args.limit <= PROGRESS_THRESHOLD) as progress:
        task = progress.add_task(f"listing {folder.path}", total=args.limit)
        while len(summaries) < args.limit:
            page = mailbox.list_messages(folder, limit=min(_PAGE, args.limit - len(summaries)),
                                         cursor=cursor)
            summaries.extend(page.items)
            progress.update(task, completed=len(summaries))
            cursor = page.next_cursor
            if not cursor:
                break
    if args.json:
        print_json(console, {"folder": folder.path, "folder_id": folder.id,
                             "messages": [summary_json(s) for s in summaries],
                             "more": bool(cursor)})
        return 0
    if not summaries and mailbox.provider == "fake":
        # Each run of the command starts a new in-memory server: an empty fake is expected.
        stderr_console().print("[dim]fake:// mailboxes live in memory and start empty in "
                               "each process; 'inboxlink demo' shows one with mail.[/]")
    table = Table("id", "date", "from", "subject", title=f"{folder.path} ({len(summaries)})")
    for summary in summaries:
        table.add_row(summary.id, summary.date.strftime("%Y-%m-%d %H:%M") if summary.date else "",
                      str(summary.from_ or ""), summary.subject or "")
    console.print(table)
    if cursor:
        stderr_console().print(f"[dim]more messages: raise --limit (now {args.limit})[/]")
    return 0


def _show(mailbox: Mailbox, args: Any, console: Console) -> int:
    message: Message = mailbox.fetch(args.id)
    if args.raw:
        # Raw bytes go straight to stdout so they can be piped/saved exactly.
        sys.stdout.flush()
        sys.stdout.buffer.write(message.raw)
        sys.stdout.buffer.flush()
        return 0
    if args.json:
        print_json(console, message_json(message))
        return 0
    from rich.table import Table

    headers = Table(show_header=False, box=None)
    for name, value in (("From", message.from_), ("To", ", ".join(map(str, message.to))),
                        ("Cc", ", ".join(map(str, message.cc))), ("Date", message.date),
                        ("Subject", message.subject), ("Message-ID", message.message_id),
                        ("In-Reply-To", message.in_reply_to),
                        ("References", " ".join(message.references))):
        if value:
            headers.add_row(f"[bold]{name}[/]", str(value))
    console.print(headers)
    for attachment in message.attachments:
        console.print(f"[dim]attachment: {attachment.filename} "
                      f"({attachment.content_type}, {attachment.size} bytes)[/]")
    console.print()
    console.print(message.text if message.text is not None else "[dim](no plain-text body)[/]",
                  markup=False, highlight=False)
    return 0


def _send(mailbox: Mailbox, args: Any, console: Console) -> int:
    body = ""
    if args.body_file == "-":
        body = sys.stdin.read()
    elif args.body_file:
        with open(args.body_file, encoding="utf-8") as fh:
            body = fh.read()
    result = mailbox.send(OutgoingMessage(to=args.to, cc=args.cc, bcc=args.bcc,
                                          subject=args.subject, text=body),
                          save_copy=not args.no_sent_copy)
    if args.json:
        print_json(console, send_json(result))
        return 0
    console.print(f"[green]✓[/] sent {result.message_id}")
    where = f" into {result.sent_folder_id}" if result.sent_folder_id else ""
    console.print(f"  sent copy: {result.sent_copy}{where}")
    for address, reply in result.refused.items():
        console.print(f"  [yellow]![/] refused {address}: {reply}")
    if result.error is not None:
        # The message went out: warn loudly but do not report a failed send.
        from inboxlink.cli.remedies import for_the_command_line

        warn = stderr_console()
        warn.print(f"  [yellow]![/] {result.error.message}", markup=True)
        warn.print(f"    remedy: {for_the_command_line(result.error.remedy)}")
    return 0


#: commands whose stdout is data only (errors and progress go to stderr)
DATA_COMMANDS: Mapping[str, Callable[[Any, Any, Any], int]] = {
    **SYNC_COMMANDS, **ACTION_COMMANDS, **EXPORT_COMMANDS,
}

_COMMANDS: Mapping[str, Callable[[Any, Any, Any], int]] = {
    "folders": _folders, "ls": _ls, "show": _show, "send": _send, **DATA_COMMANDS,
}


def run(args: Any, console: Console, connect: Callable[..., Mailbox]) -> int:
    """Connect with the parsed arguments and run one command on the mailbox."""
    # A URL that cannot work fails before anyone is asked for a password.
    check_url(args.url)
    options = connect_options(args)
    try:
        # A password typed into the URL travels as password= only, never inside the URL.
        mailbox = connect(display_url(args.url), **options)
    except TypeError as exc:
        # An adapter that does not take an option (a password for fake://) is a usage
        # mistake, reported like any other; the option's value is never shown.
        raise errors.ConfigurationError(
            f"This adapter does not accept one of the options given ({', '.join(options)}).",
            remedy="Leave out the options this kind of mailbox does not use.") from exc
    with mailbox:
        return _COMMANDS[args.command](mailbox, args, console)
