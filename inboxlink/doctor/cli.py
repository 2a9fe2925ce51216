"""The ``doctor`` sub-command: arguments, live progress, and the printed or JSON report."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import attrs

from inboxlink.cli.credentials import add_secret_options
from inboxlink.cli.remedies import for_the_command_line
from inboxlink.doctor.checks import diagnose
from inboxlink.doctor.options import DoctorOptions
from inboxlink.doctor.report import Check, Report, Status
from inboxlink.secrets import display_url

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["add_doctor_parser", "run_doctor_command"]

_STYLES = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "red", Status.SKIP: "dim"}


def add_doctor_parser(sub: Any) -> None:
    """Register ``inboxlink doctor`` on the sub-parsers of the main parser."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "doctor", help="check step by step whether a mailbox can be connected",
        description="Check whether a mailbox can be connected, step by step, and say what to "
        "fix. Exit code: 0 it can; 1 a check failed; 3 nothing failed but no login was tried.")
    parser.add_argument("url", metavar="ADDRESS-or-URL",
                        help="alice@example.com (provider detected by MX) or a mailbox URL")
    parser.add_argument("--imap", metavar="URL", help="IMAP server to check (imaps://host:993)")
    parser.add_argument("--smtp", metavar="URL", help="SMTP server to check (smtp://host:587)")
    parser.add_argument("--api-url", metavar="URL",
                        help="Graph/Gmail API root instead of the public one (national cloud, "
                        "local emulator)")
    parser.add_argument("--send-test", metavar="BCC-ADDRESS",
                        help="send a test message (Bcc to this address) and check the copy")
    parser.add_argument("--allow-courier", action="store_true",
                        help="accept a Courier-IMAP server, as connect(..., allow_courier=True) "
                        "does (refused by default)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per network step")
    parser.add_argument("--dns-timeout", type=float, default=5.0, metavar="SECONDS",
                        help="seconds per DNS look-up (default 5, at most --timeout); a DNS "
                        "that does not answer costs this once")
    parser.add_argument("--json", action="store_true", help="print a machine-readable report")
    add_secret_options(parser)


def _options(args: Any) -> DoctorOptions:
    from inboxlink.auth.saved import saved_sign_in
    from inboxlink.secrets import gather_secrets, prompt_secret

    extra = {key: value for key, value in (("username", args.username),
                                           ("sent_folder", args.sent_folder),
                                           ("url", args.ews_url),
                                           ("allow_courier", args.allow_courier)) if value}
    secrets = gather_secrets(args, args.url)
    # No secret given but `inboxlink login URL` saved a sign-in: log in with it, never ask.
    saved = {} if secrets else saved_sign_in(args.url)
    extra.update(saved)
    return DoctorOptions(imap_url=args.imap, smtp_url=args.smtp, ews_url=args.ews_url,
                         api_url=args.api_url,
                         ca_file=args.ca_file, insecure=args.insecure, timeout=args.timeout,
                         dns_timeout=min(args.dns_timeout, args.timeout),
                         send_test=args.send_test, connect_options=extra,
                         secrets=secrets,
                         ask_secret=None if saved else (
                             lambda kind, url: prompt_secret(args, kind, url)))


def _line(check: Check) -> str:
    from rich.markup import escape

    style = _STYLES[check.status]
    label = check.stage if check.name == check.stage else f"{check.stage} {check.name}"
    text = f"[{style}]{check.status.symbol}[/] [bold]{escape(label)}[/]  {escape(check.detail)}"
    if check.error is not None and check.status in (Status.FAIL, Status.WARN):
        text += f"\n    [{style}]{type(check.error).__name__}[/]"
        if check.error.code:
            text += f" [dim]({escape(check.error.code)})[/]"
        text += f" → {escape(for_the_command_line(check.error.remedy))}"
    return text


def _summary(report: Report) -> str:
    if report.connectable:
        return "[bold green]✓ This mailbox can be connected.[/]"
    if report.connectable is None:
        return ("[bold yellow]! Nothing failed, but the login was not tried: "
                "give a password or token to finish the check.[/]")
    failed = sum(1 for c in report.checks if c.status is Status.FAIL)
    return f"[bold red]✗ This mailbox cannot be connected yet: {failed} check(s) failed.[/]"


def run_doctor_command(args: Any, console: Console, *, connect: Any, resolver: Any) -> int:
    """Run the checks, printing each as it finishes (or one JSON report); the exit code."""
    options = _options(args)
    if args.json:
        report = diagnose(args.url, options, connect=connect, resolver=resolver)
        # Plain print: rich would wrap long lines and break the JSON.
        console.file.write(report.to_json() + "\n")
        return report.exit_code

    console.print(f"[bold]inboxlink doctor[/] {display_url(args.url)}")
    with console.status("starting", spinner="dots") as status:
        ask = options.ask_secret

        def ask_without_spinner(kind: str, url: str) -> str | None:
            # A spinner redrawing over the prompt would garble what the person types.
            status.stop()
            try:
                return ask(kind, url) if ask else None
            finally:
                status.start()

        options = attrs.evolve(options, ask_secret=ask_without_spinner)
        report = diagnose(
            args.url, options, connect=connect, resolver=resolver,
            on_check=lambda check: console.print(_line(check)),
            on_progress=lambda text: status.update(f"{text} …"),
        )
    console.print()
    console.print(_summary(report))
    return report.exit_code
