"""The ``inboxlink`` command: ``demo``, ``doctor``, ``folders``, ``ls``, ``show``, ``send``,
``sync-token``, ``changes``, ``watch``, ``search``, ``mark``, ``mv``, ``rm``, ``export``,
``sync``.

`main()` takes optional collaborators so tests (and embedding applications) can point
the commands at a prepared mailbox or DNS resolver without touching the network::

    main(["ls", "fake://alice@example.com"], connect=lambda url, **kw: my_mailbox)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from inboxlink import errors
from inboxlink.cli._output import RICH_MISSING
from inboxlink.cli.completion import (
    SHELLS,
    add_completion_option,
    enable_completion,
    print_completion,
)
from inboxlink.cli.credentials import add_secret_options

if TYPE_CHECKING:
    from rich.console import Console

    from inboxlink.mailbox import Mailbox

__all__ = ["ConnectFunction", "build_parser", "main"]

#: ``connect(url, **options) -> Mailbox``; `inboxlink.connect` unless injected
ConnectFunction = Callable[..., "Mailbox"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument("url", help="mailbox URL, e.g. imaps://alice@mail.example.com")
    group.add_argument("--smtp", metavar="URL", help="SMTP server for sending (smtp://host:587)")
    add_secret_options(group)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``inboxlink`` command."""
    parser = argparse.ArgumentParser(
        prog="inboxlink",
        description="Connect any mailbox through one typed interface. Passwords and tokens "
        "come from INBOXLINK_PASSWORD / INBOXLINK_ACCESS_TOKEN or a prompt, never the "
        "command line.",
    )
    from inboxlink import __version__

    parser.add_argument("--version", action="version", version=f"inboxlink {__version__}")
    add_completion_option(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("demo", help="the library's story on the in-memory fake server")

    folders = sub.add_parser("folders", help="list folders with their roles")
    _add_connection_options(folders)
    folders.add_argument("--json", action="store_true", help="print JSON (schema: docs/cli.md)")

    ls = sub.add_parser("ls", help="list messages in a folder, newest first")
    _add_connection_options(ls)
    ls.add_argument("folder", nargs="?", default="inbox", help="folder path, id or role")
    ls.add_argument("--limit", type=int, default=20, help="how many messages (default 20)")
    ls.add_argument("--json", action="store_true", help="print JSON (schema: docs/cli.md)")

    show = sub.add_parser("show", help="show one message")
    _add_connection_options(show)
    show.add_argument("id", help="message id as printed by 'ls'")
    output = show.add_mutually_exclusive_group()
    output.add_argument("--raw", action="store_true", help="print the raw RFC 5322 bytes")
    output.add_argument("--json", action="store_true", help="print JSON (schema: docs/cli.md)")

    send = sub.add_parser("send", help="send a message (the body is read from a file or stdin)")
    _add_connection_options(send)
    send.add_argument("--json", action="store_true", help="print the result as JSON")
    send.add_argument("--to", action="append", required=True, help="recipient (repeatable)")
    send.add_argument("--cc", action="append", default=[], help="Cc recipient (repeatable)")
    send.add_argument("--bcc", action="append", default=[], help="Bcc recipient (repeatable)")
    send.add_argument("--subject", required=True)
    send.add_argument("--body-file", metavar="PATH",
                      help="plain-text body ('-' for stdin); empty body when omitted")
    send.add_argument("--no-sent-copy", action="store_true", help="do not keep a copy in Sent")

    from inboxlink.cli.action_commands import add_action_parsers
    from inboxlink.cli.export_command import add_export_parser
    from inboxlink.cli.login_commands import add_login_parsers
    from inboxlink.cli.runner_command import add_runner_parser
    from inboxlink.cli.sync_commands import add_sync_parsers
    from inboxlink.doctor.cli import add_doctor_parser

    add_sync_parsers(sub, _add_connection_options)
    add_action_parsers(sub, _add_connection_options)
    add_export_parser(sub, _add_connection_options)
    add_runner_parser(sub)
    add_doctor_parser(sub)
    add_login_parsers(sub)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    connect: ConnectFunction | None = None,
    resolver: Any = None,
    console: Console | None = None,
) -> int:
    """Run the command line; returns the exit code.

    Args:
        argv: arguments without the program name (``sys.argv[1:]`` when ``None``).
        connect: replaces `inboxlink.connect()` (tests inject a prepared fake mailbox).
        resolver: a ``dns.resolver.Resolver``-like object for ``doctor`` (tests control DNS).
        console: a rich console to print to (default: stdout).
    """
    try:
        import rich  # noqa: F401
    except ImportError:
        print(RICH_MISSING, file=sys.stderr)
        return EXIT_ERROR

    parser = build_parser()
    enable_completion(parser)
    arguments = list(sys.argv[1:] if argv is None else argv)
    # Asked alone, --print-completion needs no command (the sub-command is required otherwise).
    if len(arguments) == 2 and arguments[0] == "--print-completion":
        shell = arguments[1]
        if shell not in SHELLS:
            parser.error(f"--print-completion: choose one of {', '.join(SHELLS)}")
        return print_completion(shell)
    args = parser.parse_args(arguments)

    from inboxlink.cli._output import make_console, print_error

    out = console if console is not None else make_console()
    if connect is None:
        import inboxlink

        connect = inboxlink.connect
    try:
        if args.command == "demo":
            from inboxlink.cli.demo import run_demo

            return run_demo(out)
        if args.command == "doctor":
            from inboxlink.doctor.cli import run_doctor_command

            return run_doctor_command(args, out, connect=connect, resolver=resolver)
        if args.command == "sync":
            from inboxlink.cli.runner_command import run_runner

            return run_runner(args, out, connect)
        from inboxlink.cli.login_commands import LOGIN_COMMANDS

        if args.command in LOGIN_COMMANDS:
            return LOGIN_COMMANDS[args.command](args, out)
        from inboxlink.cli import commands

        return commands.run(args, out, connect)
    except errors.InboxLinkError as exc:
        print_error(_error_console(args, out), exc)
        return EXIT_ERROR
    except KeyboardInterrupt:
        _error_console(args, out).print("interrupted")
        return 130


#: commands whose errors are part of what they show on stdout: the demo tells the library's
#: story (typed errors included); the doctor's report is its output
_ERRORS_ON_STDOUT = frozenset({"demo", "doctor"})


def _error_console(args: argparse.Namespace, out: Console) -> Console:
    """Where a command's errors go: stderr, since stdout is data a script or a file reads
    (``show --raw > message.eml``)."""
    from inboxlink.cli.data_output import stderr_console

    return out if args.command in _ERRORS_ON_STDOUT else stderr_console()
