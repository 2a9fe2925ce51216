"""Token providers backed by the token cache, and opening one for a mailbox URL.

`CacheTokenProvider` holds the current access token in memory and touches the cache
file only when it needs a new one: it takes the file's lock, re-reads the file (another
process may have refreshed meanwhile — then its token is used and no request is made),
asks the identity provider only if the stored token will not do, and writes the result
back before releasing the lock.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from inboxlink import errors
from inboxlink.auth.cache import (
    CACHE_FORMAT,
    CACHE_VERSION,
    TokenCacheDir,
    read_document,
    write_document,
)
from inboxlink.auth.errors import NO_SAVED_SIGN_IN, OAuthFailure, signing_in
from inboxlink.auth.targets import SignInTarget, target_for
from inboxlink.translate import ErrorTable, Signal

__all__ = ["CacheTokenProvider", "Issued", "new_document", "open_token_cache"]

#: a token this close to its expiry is renewed before use (seconds)
EXPIRY_MARGIN = 300.0


@attrs.frozen
class Issued:
    """An access token and when it expires (epoch seconds)."""

    token: str = attrs.field(repr=False)
    expires_at: float

    def fresh(self, now: float | None = None) -> bool:
        """Whether it stays valid for at least `EXPIRY_MARGIN` seconds."""
        return self.expires_at - EXPIRY_MARGIN > (time.time() if now is None else now)


def new_document(target: SignInTarget, settings: dict[str, Any]) -> dict[str, Any]:
    """The skeleton of a cache document for ``target`` (no tokens yet)."""
    return {"format": CACHE_FORMAT, "version": CACHE_VERSION, "provider": target.provider,
            "protocol": target.protocol, "account": target.account, "url": target.url,
            "settings": settings}


class CacheTokenProvider(ABC):
    """A `TokenProvider` reading and renewing one cache file.

    Subclasses implement `_obtain` for their identity provider.
    """

    def __init__(self, target: SignInTarget, path: Path, cache: TokenCacheDir) -> None:
        self.target = target
        self.path = path
        self._cache = cache
        self._issued: Issued | None = None
        self._lock = threading.Lock()
        #: how many times this provider asked the identity provider (tests and benchmarks)
        self.requests = 0

    def __repr__(self) -> str:
        # Never the token: only whose cache this is.
        return f"{type(self).__name__}({self.target.url!r}, path={str(self.path)!r})"

    # ------------------------------------------------------------------ protocol
    def token(self) -> str:
        """A valid access token: from memory, from the file, or silently refreshed."""
        with self._lock:
            if self._issued is not None and self._issued.fresh():
                return self._issued.token
            return self._renew(rejected=None)

    def refresh(self) -> str:
        """A token other than the one just rejected (another process's, or a new one)."""
        with self._lock:
            rejected = self._issued.token if self._issued is not None else None
            return self._renew(rejected=rejected)

    @property
    def expires_at(self) -> float | None:
        """When the token in memory expires (epoch seconds); ``None`` before the first."""
        return self._issued.expires_at if self._issued is not None else None

    # ------------------------------------------------------------------ machinery
    def _renew(self, rejected: str | None) -> str:
        with self.boundary(), self._cache.locked(self.path):
            document = read_document(self.path)
            if document is None:
                raise OAuthFailure("oauth", NO_SAVED_SIGN_IN,
                                   f"no token cache file for {self.target.account}")
            issued, changed = self._obtain(document, rejected)
            if changed:
                write_document(self.path, document)
        self._issued = issued
        return issued.token

    @contextmanager
    def boundary(self) -> Iterator[None]:
        """This provider's error boundary (its extract and table, the login remedy)."""
        with signing_in(self._table(), self._extract, None, self.target.remedy):
            yield

    @abstractmethod
    def _obtain(self, document: dict[str, Any], rejected: str | None) -> tuple[Issued, bool]:
        """A token from ``document`` (updating it in place); whether the document changed.

        A stored token is used when it is fresh and is not ``rejected``; otherwise the
        refresh token is redeemed (``self.requests += 1``). Raise `OAuthFailure` for
        an identity provider's refusal.
        """

    @abstractmethod
    def _extract(self, exc: BaseException, context: None) -> errors.InboxLinkError | Signal | None:
        """This provider's ``extract`` (see `inboxlink.translate.Extract`)."""

    @abstractmethod
    def _table(self) -> ErrorTable:
        """The error table of this provider's boundary."""


def open_token_cache(url: str, location: Path | str | None = None, *,
                     provider: str | None = None) -> CacheTokenProvider:
    """The token provider for ``url``'s account, from the cache ``inboxlink login`` wrote.

    Args:
        url: the mailbox URL (``graph://alice@contoso.com``).
        location: a cache directory (default: `default_cache_dir`) or
            one cache file.
        provider: ``"microsoft"`` or ``"google"`` for ``imaps://`` / ``ews://`` URLs.

    Nothing is read yet: a missing or revoked sign-in raises
    `ReauthorizationRequired` at the first ``token()``, naming the
    ``inboxlink login`` command.
    """
    target = target_for(url, provider)
    if location is not None and Path(location).suffix == ".json":
        path = Path(location)
        cache = TokenCacheDir(path.parent)
    else:
        cache = TokenCacheDir(location) if location is not None else TokenCacheDir()
        path = cache.path_for(target)
    if target.provider == "microsoft":
        from inboxlink.auth.microsoft import MicrosoftCacheTokenProvider

        return MicrosoftCacheTokenProvider(target, path, cache)
    from inboxlink.auth.google import GoogleCacheTokenProvider

    return GoogleCacheTokenProvider(target, path, cache)
