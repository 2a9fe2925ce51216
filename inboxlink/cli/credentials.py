"""Where the command line gets secrets from, and the connect() options built from them.

Order: a file named by an option (``--password-file``/``--token-file``, ``-`` for stdin),
then ``INBOXLINK_PASSWORD`` / ``INBOXLINK_ACCESS_TOKEN``, then an interactive prompt
(``getpass``, never echoed). There is deliberately no ``--password VALUE`` option: the
command line is visible to every user of the machine (``ps``) and lands in shell history.
"""

from __future__ import annotations

import getpass
import os
import ssl
import sys
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["PASSWORD_ENV", "TOKEN_ENV", "connect_options", "display_url"]

PASSWORD_ENV = "INBOXLINK_PASSWORD"
TOKEN_ENV = "INBOXLINK_ACCESS_TOKEN"

#: what each scheme signs in with; schemes not listed (fake, plugins) get nothing unasked
_SECRET_KIND: Mapping[str, str] = {
    "imap": "password", "imaps": "password", "ews": "password",
    "graph": "access_token", "gmail": "access_token",
}


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


def _secret(args: Any, kind: str, scheme: str, url: str,
            prompt: Callable[[str], str]) -> str | None:
    file_option = args.password_file if kind == "password" else args.token_file
    if file_option:
        return _read_file(file_option)
    from_env = os.environ.get(PASSWORD_ENV if kind == "password" else TOKEN_ENV)
    if from_env:
        return from_env
    if _SECRET_KIND.get(scheme) != kind or args.no_prompt or not sys.stdin.isatty():
        return None
    label = "Password" if kind == "password" else "Access token"
    return prompt(f"{label} for {display_url(url)}: ") or None


def connect_options(args: Any, prompt: Callable[[str], str] | None = None) -> dict[str, Any]:
    """Keyword options for ``connect()`` from parsed arguments, environment and prompt."""
    # Looked up at call time so the prompt can be replaced (tests, embedding applications).
    ask = prompt or getpass.getpass
    url: str = args.url
    scheme = urlsplit(url).scheme.lower()
    options: dict[str, Any] = {}
    embedded = urlsplit(url).password
    if embedded:
        options["password"] = unquote(embedded)
    for kind in ("password", "access_token"):
        if kind in options:
            continue
        value = _secret(args, kind, scheme, url, ask)
        if value:
            options[kind] = value
    for option, key in (("smtp", "smtp"), ("username", "username"), ("ews_url", "url"),
                        ("sent_folder", "sent_folder")):
        value = getattr(args, option, None)
        if value:
            options[key] = value
    if getattr(args, "insecure", False):
        options["verify_tls"] = False
    ca_file = getattr(args, "ca_file", None)
    if ca_file:
        options["ssl_context"] = ssl.create_default_context(cafile=ca_file)
    return options
