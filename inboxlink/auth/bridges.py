"""A token provider in the credential shapes the Graph and Gmail adapters already accept.

The Graph and Gmail adapters use these internally for ``connect(url, token_provider=…)`` /
``token_cache=…``; they also let code that builds the credential objects itself pass a
token cache through the adapters' existing options::

    tokens = auth.open_token_cache("graph://alice@contoso.com")
    inboxlink.connect("graph://alice@contoso.com", credential=auth.as_azure_credential(tokens))

    tokens = auth.open_token_cache("gmail://alice@gmail.com")
    inboxlink.connect("gmail://alice@gmail.com", credentials=auth.as_google_credentials(tokens))

The Graph adapter asks ``get_token`` before every request, so a token nearing expiry is
renewed silently. google-auth's transport asks ``before_request`` before every request and,
on a 401, calls ``refresh`` and repeats the request once — the same contract as
`with_fresh_token`.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from inboxlink.auth.provider import TokenProvider, TokenSource, as_token_provider

__all__ = ["AzureCredential", "as_azure_credential", "as_google_credentials"]

#: lifetime reported for a token whose expiry the provider does not tell (seconds)
UNKNOWN_LIFETIME = 300.0


def _expires_at(provider: TokenProvider) -> float:
    known = getattr(provider, "expires_at", None)
    return float(known) if known else time.time() + UNKNOWN_LIFETIME


class AzureCredential:
    """azure-core's ``TokenCredential`` protocol over a token provider (Graph's ``credential=``).

    The scopes asked for are ignored: the provider's tokens carry the scopes it was signed
    in with. A claims challenge (Conditional Access) asks the provider for a new token.
    """

    def __init__(self, provider: TokenProvider) -> None:
        self._provider = provider

    def __repr__(self) -> str:
        return f"AzureCredential({self._provider!r})"

    def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None,
                  enable_cae: bool = False, **kwargs: Any) -> Any:
        """An ``azure.core.credentials.AccessToken`` from the provider."""
        from azure.core.credentials import AccessToken

        token = self._provider.refresh() if claims else self._provider.token()
        return AccessToken(token, int(_expires_at(self._provider)))

    def close(self) -> None:
        """Nothing to close (azure-core calls it on context exit)."""

    def __enter__(self) -> AzureCredential:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def as_azure_credential(source: TokenSource) -> AzureCredential:
    """``source`` as an azure-core ``TokenCredential`` for ``connect(graph://…, credential=)``."""
    return AzureCredential(as_token_provider(source))


@functools.cache
def _google_class() -> type:
    from google.auth import credentials as google_credentials

    class ProviderCredentials(google_credentials.Credentials):
        """google-auth credentials whose token comes from an inboxlink token provider."""

        def __init__(self, provider: TokenProvider) -> None:
            super().__init__()  # type: ignore[no-untyped-call]
            self._provider = provider

        def __repr__(self) -> str:
            return f"ProviderCredentials({self._provider!r})"

        @property
        def expired(self) -> bool:
            # The provider renews before expiry on every before_request.
            return False

        @property
        def valid(self) -> bool:
            return True

        def refresh(self, request: Any) -> None:
            # Called by google-auth's transport after a 401: the token was rejected.
            self.token = self._provider.refresh()
            self.expiry = None

        def before_request(self, request: Any, method: str, url: str,
                           headers: dict[str, str]) -> None:
            self.token = self._provider.token()
            self.apply(headers)  # type: ignore[no-untyped-call]

    return ProviderCredentials


def as_google_credentials(source: TokenSource) -> Any:
    """``source`` as google-auth credentials for ``connect(gmail://…, credentials=)``."""
    return _google_class()(as_token_provider(source))
