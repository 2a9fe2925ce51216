"""Settings for `GraphMailbox` (importable without msgraph)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs

from inboxlink import errors
from inboxlink.models import FolderRole
from inboxlink.retry import RetryPolicy

if TYPE_CHECKING:
    from inboxlink.budget import Budget

__all__ = ["DEFAULT_BASE_URL", "GraphSettings"]

DEFAULT_BASE_URL = "https://graph.microsoft.com/v1.0"
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
#: upload-session chunks are whole multiples of this; one request carries at most 4 MB
_CHUNK_UNIT = 320 * 1024
_MAX_CHUNK = 4 * 1024 * 1024


def _strip_slash(value: str) -> str:
    return value.rstrip("/")


def _take_token_source(settings: GraphSettings) -> None:
    """``token_provider=`` / ``token_cache=`` as the azure-core ``credential`` Graph asks."""
    if settings.token_provider is None and settings.token_cache in (None, False):
        return
    from inboxlink.auth.bridges import AzureCredential, as_azure_credential
    from inboxlink.auth.provider import resolve_token_source

    if isinstance(settings.credential, AzureCredential):
        return  # already converted (the settings were copied with attrs.evolve)
    clashing = [name for name in ("credential", "access_token")
                if getattr(settings, name) is not None]
    if clashing:
        raise errors.ConfigurationError(
            "token_provider=/token_cache= cannot be combined with "
            + ", ".join(f"{name}=" for name in clashing) + ".", provider="graph",
            remedy="Pass only one way of signing in.")
    provider = resolve_token_source(f"graph://{settings.address}",
                                    {"token_provider": settings.token_provider,
                                     "token_cache": settings.token_cache})
    if provider is None:
        return
    # Frozen settings: the derived credential is set once, here, before anyone reads it.
    object.__setattr__(settings, "token_provider", provider)
    object.__setattr__(settings, "credential", as_azure_credential(provider))


@attrs.frozen
class GraphSettings:
    """How to reach one Microsoft 365 mailbox through Microsoft Graph.

    Args:
        address: the mailbox's e-mail address.
        credential: an azure-identity ``TokenCredential`` (sync or async); it is asked for
            ``scopes`` and refreshes tokens itself.
        access_token: a ready bearer token instead of ``credential`` (it is not refreshed).
        token_provider / token_cache: OAuth tokens from a `TokenProvider`, or from the cache
            ``inboxlink login graph://…`` wrote (a directory, a file, or ``True`` for the
            default one); used as ``credential`` through `as_azure_credential`.
        user_id: ``None`` for delegated access (``/me``); an object id or UPN for
            application access (``/users/{id}``).
        base_url: the Graph root; point it at a national cloud or a local emulator.
        scopes: what ``credential`` is asked for; default ``<base_url origin>/.default``.
        tenant_id, client_id, redirect_uri: the app registration, used to build the
            admin-consent link of `AdminConsentRequired` (read from
            the token's ``tid``/``appid`` claims when not given).
        probe_mailbox: after "REST API not enabled", ask ``GET /me?$select=mail,assignedPlans``
            whether the account has an Exchange Online mailbox at all (needs User.Read).
        timeout: seconds one call may take before ``OperationTimeout``.
        max_concurrent: most HTTP requests in flight at once for this mailbox, counted over
            every thread and every ``GraphMailbox`` of the same mailbox in the process
            (Exchange Online throttles a fifth concurrent request per app and mailbox).
        budget: a shared `inboxlink.budget.Budget` (e.g. `RedisBudget`) that holds the
            ``max_concurrent`` cap across processes and machines too (default: none, the
            process's own limiter only).
        simple_send_limit: the largest MIME message (bytes) sent in one ``sendMail``; it
            travels base64-encoded, so 3 MB stays under Graph's 4 MB per request. Larger
            messages go as a draft plus attachment uploads.
        upload_chunk_size: bytes per ``PUT`` of an attachment upload session: a multiple of
            320 KiB, at most 4 MB.
        max_message_size: the largest message sent at all (Graph: 150 MB); above it
            `MessageTooLarge` is raised before anything is sent. The tenant's own limit
            (35 MB unless an admin raised it) is enforced by Exchange Online at send time.
    """

    address: str
    credential: Any = attrs.field(default=None, repr=False)
    access_token: str | None = attrs.field(default=None, repr=False)
    # A token provider or cache (issue 16) becomes `credential`; never shown in a repr.
    token_provider: Any = attrs.field(default=None, repr=False)
    token_cache: Any = attrs.field(default=None, repr=False)
    user_id: str | None = None
    base_url: str = attrs.field(default=DEFAULT_BASE_URL, converter=_strip_slash)
    scopes: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    tenant_id: str | None = None
    client_id: str | None = None
    redirect_uri: str | None = None
    probe_mailbox: bool = True
    timeout: float = 120.0
    max_concurrent: int = 4
    sent_folder: str | None = None
    role_overrides: Mapping[FolderRole, str] | None = None
    retry: RetryPolicy | None = None
    budget: Budget | None = attrs.field(default=None, repr=False, eq=False)
    simple_send_limit: int = 3_000_000
    upload_chunk_size: int = 10 * _CHUNK_UNIT
    max_message_size: int = 150 * 1024 * 1024

    def __attrs_post_init__(self) -> None:
        _take_token_source(self)
        if (self.credential is None) == (self.access_token is None):
            raise errors.ConfigurationError(
                "Give exactly one of credential= or access_token=.",
                provider="graph",
                remedy="Pass an azure-identity credential (credential=...) or a bearer token "
                "(access_token=...), not both and not neither.",
            )
        if (isinstance(self.max_concurrent, bool) or not isinstance(self.max_concurrent, int)
                or self.max_concurrent < 1):
            raise errors.ConfigurationError(
                f"max_concurrent={self.max_concurrent!r} is not a whole number of at least 1.",
                provider="graph",
                remedy="Use max_concurrent=4 (Microsoft's limit per mailbox) or fewer.",
            )
        if (isinstance(self.upload_chunk_size, bool) or not isinstance(self.upload_chunk_size, int)
                or self.upload_chunk_size % _CHUNK_UNIT or not
                _CHUNK_UNIT <= self.upload_chunk_size <= _MAX_CHUNK):
            raise errors.ConfigurationError(
                f"upload_chunk_size={self.upload_chunk_size!r} is not a multiple of 320 KiB "
                "between 320 KiB and 4 MB.", provider="graph",
                remedy=f"Use e.g. upload_chunk_size={10 * _CHUNK_UNIT} (3.125 MiB).")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise errors.ConfigurationError(
                f"base_url {self.base_url!r} is not an http(s) URL.", provider="graph",
                remedy="Use e.g. https://graph.microsoft.com/v1.0.",
            )
        if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
            # A bearer token must never cross the network in clear.
            raise errors.ConfigurationError(
                f"base_url {self.base_url!r} is plain http.", provider="graph",
                remedy="Use https://; plain http is allowed only for localhost emulators.",
            )

    @property
    def origin(self) -> str:
        """``scheme://host[:port]`` of `base_url`."""
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def token_scopes(self) -> tuple[str, ...]:
        """The scopes a credential is asked for."""
        if self.scopes:
            return self.scopes
        parts = urlsplit(self.base_url)
        host = parts.hostname or "graph.microsoft.com"
        if host in _LOOPBACK:
            host = "graph.microsoft.com"
        return (f"https://{host}/.default",)

    @property
    def user_path(self) -> str:
        """``/me`` (delegated) or ``/users/{id}`` (application)."""
        from urllib.parse import quote

        return "/me" if self.user_id is None else "/users/" + quote(self.user_id, safe="@")
