"""Signing in with OAuth and keeping the sign-in: ``inboxlink login``, token caches, providers.

Needs the ``auth`` extra (``pip install 'inboxlink[auth]'``: msal, google-auth-oauthlib,
filelock); importing this package does not import them.

::

    from inboxlink import auth

    auth.login("graph://alice@contoso.com", client_id="…")            # browser, PKCE
    auth.login("graph://alice@contoso.com", client_id="…", device_code=True)
    auth.login("gmail://alice@gmail.com", client_secrets="client_secret.json")

    provider = auth.open_token_cache("graph://alice@contoso.com")
    provider.token()        # valid access token; refreshed silently from the cache
    provider.refresh()      # a new one (after the server rejected the old one)

The cache is one file per account under `default_cache_dir` (or ``cache_dir=``),
mode 0600 in a 0700 directory, replaced atomically under a cross-process lock.
Failures are typed: `ReauthorizationRequired` (revoked grant,
password changed, ``invalid_grant``, nothing cached), `
InteractionRequired` (MFA / conditional access, an expired device code),
`AdminConsentRequired` (with ``consent_url``); each remedy ends
with the ``inboxlink login URL`` command that fixes it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inboxlink.auth.bridges import AzureCredential, as_azure_credential, as_google_credentials
    from inboxlink.auth.cache import TokenCacheDir, default_cache_dir
    from inboxlink.auth.flows import login, logout
    from inboxlink.auth.loopback import Prompt, PromptHandler, browser_prompt, print_prompt
    from inboxlink.auth.microsoft import MicrosoftAppTokenProvider, MicrosoftSettings
    from inboxlink.auth.provider import (
        CallableTokenProvider,
        TokenProvider,
        TokenSource,
        as_token_provider,
        resolve_token_source,
        with_fresh_token,
    )
    from inboxlink.auth.store import CacheTokenProvider, open_token_cache
    from inboxlink.auth.targets import SignInTarget, login_command, target_for

__all__ = [
    "AzureCredential",
    "CacheTokenProvider",
    "CallableTokenProvider",
    "MicrosoftAppTokenProvider",
    "MicrosoftSettings",
    "Prompt",
    "PromptHandler",
    "SignInTarget",
    "TokenCacheDir",
    "TokenProvider",
    "TokenSource",
    "as_azure_credential",
    "as_google_credentials",
    "as_token_provider",
    "browser_prompt",
    "default_cache_dir",
    "login",
    "login_command",
    "logout",
    "open_token_cache",
    "print_prompt",
    "resolve_token_source",
    "target_for",
    "with_fresh_token",
]

# Loaded on first use: the adapters import `inboxlink.auth.provider` for every connection,
# and must not pay for the sign-in flows' loopback server, caches and clients.
_LAZY: dict[str, str] = {
    "AzureCredential": "inboxlink.auth.bridges",
    "as_azure_credential": "inboxlink.auth.bridges",
    "as_google_credentials": "inboxlink.auth.bridges",
    "TokenCacheDir": "inboxlink.auth.cache",
    "default_cache_dir": "inboxlink.auth.cache",
    "Prompt": "inboxlink.auth.loopback",
    "PromptHandler": "inboxlink.auth.loopback",
    "browser_prompt": "inboxlink.auth.loopback",
    "print_prompt": "inboxlink.auth.loopback",
    "CallableTokenProvider": "inboxlink.auth.provider",
    "TokenProvider": "inboxlink.auth.provider",
    "TokenSource": "inboxlink.auth.provider",
    "as_token_provider": "inboxlink.auth.provider",
    "resolve_token_source": "inboxlink.auth.provider",
    "with_fresh_token": "inboxlink.auth.provider",
    "CacheTokenProvider": "inboxlink.auth.store",
    "open_token_cache": "inboxlink.auth.store",
    "SignInTarget": "inboxlink.auth.targets",
    "login_command": "inboxlink.auth.targets",
    "target_for": "inboxlink.auth.targets",
    "login": "inboxlink.auth.flows",
    "logout": "inboxlink.auth.flows",
    "MicrosoftAppTokenProvider": "inboxlink.auth.microsoft",
    "MicrosoftSettings": "inboxlink.auth.microsoft",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
