"""``login`` and ``logout``: signing a Microsoft or Google account in from the shell.

``inboxlink login graph://alice@contoso.com --client-id ID`` opens the sign-in page in a
browser (the address is also printed on stderr) and waits for the loopback redirect;
``--device-code`` prints a code to enter on any device instead, for servers without a
browser. The tokens land in the account's file in the token cache (``--cache-dir``,
default the user's config directory); ``logout`` deletes that file.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from inboxlink import errors

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["CLIENT_ID_ENV", "LOGIN_COMMANDS", "add_login_parsers"]

#: where ``--client-id`` is read from when the option is left out
CLIENT_ID_ENV = "INBOXLINK_CLIENT_ID"

_AUTH_MISSING = ("Signing in needs the 'auth' extra: pip install 'inboxlink[auth]'")


def add_login_parsers(sub: Any) -> None:
    """Register ``login`` and ``logout`` on the main parser's sub-parsers."""
    login = sub.add_parser(
        "login", help="sign a Microsoft 365 or Google account in and keep its tokens",
        description="Sign in with OAuth (authorization code + PKCE in a browser, or a device "
        "code) and store the tokens in the token cache (one 0600 file per account). Other "
        "commands and connect(url, token_cache=...) then use it and refresh it silently.")
    _add_target(login)
    login.add_argument("--client-id", metavar="ID",
                       help=f"Microsoft: the app's Application (client) ID (default "
                            f"${CLIENT_ID_ENV})")
    login.add_argument("--tenant", metavar="T", default="organizations",
                       help="Microsoft: organizations (default), consumers, common or a "
                            "tenant id/domain")
    login.add_argument("--client-secrets", metavar="FILE",
                       help="Google: the OAuth client's client_secret.json (Desktop app)")
    login.add_argument("--device-code", action="store_true",
                       help="Microsoft: sign in on another device with a code (no browser "
                            "here)")
    login.add_argument("--no-browser", action="store_true",
                       help="print the sign-in address only; do not open a browser")
    login.add_argument("--port", type=int, default=0,
                       help="loopback port for the browser redirect (default: any free one)")
    login.add_argument("--timeout", type=float, default=300.0,
                       help="seconds to wait for the sign-in (default 300)")
    login.add_argument("--authority", metavar="URL",
                       help="Microsoft: sign-in host (national clouds; default "
                            "https://login.microsoftonline.com)")
    login.add_argument("--ca-file", metavar="PEM",
                       help="trust this CA for the sign-in servers (corporate proxy)")

    logout = sub.add_parser(
        "logout", help="delete an account's saved sign-in from the token cache",
        description="Delete the account's token cache file. The app's access is not revoked "
        "at the provider: remove it in the account's settings for that.")
    _add_target(logout)


def _add_target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="graph://alice@contoso.com, gmail://alice@gmail.com, or "
                                    "imaps://…/ews://… with --provider")
    parser.add_argument("--provider", choices=("microsoft", "google"),
                        help="identity provider of an imaps:// or ews:// account")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help="token cache directory (default: the user's config directory)")


def _needs_auth_extra() -> errors.AdapterNotAvailable | None:
    try:
        import filelock  # noqa: F401
        import google_auth_oauthlib  # noqa: F401
        import msal  # noqa: F401
    except ImportError:
        return errors.AdapterNotAvailable(_AUTH_MISSING,
                                          remedy="pip install 'inboxlink[auth]'")
    return None


def _login(args: Any, console: Console) -> int:
    from inboxlink import auth
    from inboxlink.cli.credentials import display_url

    missing = _needs_auth_extra()
    if missing is not None:
        raise missing
    url = display_url(args.url)
    prompt = auth.print_prompt if args.no_browser else auth.browser_prompt
    provider = auth.login(
        url, provider=args.provider, client_id=args.client_id or os.environ.get(CLIENT_ID_ENV),
        tenant=args.tenant, client_secrets=args.client_secrets, device_code=args.device_code,
        cache_dir=args.cache_dir, prompt=prompt, port=args.port, timeout=args.timeout,
        authority_host=args.authority, ca_file=args.ca_file)
    console.print(f"[green]✓[/] signed in as {provider.target.account}")
    console.print(f"  tokens saved in {provider.path} (readable by you only)")
    return 0


def _logout(args: Any, console: Console) -> int:
    from inboxlink.auth.cache import TokenCacheDir
    from inboxlink.auth.targets import target_for
    from inboxlink.cli.credentials import display_url

    target = target_for(display_url(args.url), args.provider)
    cache = TokenCacheDir(args.cache_dir) if args.cache_dir else TokenCacheDir()
    if cache.remove(target):
        console.print(f"[green]✓[/] signed out {target.account}: deleted "
                      f"{cache.path_for(target)}")
    else:
        console.print(f"no saved sign-in for {target.account} in {cache.directory}")
    return 0


#: command name -> runner(args, console); they need no mailbox connection
LOGIN_COMMANDS: Mapping[str, Callable[[Any, Any], int]] = {"login": _login, "logout": _logout}
