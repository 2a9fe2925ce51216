"""``search``, ``mark``, ``mv`` and ``rm``: finding mail and acting on it from the shell.

Ids come from ``ls``/``search`` (``search --ids`` prints one per line); an id of ``-`` reads
more ids from standard input, so ``inboxlink search … --ids | inboxlink mark URL - --read``
works. A bulk action acts on every id that exists and names the others: exit code 4.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from inboxlink import errors
from inboxlink.cli._output import print_error
from inboxlink.cli.arguments import AddConnection, positive_int
from inboxlink.cli.data_output import (
    EXIT_PARTIAL,
    escape,
    print_data,
    print_json,
    stderr_console,
    summary_json,
)
from inboxlink.query import SearchQuery

if TYPE_CHECKING:
    from rich.console import Console

    from inboxlink.mailbox import Mailbox
    from inboxlink.models import MessageSummary

__all__ = ["ACTION_COMMANDS", "add_action_parsers"]

_PAGE = 200

#: the SearchQuery fields ``search`` has an option for (each option's dest is the field name)
_QUERY_FIELDS = ("from_", "to", "subject", "text", "since", "before", "unread", "flagged",
                 "has_attachments", "message_id")
#: the word shown for each (flag, value) that mark sets
_MARK_WORDS: Mapping[tuple[str, bool], str] = {
    ("read", True): "read", ("read", False): "unread",
    ("flagged", True): "flagged", ("flagged", False): "unflagged",
}


def _date(text: str) -> dt.datetime:
    """``2026-11-01`` (midnight UTC) or an ISO 8601 date and time."""
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM]") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)



def _add_pair(parser: argparse.ArgumentParser, dest: str, yes: str, no: str,
              yes_help: str, no_help: str) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(yes, dest=dest, action="store_const", const=True, help=yes_help)
    group.add_argument(no, dest=dest, action="store_const", const=False, help=no_help)


def add_action_parsers(sub: Any, add_connection: AddConnection) -> None:
    """Register ``search``, ``mark``, ``mv`` and ``rm`` on the main parser's sub-parsers."""
    search = sub.add_parser(
        "search", help="find messages in a folder, newest first",
        description="Find messages matching every option given (AND); text options are "
        "case-insensitive 'contains' matches.")
    add_connection(search)
    search.add_argument("folder", nargs="?", default="inbox", help="folder path, id or role")
    search.add_argument("--from", dest="from_", metavar="TEXT", help="sender contains TEXT")
    search.add_argument("--to", metavar="TEXT", help="a To/Cc recipient contains TEXT")
    search.add_argument("--subject", metavar="TEXT", help="subject contains TEXT")
    search.add_argument("--text", metavar="TEXT", help="subject or body contains TEXT")
    search.add_argument("--since", type=_date, metavar="DATE", help="received on or after")
    search.add_argument("--before", type=_date, metavar="DATE", help="received before")
    _add_pair(search, "unread", "--unread", "--read", "only unread", "only read")
    _add_pair(search, "flagged", "--flagged", "--unflagged", "only flagged", "only unflagged")
    _add_pair(search, "has_attachments", "--has-attachments", "--no-attachments",
              "only with attachments", "only without attachments")
    search.add_argument("--message-id", metavar="ID", help="the message with this Message-ID")
    search.add_argument("--limit", type=positive_int, default=50,
                        help="at most this many messages (default 50)")
    shape = search.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print one JSON document")
    shape.add_argument("--ids", action="store_true", help="print only ids, one per line")

    mark = sub.add_parser("mark", help="mark messages read/unread, flagged/unflagged")
    add_connection(mark)
    mark.add_argument("ids", nargs="+", metavar="ID", help="message ids ('-' reads stdin)")
    _add_pair(mark, "read", "--read", "--unread", "mark read", "mark unread")
    _add_pair(mark, "flagged", "--flagged", "--unflagged", "flag (star)", "clear the flag")
    mark.add_argument("--json", action="store_true", help="print one JSON document")

    mv = sub.add_parser("mv", help="move messages into a folder")
    add_connection(mv)
    mv.add_argument("ids", nargs="+", metavar="ID", help="message ids ('-' reads stdin)")
    mv.add_argument("target", metavar="FOLDER", help="folder path, id or role (archive …)")
    mv.add_argument("--json", action="store_true", help="print one JSON document")

    rm = sub.add_parser("rm", help="delete messages (to Trash unless --permanent)")
    add_connection(rm)
    rm.add_argument("ids", nargs="+", metavar="ID", help="message ids ('-' reads stdin)")
    rm.add_argument("--permanent", action="store_true",
                    help="remove for good instead of moving to Trash")
    rm.add_argument("--json", action="store_true", help="print one JSON document")


def _query(args: Any) -> SearchQuery:
    return SearchQuery(**{field: getattr(args, field) for field in _QUERY_FIELDS})


def _query_json(query: SearchQuery) -> dict[str, Any]:
    return {("from" if k == "from_" else k): (v.isoformat() if isinstance(v, dt.datetime) else v)
            for k, v in attrs.asdict(query).items() if v is not None}


def _search(mailbox: Mailbox, args: Any, console: Console) -> int:
    from rich.progress import Progress

    folder = mailbox.folder(args.folder)
    query = _query(args)
    found: list[MessageSummary] = []
    cursor: str | None = None
    # Progress on stderr, and only when several pages are needed (it would flicker otherwise).
    with Progress(console=stderr_console(), transient=True,
                  disable=args.limit <= _PAGE) as progress:
        task = progress.add_task(f"searching {folder.path}", total=args.limit)
        while len(found) < args.limit:
            page = mailbox.search(folder, query, limit=min(_PAGE, args.limit - len(found)),
                                  cursor=cursor)
            found.extend(page.items)
            progress.update(task, completed=len(found))
            cursor = page.next_cursor
            if not cursor:
                break
    if args.json:
        print_json(console, {"folder": folder.path, "folder_id": folder.id,
                             "query": _query_json(query),
                             "messages": [summary_json(s) for s in found],
                             "more": cursor is not None})
    elif args.ids:
        for summary in found:
            print_data(console, summary.id)
    else:
        from rich.table import Table
        from rich.text import Text

        table = Table("id", "date", "from", "subject", "read",
                      title=f"{escape(folder.path)}: {len(found)} found")
        for s in found:
            when = s.received_at or s.date
            # Cells are Text, not markup: a subject like "[URGENT] …" is shown as sent.
            table.add_row(Text(s.id), when.strftime("%Y-%m-%d %H:%M") if when else "",
                          Text(str(s.from_ or "")), Text(s.subject or ""),
                          "yes" if s.seen else "no")
        console.print(table)
    if cursor:
        stderr_console().print(f"[dim]more messages match: raise --limit (now {args.limit})[/]")
    return 0


def _ids(args: Any) -> list[str]:
    """The ids given, with ``-`` replaced by the non-empty lines of standard input."""
    ids: list[str] = []
    for value in args.ids:
        if value == "-":
            ids.extend(line.strip() for line in sys.stdin if line.strip())
        else:
            ids.append(value)
    if not ids:
        raise errors.ConfigurationError("No message ids were given.",
                                        remedy="Pass ids as printed by 'ls' or 'search --ids'.")
    return list(dict.fromkeys(ids))


def _finish(console: Console, args: Any, report: dict[str, Any], missing: list[str],
            done: str) -> int:
    """Print the outcome: JSON on stdout, or a confirmation on stderr; missing ids → 4."""
    report["missing"] = missing
    if args.json:
        print_json(console, report)
    err = stderr_console()
    if missing:
        print_error(err, errors.MessageNotFound(missing=missing))
        return EXIT_PARTIAL
    if not args.json:
        err.print(f"[green]✓[/] {escape(done)}")
    return 0


def _mark(mailbox: Mailbox, args: Any, console: Console) -> int:
    changes = {flag: getattr(args, flag) for flag in ("read", "flagged")
               if getattr(args, flag) is not None}
    if not changes:
        raise errors.ConfigurationError(
            "Nothing to mark.", remedy="Pass --read, --unread, --flagged or --unflagged.")
    ids = _ids(args)
    actions = {"read": mailbox.set_read, "flagged": mailbox.set_flagged}
    missing: list[str] = []
    for flag, value in changes.items():
        try:
            actions[flag](ids, value)
        except errors.MessageNotFound as exc:
            # The others were marked; a missing id stays missing for the next flag too.
            missing.extend(m for m in exc.missing if m not in missing)
    done = [i for i in ids if i not in missing]
    words = ", ".join(_MARK_WORDS[item] for item in changes.items())
    return _finish(console, args, {"marked": done, "set": changes}, missing,
                   f"marked {len(done)} message(s) {words}")


def _mv(mailbox: Mailbox, args: Any, console: Console) -> int:
    ids = _ids(args)
    target = mailbox.folder(args.target)
    try:
        moved = mailbox.move(ids, target)
        missing: list[str] = []
    except errors.MessageNotFound as exc:
        # move() is never retried: what it did is in exc.result, reported as done.
        moved = dict(exc.result or {})
        missing = list(exc.missing)
    if not args.json:
        for old, new in moved.items():
            print_data(console, f"{old}  {new or '-'}")
    return _finish(console, args, {"folder": target.path, "folder_id": target.id,
                                   "moved": moved}, missing,
                   f"moved {len(moved)} message(s) to {target.path}")


def _rm(mailbox: Mailbox, args: Any, console: Console) -> int:
    ids = _ids(args)
    try:
        mailbox.delete(ids, permanent=args.permanent)
        missing: list[str] = []
    except errors.MessageNotFound as exc:
        missing = list(exc.missing)
    done = [i for i in ids if i not in missing]
    where = "for good" if args.permanent else "to Trash"
    return _finish(console, args, {"deleted": done, "permanent": args.permanent}, missing,
                   f"deleted {len(done)} message(s) {where}")


ACTION_COMMANDS: Mapping[str, Callable[[Any, Any, Any], int]] = {
    "search": _search, "mark": _mark, "mv": _mv, "rm": _rm,
}
