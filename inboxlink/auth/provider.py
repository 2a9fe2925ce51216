"""The token provider protocol and the two helpers an adapter needs to accept one.

An adapter that signs in with OAuth accepts ``token_provider=`` (anything
`as_token_provider` takes) or ``token_cache=`` (a directory, a cache file, or
``True`` for the default directory)::

    # in the adapter's from_url / settings:
    provider = resolve_token_source(url, options)          # pops token_provider / token_cache
    # at every call that needs a token:
    result = with_fresh_token(provider, lambda token: self._request(token, ...))

`with_fresh_token` retries **once**, with a forced refresh, only when the call failed
with `InvalidCredentials` or
`ReauthorizationRequired` — a rejected token means the provider
refused the request before acting on it, so repeating it cannot do anything twice.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from inboxlink import errors

__all__ = ["AUTH_FAILURES", "CallableTokenProvider", "TokenProvider", "TokenSource",
           "as_token_provider", "resolve_token_source", "with_fresh_token"]

T = TypeVar("T")

#: the typed errors that mean "this token was refused": worth one refresh and one retry
AUTH_FAILURES: tuple[type[errors.InboxLinkError], ...] = (errors.InvalidCredentials,
                                                          errors.ReauthorizationRequired)


@runtime_checkable
class TokenProvider(Protocol):
    """Something that hands out a current OAuth access token.

    ``token()`` returns a token that is valid now (refreshing silently when the cached one
    is about to expire); ``refresh()`` gets a new one even if the cached one looks valid
    (called after the provider rejected it). Both raise only
    `InboxLinkError` subclasses —
    `ReauthorizationRequired` when the grant is gone.
    """

    def token(self) -> str:
        """A valid access token."""
        ...

    def refresh(self) -> str:
        """A freshly issued access token."""
        ...


#: what ``token_provider=`` accepts: a `TokenProvider` or a plain ``() -> str``
TokenSource = TokenProvider | Callable[[], str]


class CallableTokenProvider:
    """A `TokenProvider` around a plain ``() -> str`` (it refreshes by calling again)."""

    def __init__(self, function: Callable[[], str]) -> None:
        self._function = function

    def token(self) -> str:
        """Whatever the function returns now."""
        return self._function()

    def refresh(self) -> str:
        """The function is the only source there is: call it again."""
        return self._function()

    def __repr__(self) -> str:
        return f"CallableTokenProvider({getattr(self._function, '__name__', 'function')})"


def as_token_provider(source: TokenSource) -> TokenProvider:
    """``source`` as a `TokenProvider` (a plain callable is wrapped)."""
    if isinstance(source, TokenProvider):
        return source
    if callable(source):
        return CallableTokenProvider(source)
    raise errors.ConfigurationError(
        f"token_provider= must be a callable returning a token or an object with token() "
        f"and refresh(), not {type(source).__name__}.",
        remedy="Pass e.g. inboxlink.auth.open_token_cache(url) or a function returning a "
               "token.")


def resolve_token_source(url: str, options: MutableMapping[str, Any]) -> TokenProvider | None:
    """Pop ``token_provider=`` / ``token_cache=`` from an adapter's options.

    ``token_cache`` may be a cache file, a directory of cache files (the account's file is
    chosen from ``url``), or ``True`` for the default directory. ``provider=`` (for IMAP
    and EWS URLs: ``"microsoft"`` or ``"google"``) is popped too when a cache is used.
    Returns ``None`` when neither option was given.
    """
    source = options.pop("token_provider", None)
    cache = options.pop("token_cache", None)
    if source is not None and cache is not None:
        raise errors.ConfigurationError(
            "Both token_provider= and token_cache= were given.",
            remedy="Pass only one of them.")
    if source is not None:
        return as_token_provider(source)
    if cache is None or cache is False:
        return None
    from inboxlink.auth.store import open_token_cache

    provider = options.pop("provider", None)
    location = None if cache is True else Path(cache)
    return open_token_cache(url, location, provider=provider)




def with_fresh_token(provider: TokenProvider, call: Callable[[str], T]) -> T:
    """Run ``call(token)``; if the token is refused, refresh it and run the call once more.

    Only `AUTH_FAILURES` trigger the retry, and only once: a second refusal (or any
    other error) propagates, so a token that cannot work never loops.
    """
    token = provider.token()
    try:
        return call(token)
    except AUTH_FAILURES:
        pass
    return call(provider.refresh())
