"""Whether ``inboxlink login`` saved a sign-in for a mailbox URL, as ``connect()`` options.

The command line and the doctor use this to sign in from the cache instead of asking for a
password or token. Nothing here reads the file's tokens or imports msal / google-auth: it
only looks for the account's cache file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from inboxlink import errors
from inboxlink.auth.cache import TokenCacheDir
from inboxlink.auth.targets import _SCHEME_PROVIDER, target_for

__all__ = ["needs_login", "saved_sign_in"]

#: identity providers an account of each scheme may have signed in with
_CANDIDATES: dict[str, tuple[str, ...]] = {
    "imap": ("microsoft", "google"), "imaps": ("microsoft", "google"), "ews": ("microsoft",),
}


def saved_sign_in(url: str, cache_dir: str | Path | None = None) -> dict[str, Any]:
    """``{"token_cache": FILE}`` (plus ``provider=`` for imaps/ews) when ``url``'s account
    has a saved sign-in; ``{}`` when it has none or the URL cannot sign in with OAuth."""
    scheme = urlsplit(url).scheme.lower()
    implied = _SCHEME_PROVIDER.get(scheme)
    candidates = (implied,) if implied else _CANDIDATES.get(scheme, ())
    cache = TokenCacheDir(cache_dir) if cache_dir is not None else TokenCacheDir()
    found: list[dict[str, Any]] = []
    for provider in candidates:
        try:
            path = cache.path_for(target_for(url, None if implied else provider))
        except errors.ConfigurationError:
            return {}  # no account in the URL, or a scheme without OAuth
        if path.is_file():
            found.append({"token_cache": path} | ({} if implied else {"provider": provider}))
    # Two saved sign-ins for one IMAP address (Microsoft and Google) is ambiguous: use none.
    return found[0] if len(found) == 1 else {}


def needs_login(url: str) -> bool:
    """Whether ``url``'s adapter signs in only with OAuth (graph://, gmail://), so that a
    missing saved sign-in is fixed by ``inboxlink login URL``."""
    return urlsplit(url).scheme.lower() in _SCHEME_PROVIDER
