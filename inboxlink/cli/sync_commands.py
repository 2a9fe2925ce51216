"""``sync-token``, ``changes`` and ``watch``: keeping up with a folder from the shell.

A token is printed on a line of its own (the last line of ``changes``), so a script can keep
it with ``tail -n 1`` and pass it back with ``--since``; ``--json`` prints it in the document.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from inboxlink import errors
from inboxlink.cli._output import print_error
from inboxlink.cli.arguments import AddConnection, positive_float, positive_int
from inboxlink.cli.data_output import (
    EXIT_TOKEN_EXPIRED,
    changes_json,
    escape,
    hint_json,
    print_data,
    print_json,
    stderr_console,
    summary_line,
)

if TYPE_CHECKING:
    from rich.console import Console

    from inboxlink.changes import ChangeSet
    from inboxlink.mailbox import Mailbox
    from inboxlink.models import Folder

__all__ = ["SYNC_COMMANDS", "add_sync_parsers"]


def add_sync_parsers(sub: Any, add_connection: AddConnection) -> None:
    """Register ``sync-token``, ``changes`` and ``watch`` on the main parser's sub-parsers."""
    token = sub.add_parser(
        "sync-token", help="print a token for the folder's current state",
        description="Print a sync token for FOLDER's current state; pass it to 'changes "
        "--since' later to learn what changed meanwhile.")
    add_connection(token)
    token.add_argument("folder", nargs="?", default="inbox", help="folder path, id or role")
    token.add_argument("--json", action="store_true", help="print one JSON document")

    changes = sub.add_parser(
        "changes", help="what changed in a folder since a sync token",
        description="Print the messages added, updated and removed since TOKEN, then the "
        "next token on a line of its own. Exit code: 0 done; 1 failed; 3 the token expired "
        "(take a new one with sync-token and list the folder again).")
    add_connection(changes)
    changes.add_argument("folder", nargs="?", default="inbox", help="folder path, id or role")
    changes.add_argument("--since", required=True, metavar="TOKEN",
                         help="a token from sync-token or from the previous changes")
    changes.add_argument("--limit", type=positive_int, default=500,
                         help="at most this many changes (default 500)")
    changes.add_argument("--json", action="store_true", help="print one JSON document")

    watch = sub.add_parser(
        "watch", help="print a line whenever the folder changes",
        description="Wait for changes in FOLDER (IMAP IDLE, EWS streaming, or polling) and "
        "print one line per hint until --timeout, --count or Ctrl-C.")
    add_connection(watch)
    watch.add_argument("folder", nargs="?", default="inbox", help="folder path, id or role")
    watch.add_argument("--timeout", type=positive_float, metavar="S",
                       help="stop after this many seconds (default: never)")
    watch.add_argument("--count", type=positive_int, metavar="N",
                       help="stop after N hints")
    watch.add_argument("--changes", action="store_true",
                       help="after each hint, print what changed (the ChangeSet)")
    watch.add_argument("--json", action="store_true", help="print JSON Lines")


def _sync_token(mailbox: Mailbox, args: Any, console: Console) -> int:
    folder = mailbox.folder(args.folder)
    token = mailbox.sync_token(folder)
    if args.json:
        print_json(console, {"folder": folder.path, "folder_id": folder.id, "token": token})
    else:
        print_data(console, token)
    return 0


def _print_batch(console: Console, folder: Folder, batch: ChangeSet, as_json: bool) -> None:
    if as_json:
        print_json(console, {"event": "changes", **changes_json(folder, batch)})
        return
    for mark, items in (("+", batch.added), ("~", batch.updated)):
        for item in items:
            print_data(console, summary_line(mark, item))
    for removed in batch.removed:
        print_data(console, f"-  {removed}")


def _changes(mailbox: Mailbox, args: Any, console: Console) -> int:
    folder = mailbox.folder(args.folder)
    try:
        batch = mailbox.changes(folder, args.since, limit=args.limit)
    except errors.SyncTokenExpired as exc:
        # Its own exit code: a script must re-baseline, which a plain failure does not say.
        print_error(stderr_console(), _for_the_shell(exc, args))
        return EXIT_TOKEN_EXPIRED
    if args.json:
        print_json(console, changes_json(folder, batch))
        return 0
    _print_batch(console, folder, batch, as_json=False)
    # The token last and alone, so `tail -n 1` keeps it.
    print_data(console, batch.token)
    if batch.more:
        stderr_console().print("[yellow]more changes are waiting: run again with this token[/]")
    return 0


def _for_the_shell(exc: errors.SyncTokenExpired, args: Any) -> errors.SyncTokenExpired:
    """The same error with a remedy in commands rather than Python calls."""
    return errors.SyncTokenExpired(
        exc.message, provider=exc.provider, code=exc.code,
        remedy=f"Take a new token with 'inboxlink sync-token URL {args.folder}', then list "
        "the folder again ('inboxlink ls') to catch up on what changed meanwhile.")


def _catch_up(mailbox: Mailbox, folder: Folder, token: str, console: Console,
              as_json: bool) -> str:
    """Print every change since ``token`` (all batches); returns the new token."""
    while True:
        try:
            batch = mailbox.changes(folder, token)
        except errors.SyncTokenExpired as exc:
            # Nothing to replay from: say so and carry on from now.
            stderr_console().print(f"[yellow]![/] {escape(exc.message)} Continuing from now; "
                                   "run 'inboxlink ls' to see what changed meanwhile.")
            return mailbox.sync_token(folder)
        _print_batch(console, folder, batch, as_json)
        token = batch.token
        if not batch.more:
            return token


def _watch(mailbox: Mailbox, args: Any, console: Console) -> int:
    folder = mailbox.folder(args.folder)
    # Taken before watching starts, so a change during the first wait is not lost.
    token = mailbox.sync_token(folder) if args.changes else ""
    stderr_console().print(f"[dim]watching {escape(folder.path)}; Ctrl-C to stop[/]")
    watch = mailbox.watch(folder, timeout=args.timeout)
    for seen, hint in enumerate(watch, start=1):
        if args.json:
            print_json(console, hint_json(folder, hint))
        else:
            # Local time for a person at a terminal; --json carries the exact UTC instant.
            at = hint.at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
            print_data(console, f"{at}  {folder.path}  changed ({hint.reason})")
        if args.changes:
            token = _catch_up(mailbox, folder, token, console, args.json)
        if args.count is not None and seen >= args.count:
            watch.stop()
    return 0


SYNC_COMMANDS: Mapping[str, Callable[[Any, Any, Any], int]] = {
    "sync-token": _sync_token, "changes": _changes, "watch": _watch,
}
