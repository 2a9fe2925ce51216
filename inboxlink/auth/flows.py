"""Interactive sign-in and sign-out: `login` runs the provider's flow and fills the cache."""

from __future__ import annotations

from pathlib import Path

from inboxlink.auth.cache import TokenCacheDir
from inboxlink.auth.loopback import PromptHandler, print_prompt
from inboxlink.auth.store import CacheTokenProvider
from inboxlink.auth.targets import target_for

__all__ = ["login", "logout"]


def login(
    url: str,
    *,
    provider: str | None = None,
    client_id: str | None = None,
    tenant: str = "organizations",
    client_secrets: str | Path | None = None,
    device_code: bool = False,
    cache_dir: str | Path | None = None,
    prompt: PromptHandler = print_prompt,
    port: int = 0,
    timeout: float = 300.0,
    authority_host: str | None = None,
    ca_file: str | None = None,
) -> CacheTokenProvider:
    """Sign the account of ``url`` in interactively and keep its tokens in the cache.

    Args:
        url: ``graph://alice@contoso.com``, ``gmail://alice@gmail.com``, or an
            ``imaps://`` / ``ews://`` URL with ``provider=``.
        provider: ``"microsoft"`` or ``"google"`` (implied by graph:// and gmail://).
        client_id: Microsoft: the app registration's Application (client) ID.
        tenant: Microsoft: ``organizations``, ``consumers``, ``common`` or a tenant id.
        client_secrets: Google: the OAuth client's ``client_secret.json``.
        device_code: Microsoft: show a code to enter on another device (headless servers).
        cache_dir: where the cache files live (default `default_cache_dir`).
        prompt: shows the user the sign-in address / device code (default: print to stderr;
            `browser_prompt` also opens a browser).
        port: loopback redirect port (0: any free one).
        timeout: how long to wait for the user (seconds).
        authority_host: Microsoft sign-in host (national clouds, emulators).
        ca_file: CAs to trust for the sign-in endpoints.

    Returns the account's `CacheTokenProvider`.
    """
    from inboxlink import errors

    target = target_for(url, provider)
    cache = TokenCacheDir(cache_dir) if cache_dir is not None else TokenCacheDir()
    cache.ensure()
    if target.provider == "microsoft":
        from inboxlink.auth.microsoft import (
            DEFAULT_AUTHORITY_HOST,
            MicrosoftSettings,
            login_microsoft,
        )

        if not client_id:
            raise errors.ConfigurationError(
                "A Microsoft sign-in needs the app's client id.",
                remedy="Register an app in Entra ID (see docs/signin.md) and pass its "
                       "Application (client) ID with --client-id / client_id=.")
        settings = MicrosoftSettings(client_id=client_id, tenant=tenant,
                                     authority_host=authority_host or DEFAULT_AUTHORITY_HOST,
                                     ca_file=ca_file)
        return login_microsoft(target, settings, cache, device_code=device_code,
                               prompt=prompt, port=port, timeout=timeout)
    if device_code:
        raise errors.ConfigurationError(
            "Google's device-code flow does not allow Gmail scopes.",
            remedy="Sign in on a machine with a browser and copy the cache file, or forward "
                   "the loopback port over SSH (see docs/signin.md).")
    if not client_secrets:
        raise errors.ConfigurationError(
            "A Google sign-in needs the OAuth client file.",
            remedy="Create a 'Desktop app' OAuth client in the Google Cloud console and "
                   "pass its client_secret.json with --client-secrets / client_secrets=.")
    from inboxlink.auth.google import login_google

    return login_google(target, str(client_secrets), cache, prompt=prompt, port=port,
                        timeout=timeout, ca_file=ca_file)


def logout(url: str, *, provider: str | None = None,
           cache_dir: str | Path | None = None) -> bool:
    """Delete the cached sign-in of ``url``'s account; whether there was one.

    Only the local copy is removed: to revoke the app's access everywhere, remove it in
    the account's settings (myapps.microsoft.com / myaccount.google.com/permissions).
    """
    cache = TokenCacheDir(cache_dir) if cache_dir is not None else TokenCacheDir()
    return cache.remove(target_for(url, provider))
