"""Settings for `GmailMailbox` and how a ``gmail://`` URL fills them (no client library
needed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import attrs

from inboxlink import errors
from inboxlink.models import FolderRole
from inboxlink.retry import RetryPolicy

if TYPE_CHECKING:
    from inboxlink.budget import Budget

__all__ = ["DEFAULT_API_ENDPOINT", "MAX_INSERT_SIZE", "MAX_MESSAGE_SIZE", "GmailSettings"]

DEFAULT_API_ENDPOINT = "https://gmail.googleapis.com/"
#: Gmail refuses batches of more than 100 calls and rate-limits those above 50
MAX_BATCH = 100
#: the largest message messages.send / messages.insert accept (the discovery document's
#: ``maxSize`` for their media upload: 35 MB)
MAX_MESSAGE_SIZE = 35 * 1024 * 1024
#: the largest message messages.insert / messages.import accept (their ``maxSize``: 150 MB)
MAX_INSERT_SIZE = 150 * 1024 * 1024
#: resumable upload chunks must be multiples of this (Google's upload protocol)
_CHUNK_UNIT = 256 * 1024


def _endpoint(value: str) -> str:
    return value if value.endswith("/") else value + "/"


def _batch_size(instance: Any, attribute: Any, value: int) -> None:
    if not 1 <= value <= MAX_BATCH:
        raise ValueError(f"batch_size must be between 1 and {MAX_BATCH} (Gmail's limit)")


def _chunk_size(instance: Any, attribute: Any, value: int) -> None:
    if value < _CHUNK_UNIT or value % _CHUNK_UNIT:
        raise ValueError(f"upload_chunk_size must be a positive multiple of {_CHUNK_UNIT} "
                         "bytes (256 KiB, Google's resumable upload unit)")


def _upload_limit(instance: Any, attribute: Any, value: int) -> None:
    if not 0 <= value <= MAX_MESSAGE_SIZE:
        raise ValueError(f"{attribute.name} must be between 0 and {MAX_MESSAGE_SIZE} bytes "
                         "(Gmail's 35 MB limit)")


@attrs.frozen(kw_only=True)
class GmailSettings:
    """How to reach one Gmail mailbox.

    Args:
        address: the mailbox's address (``alice@gmail.com``).
        credentials: google-auth credentials: user OAuth
            (``google.oauth2.credentials.Credentials`` with a refresh token) or a service
            account (``google.oauth2.service_account.Credentials``) used with ``subject``.
        access_token: a bare OAuth access token instead of ``credentials`` (never renewed).
        token_provider / token_cache: OAuth tokens from a `TokenProvider`, or from the cache
            ``inboxlink login gmail://…`` wrote (a directory, a file, or ``True`` for the
            default one); used as ``credentials`` through `as_google_credentials`.
        subject: for a service account with domain-wide delegation: the user to act as
            (defaults to ``address`` when the credentials support ``with_subject``).
        api_endpoint: the Gmail API root; batches go to ``<api_endpoint>batch/gmail/v1``.
        user_id: the Gmail ``userId`` (``"me"`` = the authorized user).
        timeout: seconds per HTTP request.
        batch_size: calls per batch request (Gmail allows 100 and advises at most 50).
        quota_units_per_minute: pace under this many quota units a minute (Gmail's per-user
            limit is 15,000); ``None`` turns pacing off.
        verify_ids: before ``batchModify``/``batchDelete``, look the ids up (one batch of
            ``messages.get(format=minimal)`` per ``batch_size`` ids) so that unknown ids are
            reported as ``MessageNotFound``: Gmail itself ignores them silently. ``False``
            saves those requests and quota units, and unknown ids then go unnoticed.
        sent_folder / role_overrides / retry: as for every adapter.
        budget: a shared `inboxlink.budget.Budget` (e.g. `RedisBudget`): the quota pacing
            then holds for the user across processes and machines (default: none, each
            mailbox object paces itself).
        simple_upload_limit: messages up to this many bytes are sent/inserted in one
            request (base64url ``raw`` inside JSON); larger ones through a resumable media
            upload read from the spooled message, never held in memory.
        upload_chunk_size: bytes per resumable upload chunk (a multiple of 256 KiB); a
            dropped chunk costs at most one chunk sent again.
        max_message_size: messages larger than this are refused with ``MessageTooLarge``
            before anything is sent (Gmail's own limit is 35 MB, the default). Copies
            stored with ``append_to_sent`` may be up to 150 MB (``messages.insert``'s limit).
    """

    address: str
    credentials: Any = attrs.field(default=None, repr=False)
    access_token: str | None = attrs.field(default=None, repr=False)
    # A token provider or cache (issue 16) becomes `credentials`; never shown in a repr.
    token_provider: Any = attrs.field(default=None, repr=False)
    token_cache: Any = attrs.field(default=None, repr=False)
    subject: str | None = None
    api_endpoint: str = attrs.field(default=DEFAULT_API_ENDPOINT, converter=_endpoint)
    user_id: str = "me"
    timeout: float = 60.0
    batch_size: int = attrs.field(default=50, validator=_batch_size)
    quota_units_per_minute: int | None = 15_000
    verify_ids: bool = True
    sent_folder: str | None = None
    role_overrides: Mapping[FolderRole, str] | None = None
    retry: RetryPolicy | None = None
    budget: Budget | None = attrs.field(default=None, repr=False, eq=False)
    simple_upload_limit: int = attrs.field(default=5 * 1024 * 1024, validator=_upload_limit)
    upload_chunk_size: int = attrs.field(default=8 * 1024 * 1024, validator=_chunk_size)
    max_message_size: int = attrs.field(default=MAX_MESSAGE_SIZE, validator=_upload_limit)

    def __attrs_post_init__(self) -> None:
        if self.token_provider is None and self.token_cache in (None, False):
            return
        from inboxlink.auth.bridges import as_google_credentials
        from inboxlink.auth.provider import resolve_token_source

        if self.credentials is not None and \
                getattr(self.credentials, "_provider", None) is self.token_provider:
            return  # already converted (the settings were copied with attrs.evolve)
        clashing = [name for name in ("credentials", "access_token", "subject")
                    if getattr(self, name) is not None]
        if clashing:
            raise errors.ConfigurationError(
                "token_provider=/token_cache= cannot be combined with "
                + ", ".join(f"{name}=" for name in clashing) + ".", provider="gmail",
                remedy="Pass only one way of signing in (a service account takes "
                       "credentials= and subject=).")
        provider = resolve_token_source(
            f"gmail://{self.address}",
            {"token_provider": self.token_provider, "token_cache": self.token_cache})
        if provider is None:
            return
        # Frozen settings: the derived credentials are set once, here, before anyone reads
        # them.
        object.__setattr__(self, "token_provider", provider)
        object.__setattr__(self, "token_cache", None)
        object.__setattr__(self, "credentials", as_google_credentials(provider))

    @classmethod
    def from_url(cls, url: str, /, **options: Any) -> GmailSettings:
        """Settings for ``gmail://alice@gmail.com`` plus `GmailSettings` fields as keywords.

        An unknown keyword raises ``ConfigurationError`` naming it, before any connection.
        """
        parts = urlsplit(url)
        if parts.scheme.lower() != "gmail":
            raise errors.UnsupportedProtocol(f"Not a gmail:// URL: {parts.scheme}://",
                                             provider="gmail")
        user = unquote(parts.username or "")
        address = f"{user}@{parts.hostname}" if user and parts.hostname else (
            unquote(parts.netloc) or unquote(parts.path.lstrip("/")))
        if "@" not in address:
            raise errors.ConfigurationError(
                f"{url!r} names no mailbox address.", provider="gmail",
                remedy="Use gmail://alice@gmail.com (the account's address).",
            )
        unknown = sorted(set(options) - {a.name for a in attrs.fields(cls)})
        if unknown:
            raise errors.ConfigurationError(
                "Unknown option(s) for gmail://: " + ", ".join(f"{name}=" for name in unknown)
                + ".", provider="gmail",
                code="option",
                remedy="Check the spelling; the options are GmailSettings' fields "
                       "(credentials=, access_token=, api_endpoint=, …).",
            )
        options.setdefault("address", address)
        try:
            return cls(**options)
        except (TypeError, ValueError) as exc:
            raise errors.ConfigurationError(str(exc), provider="gmail",
                                            remedy="Check the keyword options.") from exc

    @property
    def batch_uri(self) -> str:
        """Where batch requests go: always derived from `api_endpoint`."""
        return self.api_endpoint + "batch/gmail/v1"
