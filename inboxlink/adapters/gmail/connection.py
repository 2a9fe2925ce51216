"""The Gmail connection: the googleapiclient service, its HTTP, pacing, and batches.

The discovery document shipped with google-api-python-client is parsed once per process;
each mailbox builds its own service object on it, because a service owns an
``httplib2.Http`` (with the mailbox's credentials), which is not safe to share.
`GmailConnection` runs every request: paced under the per-user quota, counted, through the
single-shot HTTP when it must never be repeated, and with a connection that saw a transport
failure dropped.
"""

from __future__ import annotations

import functools
import http.client
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

from inboxlink import errors
from inboxlink.adapters.gmail import _httplib2_shim
from inboxlink.adapters.gmail._quota import COST, TokenBucket, shared_pacer
from inboxlink.adapters.gmail._single_shot import SingleShotHttp
from inboxlink.adapters.gmail.errors import TABLE, extract
from inboxlink.adapters.gmail.settings import GmailSettings
from inboxlink.retry import RetryPolicy, is_retryable
from inboxlink.translate import translating

__all__ = [
    "EMPTY_ANSWERS",
    "GmailConnection",
    "MalformedAnswer",
    "authorized_http",
    "build_service",
    "discovery_document",
    "is_transport_failure",
    "json_object",
    "new_batch",
    "single_shot_http",
]

log = logging.getLogger("inboxlink.gmail")

#: methods Gmail documents with an empty response body (204): nothing to check there
EMPTY_ANSWERS = frozenset({"messages.batchModify", "messages.batchDelete", "messages.delete",
                           "stop"})


class MalformedAnswer(ValueError):
    """A 2xx answer whose body is not the JSON object the API documents."""


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


def json_object(result: Any, method: str) -> dict[str, Any]:
    """``result`` if it is a JSON object; a 200 with anything else is a malformed answer.

    googleapiclient hands a body that is not JSON over as a plain string (and a JSON list
    as a list), which would otherwise fail later as an ``AttributeError``.
    """
    if method in EMPTY_ANSWERS and not result:
        return {}
    if not isinstance(result, dict):
        kind = type(result).__name__
        raise MalformedAnswer(f"Gmail answered {method} with a {kind}, not a JSON object.")
    return result


def is_transport_failure(exc: BaseException) -> bool:
    """Whether ``exc`` means the connection it happened on can no longer be trusted."""
    import httplib2

    return isinstance(exc, (OSError, http.client.HTTPException, httplib2.HttpLib2Error,
                            socket.timeout, ssl.SSLError))


def typed(operation: str, exc: Exception) -> BaseException:
    """The typed error the boundary makes of ``exc`` (``exc`` itself if it is not a client
    error), without raising it: the same `translating` every public call goes through."""
    try:
        with translating(TABLE, extract, operation):
            raise exc
    except errors.InboxLinkError as error:
        return error
    except Exception:
        return exc


class GmailConnection:
    """One mailbox's service and HTTP, and every request made through them.

    Args:
        settings: the mailbox's settings.
        retry: the policy whose budget a batch's retried calls draw on.
    """

    def __init__(self, settings: GmailSettings, retry: RetryPolicy) -> None:
        self.settings = settings
        self.retry = retry
        self.lock = threading.RLock()
        self.bucket: TokenBucket | None = (
            TokenBucket.per_minute(settings.quota_units_per_minute)
            if settings.quota_units_per_minute and settings.budget is None else None
        )
        self._shared = (shared_pacer(settings.budget, settings.subject or settings.address,
                                     settings.quota_units_per_minute, settings.timeout)
                        if settings.quota_units_per_minute and settings.budget else None)
        #: quota units spent (whether paced or not)
        self.units_spent = 0
        #: HTTP requests made (a batch counts once, an upload once per request)
        self.requests_made = 0
        self.http: Any = authorized_http(settings)
        #: for requests that must go out at most once (sends, inserts, uploads)
        self.send_http: Any = single_shot_http(settings, self.http)
        self.service: Any = build_service(settings, self.http)

    @property
    def messages(self) -> Any:
        """``users().messages()`` of the service."""
        return self.service.users().messages()

    def close(self) -> None:
        """Close the pooled connections."""
        with self.lock:
            _httplib2_shim.close_connections(self.http)

    def pace(self, units: int) -> None:
        """Spend ``units`` quota units, waiting while the bucket is empty."""
        self.units_spent += units
        if self._shared is not None:
            self._shared(units)
        elif self.bucket is not None:
            self.bucket.take(units)

    def execute(self, request: Any, method: str, *, once: bool = False,
                json: bool = True) -> Any:
        """Run one request (``once``: through the single-shot HTTP, never repeated below us).

        A transport failure drops the pooled connections (a half-read answer must not be
        read by the next request); a 2xx whose body is not a JSON object is refused here.
        """
        with self.lock:
            self.pace(COST[method])
            self.requests_made += 1
            try:
                result = request.execute(http=self.send_http if once else None, num_retries=0)
            except Exception as exc:
                if is_transport_failure(exc):
                    _httplib2_shim.close_connections(self.http)
                raise
        return json_object(result, method) if json else result

    def batch(self, operation: str, build: Callable[[str], Any], method: str,
              ids: list[str], missing: list[str] | None = None) -> dict[str, Any]:
        """Run ``build(id)`` for every id in batches of ``batch_size``.

        Calls that failed with a retryable error (throttled, 5xx) are repeated alone —
        never the whole batch — within the public call's one retry budget (shared with the
        policy around it) and total time; any other failure is raised as the client raised
        it, for the boundary to translate. With ``missing`` given, ids the provider does not
        know are put there instead.
        """
        results: dict[str, Any] = {}
        pending = list(dict.fromkeys(ids))
        policy = self.retry
        started = time.monotonic()
        attempt = 0
        while pending:
            attempt += 1
            failed: dict[str, Exception] = {}
            for start in range(0, len(pending), self.settings.batch_size):
                chunk = pending[start:start + self.settings.batch_size]
                self._run_batch(build, method, chunk, results, failed)
            if not failed:
                break
            translated = {k: typed(operation, v) for k, v in failed.items()}
            if missing is not None:
                gone = [k for k in pending if isinstance(translated.get(k),
                                                         errors.MessageNotFound)]
                missing.extend(gone)
                for k in gone:
                    del failed[k], translated[k]
                if not failed:
                    break
            hard = [k for k in pending if k in failed and not is_retryable(translated[k])]
            hints = [getattr(e, "retry_after", None) for e in translated.values()]
            # resend_wait: the policy's back-off, drawn on the public call's one retry budget.
            wait = None if hard else policy.resend_wait(attempt, started, hints)
            if wait is None:
                raise failed[hard[0] if hard else next(iter(failed))]
            log.info("gmail: %d of %d calls throttled, retrying in %.1fs",
                     len(failed), len(pending), wait)
            policy.nap(wait)
            pending = [k for k in pending if k in failed]
        return results

    def _run_batch(self, build: Callable[[str], Any], method: str, chunk: list[str],
                   results: dict[str, Any], failed: dict[str, Exception]) -> None:
        def collect(request_id: str, response: Any, exception: Exception | None) -> None:
            if exception is None and not isinstance(response, dict):
                # A part answered 200 with a body that is not JSON: retried like a 5xx.
                exception = MalformedAnswer(f"Gmail answered {method} with a "
                                            f"{type(response).__name__}.")
            if exception is not None:
                failed[request_id] = exception
            else:
                results[request_id] = response

        batch = new_batch(self.settings, collect)
        for message_id in chunk:
            batch.add(build(message_id), request_id=message_id)
        with self.lock:
            self.pace(COST[method] * len(chunk))
            self.requests_made += 1
            try:
                batch.execute()
            except Exception as exc:
                if is_transport_failure(exc):
                    _httplib2_shim.close_connections(self.http)
                raise
