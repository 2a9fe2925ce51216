"""OAuth 2 bearer tokens for exchangelib from an inboxlink `TokenProvider`.

exchangelib signs each request with its credentials' oauthlib client. Here that client asks
the provider for the current token on every request, so a token nearing its expiry is
renewed silently (the provider refreshes ahead of expiry, in memory or from the cache
another process updated) and never sent expired. exchangelib's own hook for an expired
session token, ``credentials.refresh(session)``, asks the provider for a new one.

A token the server refuses with ``401`` before its expiry (revoked, password changed) is
refreshed **once**: `refreshing` wraps the retry policy so that such a response raises
oauthlib's ``TokenExpiredError``, which exchangelib answers by repeating the request at once
on a new session (its documented path for an expired token). A 401 means the request was
refused before Exchange acted on it, so repeating it cannot do anything twice; if the
refreshed token is refused as well, the ordinary ``UnauthorizedError`` follows.
"""

from __future__ import annotations

import threading
from typing import Any, TypeVar

import oauthlib.oauth2  # type: ignore[import-untyped]
from exchangelib.credentials import OAuth2AuthorizationCodeCredentials
from oauthlib.oauth2.rfc6749.errors import TokenExpiredError  # type: ignore[import-untyped]

from inboxlink.auth.provider import TokenProvider

__all__ = ["ProviderCredentials", "refreshing"]

P = TypeVar("P")


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
        self._refresh_lock = threading.Lock()
        #: the token the last 401-driven refresh gave: if it is refused too, stop there
        self._after_refresh: str | None = None

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

    def accepted(self) -> None:
        """The server took the token: a later 401 is worth a refresh again."""
        self._after_refresh = None

    def refused(self, response: Any) -> None:
        """A 401 answered ``response``: refresh once and have exchangelib repeat the request."""
        header = str(response.request.headers.get("Authorization", ""))
        scheme, _, token = header.partition(" ")
        with self._refresh_lock:
            if scheme.lower() != "bearer" or not token or token == self._after_refresh:
                return  # not ours, or the refreshed token was refused too: a real failure
            self._after_refresh = self._provider.refresh()
            self.access_token = _bearer(self._after_refresh)
        raise TokenExpiredError(description="the server refused the token; refreshed")

    def __repr__(self) -> str:
        return f"ProviderCredentials({self._provider!r})"

    def __str__(self) -> str:
        return repr(self)


def _bearer(token: str) -> dict[str, str]:
    return {"access_token": token, "token_type": "Bearer"}


def refreshing(policy: P, credentials: Any) -> P:
    """``policy`` (an exchangelib retry policy) turning a 401 on the provider's token into
    one refresh and one repetition; unchanged for other credentials."""
    if not isinstance(credentials, ProviderCredentials):
        return policy
    base: type[Any] = type(policy)

    class Refreshing(base):  # type: ignore[misc]
        def raise_response_errors(self, response: Any) -> Any:
            if response.status_code == 401:
                credentials.refused(response)
            else:
                credentials.accepted()
            return super().raise_response_errors(response)

    refreshed: Any = Refreshing.__new__(Refreshing)
    refreshed.__dict__.update(vars(policy))
    return refreshed  # type: ignore[no-any-return]
