"""A mailbox URL checked before anything else happens.

The command line asks for a password before connecting; a URL that can never work
(``imaps://`` with no host, a port that is not a number, no scheme) must fail at once, not
after the person typed a password for nothing.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from inboxlink import errors
from inboxlink.registry import BUILTIN_ADAPTERS

__all__ = ["check_url"]

_EXAMPLE = "imaps://alice@mail.example.com"


def check_url(url: str) -> None:
    """Raise `ConfigurationError` for a URL that cannot connect.

    Only what every built-in adapter needs is checked (a scheme, a host, a numeric port);
    a plugin's scheme is left to the plugin.
    """
    parts = urlsplit(url)
    if not parts.scheme or "://" not in url:
        raise errors.ConfigurationError(
            f"{url!r} is not a mailbox URL (no scheme).",
            remedy=f"Start the URL with the protocol, e.g. {_EXAMPLE}.")
    if parts.scheme.lower() not in BUILTIN_ADAPTERS:
        return
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError:
        raise errors.ConfigurationError(
            f"The port in {parts.scheme}://{parts.hostname or ''}… is not a number "
            "from 1 to 65535.",
            remedy=f"Give the port as a number after the host, e.g. {_EXAMPLE}:993.",
        ) from None
    if not parts.hostname:
        raise errors.ConfigurationError(
            f"The URL {parts.scheme}:// names no host.",
            remedy=f"Give the server (or the address's domain) after the user, e.g. "
            f"{parts.scheme}://alice@mail.example.com.")
