"""Terminal output shared by every command: the console and how a typed error is shown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inboxlink import errors

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["RICH_MISSING", "error_panel", "make_console", "print_error"]

RICH_MISSING = (
    "The inboxlink command needs the 'rich' package, which is not installed.\n"
    "Install the command-line extra with:  pip install 'inboxlink[cli]'"
)


def make_console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr); rich decides colours and width from the terminal."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def error_panel(error: errors.InboxLinkError) -> object:
    """A rich renderable: the error's class, message, raw code and remedy."""
    from rich.panel import Panel
    from rich.text import Text

    body = Text()
    body.append(f"{type(error).__name__}", style="bold red")
    body.append(f"  {error.message}\n")
    if error.provider or error.code:
        where = ": ".join(p for p in (error.provider, error.code) if p)
        body.append("raw: ", style="dim")
        body.append(f"{where}\n", style="dim")
    body.append("remedy: ", style="bold")
    body.append(error.remedy)
    if error.retryable:
        body.append("\n(retryable)", style="yellow")
    return Panel(body, title="error", border_style="red", expand=False)


def print_error(console: Console, error: errors.InboxLinkError) -> None:
    """Show a typed error with its remedy (never a traceback), the remedy naming
    command-line options rather than the library's keyword arguments."""
    from inboxlink.cli.remedies import cli_error

    console.print(error_panel(cli_error(error)))
