"""Remedies spoken in the command line's terms.

Error remedies are written for the library (``pass access_token=``, ``verify_tls=False``,
``mailbox.folders()``). On the command line those words are wrong: the person types
options, not keyword arguments. `for_the_command_line()` rewrites a remedy through
one table, applied wherever the CLI prints an error, so every command says the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from inboxlink import errors

__all__ = ["CLI_TERMS", "cli_error", "for_the_command_line"]

#: a library phrase (regular expression) → what to type on the command line instead.
#: Longer, more specific phrases come first: the first match at a position wins.
CLI_TERMS: Mapping[str, str] = {
    r"url='https://mail\.example\.com/EWS/Exchange\.asmx'":
        "--ews-url https://mail.example.com/EWS/Exchange.asmx",
    r"verify_tls=False": "--insecure",
    r"ssl_context=": "--ca-file PEM",
    r"tls_minimum='TLSv1'\.?": "a lower TLS minimum (only from Python: tls_minimum='TLSv1')",
    r"access_token=": "--token-file PATH (or INBOXLINK_ACCESS_TOKEN)",
    # A self-renewing credential is what 'inboxlink login' keeps for the command line.
    r"credentials?=": "--token-file PATH, or sign in with 'inboxlink login'",
    r"(?:the credential's )?authenticate\(\)": "'inboxlink login'",
    r"password=": "--password-file PATH (or INBOXLINK_PASSWORD)",
    r"username=": "--username",
    r"\burl=": "--ews-url",
    r"sent_folder=": "--sent-folder",
    r"smtp=": "--smtp URL",
    r"(?:mailbox\.)?folders\(\)": "'inboxlink folders URL'",
    r"(?:mailbox\.)?list_messages\(\)": "'inboxlink ls URL FOLDER'",
    r"(?:mailbox\.)?sync_token\(\)": "token ('inboxlink sync-token URL FOLDER')",
    r"inboxlink\.connect\(\)": "the command again",
}

_PATTERN = re.compile("|".join(f"(?:{p})" for p in CLI_TERMS))
_COMPILED = tuple((re.compile(p), r) for p, r in CLI_TERMS.items())


def _replace(match: re.Match[str]) -> str:
    text = match.group(0)
    for pattern, replacement in _COMPILED:
        if pattern.fullmatch(text):
            return replacement
    return text  # pragma: no cover - every alternative of _PATTERN is in _COMPILED


def for_the_command_line(remedy: str) -> str:
    """``remedy`` with library keyword arguments replaced by command-line options."""
    return _PATTERN.sub(_replace, remedy)


def cli_error(error: errors.InboxLinkError) -> errors.InboxLinkError:
    """A copy of ``error`` whose remedy names command-line options (same class and fields).

    The original keeps its remedy: an application embedding `inboxlink.cli.main()`
    and catching the error still sees the library's words.
    """
    remedy = for_the_command_line(error.remedy)
    if remedy == error.remedy:
        return error
    import copy

    shown = copy.copy(error)
    shown.remedy = remedy
    return shown
