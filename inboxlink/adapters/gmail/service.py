"""Building the googleapiclient service: static discovery document, no network at build.

The discovery document shipped with google-api-python-client is parsed once per process;
each mailbox builds its own service object on it, because a service owns an
``httplib2.Http`` (with the mailbox's credentials), which is not safe to share.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from inboxlink import errors
from inboxlink.adapters.gmail.settings import GmailSettings

__all__ = ["authorized_http", "build_service", "discovery_document", "new_batch", "single_shot_http"]


@functools.lru_cache(maxsize=1)
def discovery_document() -> dict[str, Any]:
    """The Gmail v1 discovery document bundled with the client (parsed once per process)."""
    from googleapiclient.discovery_cache import get_static_doc

    text = get_static_doc("gmail", "v1")
    if text is None:  # pragma: no cover - only with a broken client installation
        raise errors.AdapterNotAvailable(
            "google-api-python-client has no bundled Gmail discovery document.",
            provider="gmail",
            remedy="Reinstall google-api-python-client 2.x: pip install 'inboxlink[gmail]'.",
        )
    doc: dict[str, Any] = json.loads(text)
    return doc


def _credentials(settings: GmailSettings) -> tuple[Any, bool]:
    """The google-auth credentials to use and whether they can be refreshed."""
    if settings.credentials is not None and settings.access_token is not None:
        raise errors.ConfigurationError(
            "Pass either credentials= or access_token=, not both.", provider="gmail",
            remedy="Use credentials= (renewed automatically) or a bare access_token=.",
        )
    if settings.access_token is not None:
        from google.oauth2 import credentials as user_credentials

        token_only: Any = user_credentials.Credentials
        return token_only(token=settings.access_token), False
    if settings.credentials is None:
        raise errors.ConfigurationError(
            "The Gmail adapter needs credentials= or access_token=.", provider="gmail",
            remedy="Pass google-auth credentials (user OAuth, or a service account with "
                   "subject=) or an OAuth access token with the Gmail scopes.",
        )
    creds = settings.credentials
    subject = settings.subject
    if subject is None and _is_service_account(creds) and not getattr(creds, "_subject", None):
        subject = settings.address
    if subject is not None:
        if not hasattr(creds, "with_subject"):
            raise errors.ConfigurationError(
                "subject= needs service-account credentials.", provider="gmail",
                remedy="Drop subject= for user OAuth credentials, or pass a service account.",
            )
        creds = creds.with_subject(subject)
    return creds, True


def _is_service_account(creds: Any) -> bool:
    from google.oauth2 import service_account

    return isinstance(creds, service_account.Credentials)


def authorized_http(settings: GmailSettings) -> Any:
    """An ``httplib2.Http`` that signs every request with the settings' credentials."""
    import google_auth_httplib2
    import httplib2

    creds, refreshable = _credentials(settings)
    base = httplib2.Http(timeout=settings.timeout)
    # A bare access token cannot be renewed: let the 401 through instead of a refresh
    # attempt that would fail with a confusing "missing fields" error.
    codes: tuple[int, ...] = (401,) if refreshable else ()
    return google_auth_httplib2.AuthorizedHttp(creds, http=base, refresh_status_codes=codes)


def single_shot_http(settings: GmailSettings, authorized: Any) -> Any:
    """An authorized HTTP for requests that must go out at most once (``messages.send``).

    It signs with the same credentials object as ``authorized`` (so one token serves both)
    but sends through `SingleShotHttp`, never
    through httplib2, which repeats a request whose connection closed before the answer.
    """
    import google_auth_httplib2

    from inboxlink.adapters.gmail.transport import SingleShotHttp

    codes: tuple[int, ...] = (401,) if settings.access_token is None else ()
    return google_auth_httplib2.AuthorizedHttp(
        authorized.credentials, http=SingleShotHttp(settings.timeout), refresh_status_codes=codes
    )


def build_service(settings: GmailSettings, http: Any) -> Any:
    """The ``gmail`` v1 service on ``http``, calling ``settings.api_endpoint``."""
    from googleapiclient.discovery import build_from_document

    return build_from_document(
        discovery_document(), http=http, client_options={"api_endpoint": settings.api_endpoint}
    )


def new_batch(settings: GmailSettings, callback: Any) -> Any:
    """A batch request posted to the settings' endpoint.

    ``service.new_batch_http_request()`` would post to the discovery document's root URL
    even when ``api_endpoint`` is overridden, so the batch URI is always given explicitly.
    """
    from googleapiclient.http import BatchHttpRequest

    return BatchHttpRequest(callback=callback, batch_uri=settings.batch_uri)
