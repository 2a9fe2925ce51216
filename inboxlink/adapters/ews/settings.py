"""Connection settings for the EWS adapter and the EWS URL rules (no exchangelib needed).

The EWS endpoint may be given as the full URL (``https://mail.example.com/EWS/Exchange.asmx``),
as a bare host or webmail host (``mail.example.com``, ``https://mail.example.com/``), which
become ``https://<host>/EWS/Exchange.asmx``, or left out, in which case autodiscover finds it
from the e-mail address. An Outlook Web App address (``…/owa``) is refused before any
credentials are sent, with the EWS URL of the same host as ``suggested_url``.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

import attrs

from inboxlink import errors
from inboxlink.models import FolderRole
from inboxlink.retry import RetryPolicy

if TYPE_CHECKING:
    from inboxlink.budget import Budget

__all__ = ["EWS_PATH", "MIN_BUILD", "EwsSettings", "endpoint_from", "suggest_ews_url"]

EWS_PATH = "/EWS/Exchange.asmx"
#: Exchange 2010 SP2: the oldest server inboxlink supports (major, minor)
MIN_BUILD = (14, 2)
#: the auth_type= spellings accepted, mapped to exchangelib's names
AUTH_TYPES: Mapping[str, str] = {
    "ntlm": "NTLM", "basic": "basic", "digest": "digest", "oauth": "OAuth 2.0",
    "oauth2": "OAuth 2.0", "bearer": "OAuth 2.0",
}
# Path prefixes that are Outlook on the web / admin pages, never the EWS endpoint.
_WEBMAIL_PATHS = ("/owa", "/ecp", "/mail", "/exchange")


def suggest_ews_url(url: str) -> str:
    """The EWS endpoint on the same host as ``url`` (scheme kept, https by default)."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    return urlunsplit((parts.scheme or "https", parts.netloc, EWS_PATH, "", ""))


def endpoint_from(url: str) -> str:
    """Normalise what a user typed into the EWS endpoint URL, or refuse a webmail address.

    Raises:
        InvalidExchangeUrl: the URL is an Outlook Web App / admin page or not http(s).
    """
    text = url.strip()
    parts = urlsplit(text if "://" in text else f"https://{text}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise errors.InvalidExchangeUrl(
            f"{url!r} is not an http(s) address of an Exchange server.",
            provider="ews", code="bad-url",
            remedy="Give the EWS URL, e.g. https://mail.example.com/EWS/Exchange.asmx.",
        )
    path = parts.path.rstrip("/")
    if not path:
        return urlunsplit((parts.scheme, parts.netloc, EWS_PATH, "", ""))
    if path.lower().endswith(EWS_PATH.lower()):
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    if path.lower().startswith(_WEBMAIL_PATHS):
        raise errors.InvalidExchangeUrl(
            f"{url!r} is an Outlook on the web (webmail) address, not the EWS endpoint.",
            provider="ews", code="owa-url", suggested_url=suggest_ews_url(text),
        )
    # Anything else is tried as given (EWS behind a reverse proxy may live elsewhere); an
    # answer that turns out to be a login page is reported with the same suggestion.
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


def _take_token_source(url: str, options: dict[str, Any]) -> None:
    """Turn ``token_provider=`` / ``token_cache=`` into `EwsSettings.token_provider`."""
    if options.get("token_provider") is None and options.get("token_cache") in (None, False):
        return
    from inboxlink.auth.provider import resolve_token_source

    clashing = [name for name in ("password", "access_token") if options.get(name)]
    if clashing:
        raise errors.ConfigurationError(
            "token_provider=/token_cache= cannot be combined with "
            + ", ".join(f"{name}=" for name in clashing) + ".", provider="ews",
            code="option", remedy="Sign in with the token provider only.")
    if options.get("token_cache") not in (None, False):
        # Exchange accounts sign in with Microsoft (Google has no EWS).
        options.setdefault("provider", "microsoft")
    options["token_provider"] = resolve_token_source(url, options)


@attrs.frozen(kw_only=True)
class EwsSettings:
    """How to reach and sign in to one Exchange mailbox.

    Args:
        address: the mailbox's primary SMTP address.
        url: the EWS endpoint, a bare/webmail host, or ``None`` to autodiscover it.
        username: the login when it differs from ``address``: ``DOMAIN\\user`` or a UPN.
        password: the password (NTLM / basic), or an app password when 2FA is on.
        access_token: an OAuth 2.0 bearer token (Exchange Online / modern auth).
        token_provider: OAuth 2.0 bearer tokens from a `TokenProvider`, renewed before they
            expire; ``from_url`` also takes ``token_cache=PATH|True`` (the cache
            ``inboxlink login ews://… --provider microsoft`` wrote).
        auth_type: ``"ntlm"``, ``"basic"``, ``"digest"`` or ``"oauth"``; ``None`` detects it
            from the server's ``WWW-Authenticate`` header.
        autodiscover_url: the autodiscover service to ask instead of the DNS-derived hosts
            (``https://autodiscover.example.com/autodiscover/autodiscover.svc``).
        ssl_context: an `ssl.SSLContext` to verify the server with (a corporate CA).
        verify_tls: ``False`` accepts any certificate ("allow insecure certificate"): only
            for a server you trust on a network you trust. Never the default.
        fetch_batch_size: messages per GetItem request when fetching MIME content.
        timeout: seconds to wait for one HTTP response.
        throttle_max_wait: after connecting, let exchangelib itself wait out throttling for
            up to this many seconds (its FaultTolerance policy); 0 (default) reports
            `RateLimited` at once and leaves retrying to inboxlink.
        sent_folder / role_overrides / retry: as for every adapter.
        budget: a shared `inboxlink.budget.Budget` (e.g. `RedisBudget`) that keeps the
            mailbox's requests in flight under ``max_concurrent`` across processes and
            machines (default: none, exchangelib's own session pool per process).
        max_concurrent: requests in flight at once through ``budget``.
    """

    address: str
    url: str | None = None
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    access_token: str | None = attrs.field(default=None, repr=False)
    # OAuth through a token provider (issue 16); never shown: it holds the account's tokens.
    token_provider: Any = attrs.field(default=None, repr=False)
    auth_type: str | None = None
    autodiscover_url: str | None = None
    ssl_context: ssl.SSLContext | None = attrs.field(default=None, repr=False)
    verify_tls: bool = True
    fetch_batch_size: int = 100
    timeout: float = 120.0
    throttle_max_wait: float = 0.0
    sent_folder: str | None = None
    role_overrides: Mapping[FolderRole, str] | None = None
    retry: RetryPolicy | None = None
    budget: Budget | None = attrs.field(default=None, repr=False, eq=False)
    max_concurrent: int = 4

    @property
    def login(self) -> str:
        """The name sent to the server: ``username`` if given, else the address."""
        return self.username or self.address

    @property
    def endpoint(self) -> str | None:
        """The normalised EWS URL, or ``None`` when autodiscover must find it."""
        return endpoint_from(self.url) if self.url else None

    def exchangelib_auth_type(self) -> str | None:
        """exchangelib's name for `auth_type` (``None``: detect)."""
        if (self.access_token or self.token_provider is not None) and self.auth_type is None:
            return AUTH_TYPES["oauth"]
        if self.auth_type is None:
            return None
        try:
            return AUTH_TYPES[self.auth_type.lower()]
        except KeyError:
            raise errors.ConfigurationError(
                f"Unknown auth_type {self.auth_type!r}.", provider="ews", code="auth_type",
                remedy="Use one of: " + ", ".join(sorted(AUTH_TYPES)) + ", or leave it out.",
            ) from None

    @classmethod
    def from_url(cls, url: str, /, **options: Any) -> EwsSettings:
        """Settings from ``ews://alice@example.com`` plus keyword options."""
        parts = urlsplit(url)
        if parts.scheme.lower() != "ews" or not parts.hostname or not parts.username:
            raise errors.ConfigurationError(
                f"{url!r} is not an EWS mailbox URL.", provider="ews", code="bad-url",
                remedy="Use ews://alice@example.com with url=, password= or access_token=.",
            )
        address = f"{unquote(parts.username)}@{parts.hostname}"
        if parts.password and "password" not in options:
            options["password"] = unquote(parts.password)
        _take_token_source(url, options)
        if options.get("token_cache", True) in (None, False):
            del options["token_cache"]  # "no cache" said explicitly
        unknown = sorted(set(options) - {field.name for field in attrs.fields(cls)})
        if unknown:
            # Refused before anything is connected or sent, naming what was not understood.
            raise errors.ConfigurationError(
                f"Unknown option for ews://: {unknown[0]}=", provider="ews", code="option",
                remedy="See docs/ews.md for the options the EWS adapter takes.",
            )
        return cls(address=address, **options)
