"""Where the command line gets secrets from, and the connect() options built from them.

Order: a password in the URL itself, a file named by an option (``--password-file`` /
``--token-file``, ``-`` for stdin), ``INBOXLINK_PASSWORD`` / ``INBOXLINK_ACCESS_TOKEN``,
then an interactive prompt (``getpass``, never echoed). There is deliberately no
``--password VALUE`` option: the command line is visible to every user of the machine
(``ps``) and lands in shell history.
"""

from __future__ import annotations

import getpass
import os
import ssl
import sys
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["PASSWORD_ENV", "TOKEN_ENV", "connect_options", "display_url", "gather_secrets",
           "prompt_secret", "secret_kind"]

PASSWORD_ENV = "INBOXLINK_PASSWORD"
TOKEN_ENV = "INBOXLINK_ACCESS_TOKEN"

#: what each scheme signs in with; schemes not listed (fake, plugins) get nothing unasked
_SECRET_KIND: Mapping[str, str] = {
    "imap": "password", "imaps": "password", "ews": "password",
    "graph": "access_token", "gmail": "access_token",
}
_SOURCES: Mapping[str, tuple[str, str]] = {
    "password": ("password_file", PASSWORD_ENV),
    "access_token": ("token_file", TOKEN_ENV),
}


def add_secret_options(parser: Any) -> None:
    """The options every command reads secrets and trust with (an argparse parser or group)."""
    parser.add_argument("--username", help="login name when it differs from the address")
    parser.add_argument("--ews-url", metavar="URL", help="EWS endpoint (ews:// only)")
    parser.add_argument("--sent-folder", metavar="FOLDER", help="use this folder as Sent")
    parser.add_argument("--ca-file", metavar="PEM", help="trust this CA (corporate/self-signed)")
    parser.add_argument("--insecure", action="store_true",
                        help="accept an untrusted TLS certificate (never the default)")
    parser.add_argument("--password-file", metavar="PATH",
                        help="read the password from this file ('-' for stdin)")
    parser.add_argument("--token-file", metavar="PATH",
                        help="read an OAuth access token from this file ('-' for stdin)")
    parser.add_argument("--no-prompt", action="store_true",
                        help="never ask for a password; fail instead")


def secret_kind(url: str) -> str | None:
    """``"password"``, ``"access_token"`` or ``None`` (the adapter needs neither)."""
    return _SECRET_KIND.get(urlsplit(url).scheme.lower())


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
    """Secrets given without asking: in the URL, in files named by options, in the environment."""
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
    """Ask for a secret without echo, when a person is there to answer."""
    if getattr(args, "no_prompt", False) or not sys.stdin.isatty():
        return None
    # Looked up at call time so the prompt can be replaced (tests, embedding applications).
    ask = prompt or getpass.getpass
    label = "Password" if kind == "password" else "Access token"
    return ask(f"{label} for {display_url(url)}: ") or None


def connect_options(args: Any, prompt: Callable[[str], str] | None = None) -> dict[str, Any]:
    """Keyword options for ``connect()`` from parsed arguments, environment and prompt."""
    url: str = args.url
    options: dict[str, Any] = dict(gather_secrets(args, url))
    kind = secret_kind(url)
    if kind:
        # A built-in adapter gets only the secret it signs in with.
        options = {kind: options[kind]} if kind in options else {}
        value = options.get(kind) or prompt_secret(args, kind, url, prompt)
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
