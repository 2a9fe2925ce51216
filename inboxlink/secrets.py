"""Where passwords and tokens come from when a person (not an application) connects.

Used by the command line and the doctor alike, so it lives in the core, not in ``cli/``.
Order: a password in the URL itself, a file named by an option (``--password-file`` /
``--token-file``, ``-`` for stdin), ``INBOXLINK_PASSWORD`` / ``INBOXLINK_ACCESS_TOKEN``,
then an interactive prompt (``getpass``, never echoed). Secrets are never put back into a
URL that is shown: `display_url` strips them.

Which secret a URL needs is read from the one table of built-in adapters
(`inboxlink.registry.BUILTIN_ADAPTERS`).
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from inboxlink import registry

__all__ = ["PASSWORD_ENV", "TOKEN_ENV", "display_url", "gather_secrets", "prompt_secret",
           "secret_kind"]

PASSWORD_ENV = "INBOXLINK_PASSWORD"
TOKEN_ENV = "INBOXLINK_ACCESS_TOKEN"

#: secret kind → (the parsed-arguments attribute naming a file, the environment variable)
_SOURCES: Mapping[str, tuple[str, str]] = {
    "password": ("password_file", PASSWORD_ENV),
    "access_token": ("token_file", TOKEN_ENV),
}


def secret_kind(url: str) -> str | None:
    """``"password"``, ``"access_token"`` or ``None`` (the adapter needs neither, or is a
    plugin whose needs are unknown)."""
    return registry.secret_kind(urlsplit(url).scheme)


def _read_file(path: str) -> str:
    if path == "-":
        return sys.stdin.readline().rstrip("\r\n")
    with open(path, encoding="utf-8") as fh:
        return fh.readline().rstrip("\r\n")


def display_url(url: str) -> str:
    """``url`` without any password it may carry (``imaps://a:pw@h`` → ``imaps://a@h``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}@{netloc}" if user else netloc).geturl()


def gather_secrets(args: Any, url: str) -> dict[str, str]:
    """Secrets given without asking: in the URL, in files named by ``args.password_file`` /
    ``args.token_file``, in the environment."""
    found: dict[str, str] = {}
    embedded = urlsplit(url).password
    if embedded:
        found["password"] = unquote(embedded)
    for kind, (option, variable) in _SOURCES.items():
        if kind in found:
            continue
        path = getattr(args, option, None)
        value = _read_file(path) if path else os.environ.get(variable)
        if value:
            found[kind] = value
    return found


def prompt_secret(args: Any, kind: str, url: str,
                  prompt: Callable[[str], str] | None = None) -> str | None:
    """Ask for a secret without echo, when a person is there to answer (not with
    ``args.no_prompt``, not when stdin is not a terminal)."""
    if getattr(args, "no_prompt", False) or not sys.stdin.isatty():
        return None
    # Looked up at call time so the prompt can be replaced (tests, embedding applications).
    ask = prompt or getpass.getpass
    label = "Password" if kind == "password" else "Access token"
    return ask(f"{label} for {display_url(url)}: ") or None
