"""``inboxlink sync``: the embedded sync runner from the shell.

Keeps every mailbox URL given current with `inboxlink.sync.Runner`: tokens in a
SQLite file (or Redis), each batch handed to ``--handler module:function`` — or printed as
one JSON line per batch on stdout — and the token stored only after the handler returned.
Round reports, re-syncs and failures go to stderr.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from inboxlink import errors
from inboxlink.cli.arguments import positive_float, positive_int
from inboxlink.cli.credentials import add_secret_options, connect_options, display_url
from inboxlink.cli.data_output import batch_json, print_json, stderr_console

if TYPE_CHECKING:
    from rich.console import Console

    from inboxlink.changes import ChangeSet
    from inboxlink.mailbox import Mailbox
    from inboxlink.sync import Handler

__all__ = ["add_runner_parser", "run_runner"]


def add_runner_parser(sub: Any) -> None:
    """Register ``sync`` on the main parser's sub-parsers."""
    parser = sub.add_parser(
        "sync", help="keep mailboxes current and hand every change to a handler",
        description="Keep every URL's folders current: the first round takes a baseline, "
        "later rounds hand each batch of changes to --handler (or print it as a JSON line), "
        "storing the token only after the handler returned (at least once).")
    parser.add_argument("urls", nargs="+", metavar="URL", help="mailbox URLs")
    parser.add_argument("--store", metavar="PATH", default="inboxlink-sync.db",
                        help="SQLite file keeping the tokens (default inboxlink-sync.db)")
    parser.add_argument("--redis", metavar="URL", help="keep the tokens in Redis instead")
    parser.add_argument("--handler", metavar="MODULE:FUNCTION",
                        help="called with (key, batch); default: print a JSON line per batch")
    parser.add_argument("--folder", action="append", metavar="FOLDER",
                        help="folder path, id or role to keep (repeatable; default inbox)")
    parser.add_argument("--interval", type=positive_float, default=30.0, metavar="S",
                        help="seconds between rounds (default 30)")
    parser.add_argument("--rounds", type=positive_int, metavar="N",
                        help="stop after N rounds (default: run until interrupted)")
    parser.add_argument("--workers", type=positive_int, default=8,
                        help="mailboxes synced at once (default 8)")
    parser.add_argument("--smtp", metavar="URL", help=argparse.SUPPRESS)
    add_secret_options(parser)


def _load_handler(spec: str) -> Handler:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise errors.ConfigurationError(
            f"--handler {spec!r} is not MODULE:FUNCTION.", code="handler",
            remedy="Name an importable function, e.g. --handler myapp.mail:on_changes.")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise errors.ConfigurationError(
            f"--handler {spec!r} cannot be imported: {type(exc).__name__}.", code="handler",
            remedy="Check the module is on PYTHONPATH and defines that function.") from exc
    if not callable(found):
        raise errors.ConfigurationError(f"--handler {spec!r} is not callable.", code="handler",
                                        remedy="Name a function taking (key, batch).")
    handler: Handler = found
    return handler


def _printing_handler(console: Console) -> Handler:
    def handle(key: str, batch: ChangeSet) -> None:
        print_json(console, {"mailbox": key, **batch_json(batch)})

    return handle


def run_runner(args: Any, console: Console, connect: Callable[..., Mailbox]) -> int:
    """Run the ``sync`` command; returns the exit code."""
    from inboxlink.sync import RedisStore, Runner, SQLiteStore

    err = stderr_console()
    # Secrets are gathered once per URL, up front, so a prompt never interrupts a round.
    options: dict[str, dict[str, Any]] = {}
    for url in args.urls:
        one = copy.copy(args)
        one.url = url
        options[display_url(url)] = connect_options(one)

    def resolver(key: str) -> Mailbox:
        return connect(key, **options[key])

    store: Any = RedisStore(args.redis) if args.redis else SQLiteStore(args.store)
    handler = _load_handler(args.handler) if args.handler else _printing_handler(console)
    runner = Runner(
        store=store, resolver=resolver, handler=handler, workers=args.workers,
        on_resync=lambda key, folder: err.print(
            f"[yellow]![/] {key} {folder}: token expired; re-baselined, list it again"),
        on_error=lambda key, folder, exc: err.print(f"[red]✗[/] {key} {folder}: {exc}",
                                                    markup=True, highlight=False),
    )
    for key in options:
        runner.add(key, folders=args.folder or ["inbox"])
    rounds = 0
    try:
        while args.rounds is None or rounds < args.rounds:
            started = time.monotonic()
            report = runner.run_once()
            rounds += 1
            err.print(f"round {rounds}: {report.batches} batch(es), {report.changes} change(s), "
                      f"{report.baselines} baseline(s), {len(report.failures)} failure(s)")
            if args.rounds is not None and rounds >= args.rounds:
                break
            time.sleep(max(0.0, args.interval - (time.monotonic() - started)))
    finally:
        runner.close()
    return 0
