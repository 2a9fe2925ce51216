"""Connection settings of the IMAP/SMTP adapter, and how a connection URL fills them."""

from __future__ import annotations

import enum
import re
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import attrs

from inboxlink import errors
from inboxlink.models import FolderRole
from inboxlink.retry import RetryPolicy

if TYPE_CHECKING:
    from inboxlink.budget import Budget

__all__ = ["ImapSettings", "Security", "settings_from_url"]


class Security(str, enum.Enum):
    """How a connection is encrypted. There is deliberately no plain-text mode."""

    TLS = "tls"  #: implicit TLS from the first byte (IMAP 993, SMTP 465)
    STARTTLS = "starttls"  #: plain connect, then a mandatory STARTTLS upgrade (143, 587)

    def __str__(self) -> str:
        return self.value


_DEFAULT_PORTS = {
    ("imap", Security.TLS): 993,
    ("imap", Security.STARTTLS): 143,
    ("smtp", Security.TLS): 465,
    ("smtp", Security.STARTTLS): 587,
}

#: Hosts whose servers store the sent copy themselves (Gmail, Microsoft 365 / Outlook.com).
PROVIDER_SAVES_SENT_HOSTS = re.compile(
    r"(^|\.)(gmail\.com|googlemail\.com|office365\.com|outlook\.com|hotmail\.com)$", re.I
)

TLS_VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


def _tls_minimum(value: str) -> str:
    if value not in TLS_VERSIONS:
        raise errors.ConfigurationError(
            f"tls_minimum={value!r} is not a TLS version.",
            remedy="Use one of " + ", ".join(TLS_VERSIONS) + " (SSLv3 is never allowed).",
        )
    return value


def _positive(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if value < 1:
        raise errors.ConfigurationError(f"{attribute.name} must be at least 1.",
                                        remedy=f"Pass {attribute.name}=1 or more.")


@attrs.frozen
class ImapSettings:
    """Everything the adapter needs to reach one mailbox; every endpoint can be overridden.

    Args:
        address: the mailbox's e-mail address (used as From and for Message-IDs).
        imap_host / imap_port: the IMAP server; the port defaults from ``imap_security``.
        imap_security: `Security.TLS` (993) or `Security.STARTTLS` (143).
        smtp_host / smtp_port / smtp_security: the submission server (defaults: the IMAP
            host, STARTTLS on 587).
        username: the login name (defaults to ``address``); ``smtp_username`` likewise.
        password: for LOGIN / AUTHENTICATE PLAIN and SMTP AUTH.
        access_token: an OAuth 2 access token for XOAUTH2 (instead of a password).
        token_provider: OAuth tokens from a `TokenProvider` (``connect(…, token_provider=…)``
            or ``token_cache=PATH|True`` with ``provider="microsoft"|"google"``): a refused
            token is refreshed and the AUTHENTICATE (never a send) retried once.
        auth_mechanism: ``"login"`` (IMAP LOGIN) or ``"plain"`` (AUTHENTICATE PLAIN) for a
            password; ``"xoauth2"`` (the default with a token) or ``"oauthbearer"`` (RFC 7628).
        ssl_context: custom trust (corporate CA, tests). Used as given.
        verify_tls: ``False`` allows an insecure certificate (logged as a warning).
        tls_minimum: lowest TLS version accepted; ``"TLSv1.2"`` unless set explicitly.
        timeout: seconds for connecting and for each network read.
        max_connections: simultaneous connections (IMAP and SMTP together) per mailbox.
        sent_folder: the Sent folder's name, overriding detection.
        role_overrides: more explicit roles, ``{FolderRole.ARCHIVE: "Old mail"}`` (folder
            id or path); they win over special-use and names, as for every adapter.
        allow_courier: accept a Courier-IMAP server (refused by default).
        provider_saves_sent: whether the server stores sent mail itself; ``None`` detects
            it from the host (Gmail, Microsoft 365) and the Gmail capability.
        fetch_chunk: UIDs per FETCH command in ``fetch_many``, and per STORE / MOVE /
            EXPUNGE command in bulk actions.
        stream_chunk: bytes per partial FETCH in ``fetch_to_file``.
        idle_restart: seconds after which ``watch()`` re-issues IDLE (RFC 2177 lets a
            server drop a client idle for 30 minutes; the default leaves a margin).
        budget: where the ``max_connections`` slots of this account are counted (default:
            `inboxlink.budget.default_budget`, shared by the process; a `RedisBudget`
            shares them with every worker process and machine).
    """

    address: str
    imap_host: str
    imap_port: int | None = None
    imap_security: Security = attrs.field(default=Security.TLS, converter=Security)
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_security: Security = attrs.field(default=Security.STARTTLS, converter=Security)
    username: str | None = None
    smtp_username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    access_token: str | None = attrs.field(default=None, repr=False)
    # OAuth through a token provider (issue 16); never shown: it holds the account's tokens.
    token_provider: Any = attrs.field(default=None, repr=False)
    auth_mechanism: str = attrs.field(default="login", validator=attrs.validators.in_(
        ("login", "plain", "xoauth2", "oauthbearer")))
    ssl_context: ssl.SSLContext | None = attrs.field(default=None, repr=False)
    verify_tls: bool = True
    tls_minimum: str = attrs.field(default="TLSv1.2", converter=_tls_minimum)
    timeout: float = 30.0
    max_connections: int = attrs.field(default=4, validator=_positive)
    sent_folder: str | None = None
    role_overrides: Mapping[FolderRole, str] | None = None
    allow_courier: bool = False
    provider_saves_sent: bool | None = None
    fetch_chunk: int = attrs.field(default=500, validator=_positive)
    stream_chunk: int = attrs.field(default=1 << 20, validator=_positive)
    idle_restart: float = attrs.field(default=25 * 60.0, validator=attrs.validators.gt(0))
    retry: RetryPolicy | None = None
    budget: Budget | None = attrs.field(default=None, repr=False, eq=False)

    @classmethod
    def from_url(cls, url: str, /, **options: Any) -> ImapSettings:
        """Settings for ``imaps://alice@host`` / ``imap://…`` plus ``connect()`` options
        (see `settings_from_url`); an unknown option raises ``ConfigurationError`` naming it."""
        return settings_from_url(url, **options)

    @property
    def imap_endpoint(self) -> tuple[str, int]:
        """(host, port) of the IMAP server."""
        return self.imap_host, self.imap_port or _DEFAULT_PORTS[("imap", self.imap_security)]

    @property
    def smtp_endpoint(self) -> tuple[str, int]:
        """(host, port) of the SMTP server."""
        return (self.smtp_host or self.imap_host,
                self.smtp_port or _DEFAULT_PORTS[("smtp", self.smtp_security)])

    @property
    def login(self) -> str:
        """The IMAP login name."""
        return self.username or self.address

    @property
    def smtp_login(self) -> str:
        """The SMTP login name."""
        return self.smtp_username or self.login

    @property
    def secrets(self) -> tuple[str | None, ...]:
        """Values that must never reach a message or a log."""
        return (self.password, self.access_token)

    def host_saves_sent(self) -> bool:
        """Whether the configured hosts belong to a provider that keeps sent mail itself."""
        if self.provider_saves_sent is not None:
            return self.provider_saves_sent
        return any(PROVIDER_SAVES_SENT_HOSTS.search(h) for h in
                   (self.imap_host, self.smtp_endpoint[0]))


_IMAP_SCHEMES = {"imaps": Security.TLS, "imap": Security.STARTTLS}
_SMTP_SCHEMES = {"smtps": Security.TLS, "smtp": Security.STARTTLS}


def _endpoint(url: str, schemes: dict[str, Security], what: str
              ) -> tuple[str, int | None, Security, str | None]:
    parts = urlsplit(url if "://" in url else f"{what}://{url}")
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        raise errors.UnsupportedProtocol(
            f"{scheme}:// is not a {what.upper()} address inboxlink accepts.", code=scheme,
            remedy=f"Use {' or '.join(s + '://' for s in schemes)}; plain-text connections "
            "are never used (STARTTLS is mandatory on the plain ports).",
        )
    if not parts.hostname:
        raise errors.ConfigurationError(f"{url!r} names no host.",
                                        remedy=f"Write it as {scheme}://user@host:port.")
    try:
        port = parts.port
    except ValueError as exc:
        raise errors.ConfigurationError(f"{url!r} has an invalid port.",
                                        remedy="Use a number between 1 and 65535.") from exc
    user = unquote(parts.username) if parts.username else None
    return parts.hostname, port, schemes[scheme], user


def _guess_address(user: str | None, host: str) -> str:
    if user and "@" in user:
        return user
    domain = re.sub(r"^(imap|imaps|mail|mx)\d*\.", "", host, flags=re.I)
    return f"{user or 'mailbox'}@{domain}"


#: the sign-in options a token provider replaces
_TOKEN_CONFLICTS = ("password", "access_token")


def _take_token_source(url: str, options: dict[str, Any]) -> None:
    """Turn ``token_provider=`` / ``token_cache=`` (+ ``provider=``) into `token_provider`."""
    if options.get("token_provider") is None and options.get("token_cache") in (None, False):
        return
    from inboxlink.auth.provider import resolve_token_source

    clashing = [name for name in _TOKEN_CONFLICTS if options.get(name)]
    if clashing:
        raise errors.ConfigurationError(
            "token_provider=/token_cache= cannot be combined with "
            + ", ".join(f"{name}=" for name in clashing) + ".",
            remedy="Sign in with the token provider only (or drop it and pass a password).")
    options["token_provider"] = resolve_token_source(url, options)


def settings_from_url(url: str, **options: Any) -> ImapSettings:
    """Settings for ``imaps://alice@host`` / ``imap://…`` plus ``connect()`` keyword options.

    ``smtp='smtp://host:587'`` (STARTTLS) or ``'smtps://host:465'`` names the SMTP server;
    ``imap_host=``, ``imap_port=``, ``smtp_host=``, ``smtp_port=`` override any part.
    """
    if options.get("password") and options.get("access_token"):
        raise errors.ConfigurationError("Pass either password= or access_token=, not both.",
                                        remedy="Use access_token= for OAuth (XOAUTH2).")
    _take_token_source(url, options)
    host, port, security, user = _endpoint(url, _IMAP_SCHEMES, "imap")
    fields: dict[str, Any] = {"imap_host": host, "imap_port": port, "imap_security": security}
    if user:
        fields["username"] = user
    smtp = options.pop("smtp", None)
    if smtp:
        s_host, s_port, s_security, s_user = _endpoint(smtp, _SMTP_SCHEMES, "smtp")
        fields.update(smtp_host=s_host, smtp_port=s_port, smtp_security=s_security)
        if s_user:
            fields["smtp_username"] = s_user
    fields.update({k: v for k, v in options.items() if v is not None})
    fields.setdefault("address", _guess_address(fields.get("username"), host))
    known = {a.name for a in attrs.fields(ImapSettings)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise errors.ConfigurationError(
            "Unknown option(s) for the IMAP adapter: " + ", ".join(unknown) + ".",
            provider="imap", code="option",
            remedy="See docs/imap.md for the options: " + ", ".join(sorted(known)) + ".",
        )
    return ImapSettings(**fields)
