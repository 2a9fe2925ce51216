"""OAuth 2 bearer tokens for exchangelib from an inboxlink `TokenProvider`.

exchangelib signs each request with its credentials' oauthlib client. Here that client asks
the provider for the current token on every request, so a token nearing its expiry is
renewed silently (the provider refreshes ahead of expiry, in memory or from the cache
another process updated) and never sent expired. exchangelib's own hook for an expired
session token, ``credentials.refresh(session)``, asks the provider for a new one.
"""

from __future__ import annotations

from typing import Any

import oauthlib.oauth2  # type: ignore[import-untyped]
from exchangelib.credentials import OAuth2AuthorizationCodeCredentials

from inboxlink.auth.provider import TokenProvider

__all__ = ["ProviderCredentials"]


class _ProviderClient(oauthlib.oauth2.WebApplicationClient):  # type: ignore[misc]
    """An oauthlib client whose bearer token is the provider's current one."""

    def __init__(self, provider: TokenProvider) -> None:
        super().__init__(client_id=None)
        self._provider = provider

    def add_token(self, uri: str, *args: Any, **kwargs: Any) -> Any:
        self.access_token = self._provider.token()
        self.token_type = "Bearer"
        self._expires_at = None  # the provider decides when a token is too old
        return super().add_token(uri, *args, **kwargs)


class ProviderCredentials(OAuth2AuthorizationCodeCredentials):  # type: ignore[misc]
    """exchangelib OAuth credentials fed by a `TokenProvider` (never shown in a repr)."""

    def __init__(self, provider: TokenProvider) -> None:
        super().__init__(access_token=_bearer(provider.token()))
        self._provider = provider

    @property
    def client(self) -> Any:
        # One client per credentials object (exchangelib shares it between its sessions).
        client = self.__dict__.get("_provider_client")
        if client is None:
            client = self.__dict__["_provider_client"] = _ProviderClient(self._provider)
        return client

    def refresh(self, session: Any) -> None:
        """exchangelib found the session's token expired: take a new one from the provider."""
        self.access_token = _bearer(self._provider.refresh())

    def __repr__(self) -> str:
        return f"ProviderCredentials({self._provider!r})"

    def __str__(self) -> str:
        return repr(self)


def _bearer(token: str) -> dict[str, str]:
    return {"access_token": token, "token_type": "Bearer"}
