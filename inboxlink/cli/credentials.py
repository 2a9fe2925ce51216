"""Where the command line gets secrets from, and the connect() options built from them.

Order: a password in the URL itself, a file named by an option (``--password-file`` /
``--token-file``, ``-`` for stdin), ``INBOXLINK_PASSWORD`` / ``INBOXLINK_ACCESS_TOKEN``,
then the sign-in ``inboxlink login URL`` saved (``token_cache=``), then an interactive
prompt (``getpass``, never echoed). There is deliberately no
``--password VALUE`` option: the command line is visible to every user of the machine
(``ps``) and lands in shell history.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

from inboxlink.auth.saved import saved_sign_in

# Secret handling lives in the core (the doctor uses it too); re-exported for the CLI.
from inboxlink.secrets import (
    PASSWORD_ENV,
    TOKEN_ENV,
    display_url,
    gather_secrets,
    prompt_secret,
    secret_kind,
)

__all__ = ["PASSWORD_ENV", "TOKEN_ENV", "add_secret_options", "connect_options", "display_url",
           "gather_secrets", "prompt_secret", "secret_kind"]


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


def connect_options(args: Any, prompt: Callable[[str], str] | None = None) -> dict[str, Any]:
    """Keyword options for ``connect()`` from parsed arguments, environment and prompt."""
    url: str = args.url
    options: dict[str, Any] = dict(gather_secrets(args, url))
    kind = secret_kind(url)
    if kind:
        # A built-in adapter gets only the secret it signs in with.
        options = {kind: options[kind]} if kind in options else {}
        # No secret given, but `inboxlink login URL` saved a sign-in: use it, never prompt.
        saved = {} if options else saved_sign_in(url)
        options.update(saved)
        value = options.get(kind) or (None if saved else prompt_secret(args, kind, url, prompt))
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
