"""Shell completion for ``inboxlink`` through argcomplete (the optional ``completion`` extra).

Turn it on once per shell::

    eval "$(inboxlink --print-completion bash)"        # or zsh / fish; put it in ~/.bashrc
    # the same, with argcomplete's own tool:
    eval "$(register-python-argcomplete inboxlink)"

Sub-commands and options complete from the parser itself; a mailbox URL completes to the
known schemes (``imaps://`` …) and a folder to the roles every adapter understands.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from typing import Any

from inboxlink.models import FolderRole
from inboxlink.registry import known_schemes

__all__ = ["SHELLS", "add_completion_option", "enable_completion", "print_completion"]

SHELLS = ("bash", "zsh", "fish", "tcsh", "powershell")
_MISSING = ("Shell completion needs the 'argcomplete' package, which is not installed.\n"
            "Install it with:  pip install 'inboxlink[completion]'")


def add_completion_option(parser: argparse.ArgumentParser) -> None:
    """``--print-completion SHELL`` on the top-level parser."""
    parser.add_argument("--print-completion", metavar="SHELL", choices=SHELLS,
                        help="print the shell code that enables completion "
                        f"({', '.join(SHELLS)}), then exit")


def _url_completer(prefix: str, **_: Any) -> Iterable[str]:
    return [f"{scheme}://" for scheme in known_schemes() if f"{scheme}://".startswith(prefix)]


def _folder_completer(prefix: str, **_: Any) -> Iterable[str]:
    return [role.value for role in FolderRole if role.value.startswith(prefix)]


#: argument name → what it completes to
_COMPLETERS = {"url": _url_completer, "urls": _url_completer, "folder": _folder_completer}


def _attach(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:  # argparse keeps no public list of a parser's actions
        completer = _COMPLETERS.get(action.dest)
        if completer is not None:
            action.completer = completer  # type: ignore[attr-defined]  # argcomplete reads it
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _attach(sub)


def enable_completion(parser: argparse.ArgumentParser) -> None:
    """Answer a completion request from the shell (then exit), or do nothing.

    argcomplete only acts when the shell's completion hook set ``_ARGCOMPLETE``; without
    the package installed this is a no-op, so the command never depends on it.
    """
    try:
        import argcomplete
    except ImportError:
        return
    _attach(parser)
    argcomplete.autocomplete(parser)


def print_completion(shell: str) -> int:
    """Print the code that registers completion for ``inboxlink`` in ``shell``."""
    try:
        from argcomplete.shell_integration import shellcode
    except ImportError:
        print(_MISSING, file=sys.stderr)
        return 1
    sys.stdout.write(shellcode(["inboxlink"], shell=shell))
    return 0
