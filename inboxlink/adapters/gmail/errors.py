"""Gmail API and Google OAuth error signals → typed `inboxlink.errors`.

The table is data only (no client library needed to import it). `extract` is the
function for `inboxlink.translate.translating`; it imports the client
libraries lazily and reads what googleapiclient hides: ``HttpError.reason`` is only the
message *text*, and ``error_details`` drops the legacy ``errors[].reason`` whenever
``details`` exists, so the JSON body in ``e.content`` is parsed for ``errors[].reason``,
``details[].reason`` (``google.rpc.ErrorInfo``) and ``status`` — all three are tried against
the table, rule by rule, most specific rule first.

A code may be prefixed with the operation (``"list:invalidArgument"``) to give a reason a
meaning that only holds for one call.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import re
from collections.abc import Mapping
from typing import Any

import attrs

from inboxlink import errors
from inboxlink.translate import ErrorTable, Rule, Signal

__all__ = ["SCOPES", "TABLE", "extract", "signals_from_http_error", "translate_oauth_redirect"]

PROVIDER = "gmail"

#: the narrowest scope each operation needs (named in ``InsufficientScopes.missing``)
SCOPES: Mapping[str, str] = {
    "folders": "https://www.googleapis.com/auth/gmail.readonly",
    "list": "https://www.googleapis.com/auth/gmail.readonly",
    "fetch": "https://www.googleapis.com/auth/gmail.readonly",
    "send": "https://www.googleapis.com/auth/gmail.send",
    "append": "https://www.googleapis.com/auth/gmail.insert",
    "history": "https://www.googleapis.com/auth/gmail.readonly",
    "search": "https://www.googleapis.com/auth/gmail.readonly",
    "modify": "https://www.googleapis.com/auth/gmail.modify",
    # batchDelete (and messages.delete) need the full-access scope; gmail.modify is refused
    "delete": "https://mail.google.com/",
    "watch": "https://www.googleapis.com/auth/gmail.readonly",
}

_TRUSTED_APPS = (
    "Ask the Google Workspace administrator to mark this app as Trusted in the Admin console "
    "(Security > Access and data control > API controls > Manage third-party app access), "
    "then connect again."
)

_R = Rule
TABLE = ErrorTable(
    provider=PROVIDER,
    fallback=errors.InboxLinkError,
    rules=(
        # ---------------------------------------------------------------- project / account set-up
        _R(errors.ApiNotEnabled, code="SERVICE_DISABLED", source="gmail.api_not_enabled"),
        _R(errors.ApiNotEnabled, code="accessNotConfigured", source="gmail.api_not_enabled"),
        _R(errors.ProtocolDisabled, code="failedPrecondition", pattern=r"Mail service not enabled",
           source="gmail.mail_service_not_enabled",
           remedy="This Google account has no Gmail (a Workspace user without Gmail, or an "
                  "account made with a non-Gmail address). Ask the Workspace administrator to "
                  "turn Gmail on for the user, or connect the mailbox that really holds the mail."),
        _R(errors.ConfigurationError, code="failedPrecondition",
           pattern=r"Precondition check failed", source="gmail.precondition_failed_no_subject",
           remedy="A service account has no mailbox of its own: pass subject='user@domain' "
                  "(domain-wide delegation) so it acts as the mailbox's user, or check that the "
                  "address is a Gmail mailbox."),
        _R(errors.InsufficientScopes, code="ACCESS_TOKEN_SCOPE_INSUFFICIENT",
           source="gmail.insufficient_scopes"),
        _R(errors.InsufficientScopes, code="insufficientPermissions",
           source="gmail.insufficient_scopes"),
        _R(errors.AppBlocked, code="domainPolicy", source="gmail.domain_policy",
           remedy="The Workspace administrators have disabled Gmail access for apps like this "
                  "one. " + _TRUSTED_APPS),
        _R(errors.AppBlocked, code="USER_BLOCKED_BY_ADMIN", source="gmail.user_blocked_by_admin",
           remedy="The Workspace administrator blocks this account from the Gmail API. "
                  + _TRUSTED_APPS),
        # ---------------------------------------------------------------- quota and rate limits
        _R(errors.RateLimited, code="rateLimitExceeded",
           pattern=r"Retry after \S+ \(Mail sending\)", source="gmail.sending_limit",
           retryable=False,
           remedy="The account reached Gmail's daily sending limit (about 500 messages a day "
                  "for Gmail, 2,000 for Workspace). Sending works again after the time in "
                  "retry_after; do not resend before then."),
        _R(errors.RateLimited, code="dailyLimitExceeded", source="gmail.daily_limit",
           remedy="The app's Cloud project used up today's Gmail API quota; it resets at "
                  "midnight Pacific time. Ask for more quota in the Cloud console if this "
                  "recurs."),
        _R(errors.RateLimited, code="quotaExceeded", source="gmail.quota_exceeded_generic",
           remedy="A Gmail API quota is exhausted: wait a few minutes before retrying; "
                  "do not retry in a tight loop."),
        _R(errors.RateLimited, code="RESOURCE_QUOTA_EXCEEDED",
           source="gmail.quota_exceeded_generic",
           remedy="A Gmail API quota is exhausted: wait a few minutes before retrying; "
                  "do not retry in a tight loop."),
        _R(errors.RateLimited, code="userRateLimitExceeded", source="gmail.user_rate_limit",
           remedy="Gmail is limiting requests for this mailbox (15,000 quota units per user "
                  "per minute, or too many requests at once). inboxlink slows down and "
                  "retries reads; lower quota_units_per_minute if it keeps happening."),
        _R(errors.RateLimited, code="rateLimitExceeded",
           pattern=r"User.rate limit|concurrent requests for user", source="gmail.user_rate_limit",
           remedy="Gmail is limiting requests for this mailbox (15,000 quota units per user "
                  "per minute, or too many requests at once). inboxlink slows down and "
                  "retries reads; lower quota_units_per_minute if it keeps happening."),
        _R(errors.RateLimited, code="rateLimitExceeded", source="gmail.project_rate_limit",
           remedy="The app's Cloud project is over its Gmail API quota (1,200,000 units per "
                  "minute); retry shortly, and ask Google for more quota if it recurs."),
        _R(errors.RateLimited, code="RATE_LIMIT_EXCEEDED", source="gmail.project_rate_limit"),
        _R(errors.RateLimited, code="RESOURCE_EXHAUSTED", source="gmail.project_rate_limit"),
        _R(errors.TransientError, code="backendError", source="gmail.backend_error"),
        _R(errors.TransientError, code="internalError", source="gmail.backend_error"),
        # ---------------------------------------------------------------- push (users.watch)
        _R(errors.PermissionDenied, code="watch:forbidden", pattern=r"Cloud ?Pub/?Sub",
           remedy="Gmail may not publish to this Pub/Sub topic: grant "
                  "gmail-api-push@system.gserviceaccount.com the Pub/Sub Publisher role on "
                  "it, then call watch again."),
        _R(errors.ConfigurationError, code="watch:invalidArgument", pattern=r"topic",
           remedy="Name the topic in full: projects/<project-id>/topics/<topic>, in the same "
                  "Cloud project as the OAuth client."),
        # ---------------------------------------------------------------- items
        _R(errors.SyncTokenExpired, code="history:notFound", source="gmail.history_expired",
           remedy="Gmail no longer keeps history that old (about a week): take a new "
                  "sync_token() and list the folder again."),
        _R(errors.SyncTokenExpired, code="history:invalidArgument",
           pattern=r"startHistoryId", source="gmail.history_expired",
           remedy="The sync token's history id is not one Gmail accepts: take a new "
                  "sync_token() and list the folder again."),
        _R(errors.CursorExpired, code="list:invalidArgument", pattern=r"page ?token",
           remedy="The cursor no longer applies: start the listing again without a cursor."),
        _R(errors.FolderNotFound, code="list:notFound",
           remedy="The label no longer exists: refresh mailbox.folders() and pick another."),
        _R(errors.FolderNotFound, code="folders:notFound"),
        _R(errors.MessageNotFound, code="fetch:invalidArgument", pattern=r"Invalid id value",
           source="gmail.not_found",
           remedy="No message has this id in the mailbox: use an id from list_messages()."),
        _R(errors.MessageNotFound, code="modify:invalidArgument", pattern=r"Invalid id value",
           source="gmail.not_found",
           remedy="No message has this id in the mailbox: use an id from list_messages()."),
        _R(errors.MessageNotFound, code="notFound", source="gmail.not_found",
           remedy="The message no longer exists in Gmail (deleted or an id from another "
                  "mailbox): list the folder again."),
        _R(errors.MessageNotFound, code="NOT_FOUND", source="gmail.not_found"),
        _R(errors.InvalidMessage, code="invalidArgument",
           pattern=r"'raw' RFC822 payload|Recipient address required|Invalid To header|"
                   r"Invalid value for ByteString",
           source="gmail.invalid_raw_message",
           remedy="Gmail refused the message as malformed (for example no recipient or a bad "
                  "To header): check the recipients and headers, then send again."),
        _R(errors.InvalidMessage, code="send:invalidArgument", source="gmail.invalid_raw_message"),
        _R(errors.InvalidMessage, code="send:badRequest", source="gmail.invalid_raw_message"),
        _R(errors.InvalidMessage, code="append:invalidArgument",
           source="gmail.invalid_raw_message"),
        _R(errors.InvalidCredentials, code="authError", source="gmail.invalid_credentials_401",
           remedy="Gmail refused the access token (expired or revoked). Pass google-auth "
                  "credentials with a refresh token (credentials=) so inboxlink renews it, "
                  "or get a fresh access token."),
        _R(errors.InvalidCredentials, code="UNAUTHENTICATED",
           source="gmail.invalid_credentials_401",
           remedy="Gmail refused the access token (expired or revoked). Pass google-auth "
                  "credentials with a refresh token (credentials=) so inboxlink renews it, "
                  "or get a fresh access token."),
        # ---------------------------------------------------------------- OAuth token endpoint
        # A bare access token met a 401 where the client tries to refresh (batch calls).
        _R(errors.InvalidCredentials, pattern=r"necessary fields need to refresh",
           source="gmail.invalid_credentials_401",
           remedy="Gmail refused the access token (expired or revoked) and a bare token "
                  "cannot be renewed: pass google-auth credentials with a refresh token "
                  "(credentials=), or get a fresh access token."),
        _R(errors.InteractionRequired, pattern=r"invalid_rapt|rapt_required|Reauthentication",
           source="google_oauth.reauth_required",
           remedy="The organization requires the user to sign in to Google again (session "
                  "control): ask them to reconnect the mailbox."),
        _R(errors.MailboxNotFound, code="invalid_grant",
           pattern=r"Not a valid email|Invalid email or User ID",
           source="google_oauth.dwd_invalid_subject",
           remedy="The address the service account impersonates (subject=) is not a user of "
                  "the Workspace domain: check the address."),
        _R(errors.ConfigurationError, code="invalid_grant", pattern=r"Invalid JWT",
           source="google_oauth.dwd_invalid_subject",
           remedy="Google refused the service account's signed token: check this machine's "
                  "clock and that the service-account key is current."),
        _R(errors.ReauthorizationRequired, code="invalid_grant",
           source="google_oauth.token_revoked",
           remedy="Google no longer accepts the saved sign-in (access removed, password "
                  "changed, unused for 6 months, or the OAuth app is in 'Testing', whose "
                  "tokens expire after 7 days). Ask the user to reconnect; if it recurs "
                  "weekly, publish the app's consent screen 'In production'."),
        _R(errors.AppBlocked, code="admin_policy_enforced",
           source="google_oauth.admin_policy_enforced",
           remedy="The Workspace administrator has not approved this app's Gmail scopes. "
                  + _TRUSTED_APPS),
        _R(errors.AppBlocked, code="policy_enforced", source="google_oauth.advanced_protection",
           remedy="The Google account is enrolled in Advanced Protection, which blocks apps "
                  "that read and write mail. For a Workspace account, the administrator can "
                  "add this app to the trusted apps (Admin console > Security > API "
                  "controls); a personal account must leave Advanced Protection or use "
                  "another account. App passwords are not available either."),
        _R(errors.AppBlocked, pattern=r"approved by Advanced Protection",
           source="google_oauth.advanced_protection",
           remedy="The Google account is enrolled in Advanced Protection, which blocks apps "
                  "that read and write mail. For a Workspace account, the administrator can "
                  "add this app to the trusted apps (Admin console > Security > API "
                  "controls); a personal account must leave Advanced Protection or use "
                  "another account."),
        _R(errors.PermissionDenied, code="org_internal", source="google_oauth.org_internal",
           remedy="The app's OAuth consent screen is 'Internal': only accounts of its own "
                  "organization can use it. Sign in with such an account, or make the app "
                  "'External'."),
        _R(errors.ReauthorizationRequired, code="access_denied",
           source="google_oauth.access_denied",
           remedy="Access was not granted: reconnect and approve every requested permission. "
                  "If the app is in 'Testing', the developer must add the user as a test user; "
                  "for a service account, the scopes must be authorized in the Admin console."),
        _R(errors.ConfigurationError, code="unauthorized_client",
           source="google_oauth.dwd_unauthorized_client",
           remedy="Domain-wide delegation is not set up for this service account: in the "
                  "Admin console (Security > API controls > Domain-wide delegation) add its "
                  "numeric client ID with the Gmail scopes. Changes can take up to 24 hours."),
        _R(errors.InvalidCredentials, code="invalid_client",
           source="google_oauth.client_deleted_or_invalid",
           remedy="The app's Google OAuth client is invalid, disabled or deleted (or its "
                  "secret is wrong): whoever runs this integration must fix its Google Cloud "
                  "credentials."),
        _R(errors.InvalidCredentials, code="deleted_client",
           source="google_oauth.client_deleted_or_invalid",
           remedy="The app's Google OAuth client was deleted: whoever runs this integration "
                  "must create a new one in the Google Cloud console."),
        _R(errors.InvalidCredentials, code="disabled_client",
           source="google_oauth.client_deleted_or_invalid",
           remedy="The app's Google OAuth client was disabled: whoever runs this integration "
                  "must re-enable it in the Google Cloud console."),
        # ---------------------------------------------------------------- transport
        _R(errors.OperationTimeout, code="timeout"),
        _R(errors.ServerUnreachable, code="unreachable",
           remedy="Google's API could not be reached: check the network, proxy and firewall "
                  "(and api_endpoint= if you set one)."),
        _R(errors.TransientError, code="malformedResponse",
           remedy="Gmail answered with a body that is not the documented JSON (a proxy or "
                  "gateway page, or a cut answer): retry."),
        _R(errors.ConnectionLost, code="answerLost", retryable=False,
           remedy="The request reached Gmail but its answer was lost, so whether it took "
                  "effect is unknown: check the mailbox (e.g. the Sent label) before repeating "
                  "it."),
        _R(errors.ConnectionLost, code="connectionLost",
           remedy="The connection to Gmail broke in the middle of an answer: retry."),
        _R(errors.TransientError, code="uploadStopped",
           remedy="The upload stopped before Gmail had the whole message (the connection "
                  "kept failing, or the upload session expired), so nothing was sent or "
                  "stored: send it again."),
        _R(errors.TransientError, code="batchError",
           remedy="Gmail answered a batch request in an unexpected format: retry."),
        _R(errors.TransientError, code="refresh-retryable"),
        # ---------------------------------------------------------------- by HTTP status
        _R(errors.InvalidCredentials, status=401, source="gmail.invalid_credentials_401"),
        _R(errors.MessageNotFound, status=404, source="gmail.not_found"),
        _R(errors.RateLimited, status=429),
        _R(errors.PermissionDenied, status=403),
        _R(errors.MessageTooLarge, status=413,
           remedy="Gmail takes messages up to 35 MB, counted after attachments are "
                  "base64-encoded (about 25 MB of files). Share larger files as links "
                  "(e.g. Google Drive) instead of attaching them."),
        _R(errors.TransientError, status=(500, 502, 503, 504), source="gmail.backend_error"),
    ),
)

# Default waits when Gmail sends no Retry-After: per-user limits are per minute with a
# moving average, so a second usually suffices; project quotas are counted per minute.
_DEFAULT_RETRY_AFTER: Mapping[str, float] = {
    "gmail.user_rate_limit": 1.0,
    "gmail.project_rate_limit": 10.0,
    "gmail.quota_exceeded_generic": 60.0,
}
_SENDING_RETRY = re.compile(r"Retry after (\d{4}-\d\d-\d\dT[\d:.]+Z)")
_PROJECT = re.compile(r"projects?[/ ](\d+)")


def _seconds_until(when: dt.datetime) -> float:
    return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())


def _until_pacific_midnight() -> float:
    try:
        from zoneinfo import ZoneInfo

        zone: dt.tzinfo = ZoneInfo("America/Los_Angeles")
    except Exception:  # no tz database: Pacific standard time is close enough
        zone = dt.timezone(dt.timedelta(hours=-8))
    now = dt.datetime.now(zone)
    midnight = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1.0, (midnight - now).total_seconds())


def _retry_after(signal: Signal, rule: Rule, header: str | None) -> dict[str, Any]:
    if rule.source == "gmail.sending_limit":
        found = _SENDING_RETRY.search(signal.text)
        if found:
            stamp = dt.datetime.fromisoformat(found.group(1).replace("Z", "+00:00"))
            return {"retry_after": round(_seconds_until(stamp), 3)}
    if rule.source == "gmail.daily_limit":
        return {"retry_after": round(_until_pacific_midnight())}
    if header:
        try:
            return {"retry_after": max(0.0, float(header))}
        except ValueError:
            from email.utils import parsedate_to_datetime

            try:
                return {"retry_after": round(_seconds_until(parsedate_to_datetime(header)), 3)}
            except (TypeError, ValueError):
                pass
    return {"retry_after": _DEFAULT_RETRY_AFTER.get(rule.source or "", 1.0)}


def _project_remedy(signal: Signal, body: Mapping[str, Any]) -> dict[str, Any]:
    project = None
    for detail in body.get("details") or ():
        consumer = (detail.get("metadata") or {}).get("consumer") if isinstance(detail, dict) \
            else None
        if consumer:
            project = str(consumer).rpartition("/")[2]
    if project is None:
        found = _PROJECT.search(signal.text)
        project = found.group(1) if found else None
    where = f"Google Cloud project {project}" if project else "the app's Google Cloud project"
    link = "https://console.cloud.google.com/apis/library/gmail.googleapis.com"
    if project:
        link += f"?project={project}"
    return {
        "remedy": f"The Gmail API is not enabled in {where}, which owns the OAuth client. "
                  f"Enable it at {link}, wait a few minutes, then retry.",
    }


def _decode_body(content: bytes | str | None) -> Mapping[str, Any]:
    if not content:
        return {}
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return {}
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return error
    # OAuth-style bodies: {"error": "invalid_grant", "error_description": "..."}
    if isinstance(error, str):
        return {"oauth_error": error, "message": data.get("error_description", "")}
    return {}


def signals_from_http_error(
    status: int | None, content: bytes | str | None, operation: str
) -> tuple[list[Signal], Mapping[str, Any]]:
    """Every `Signal` one Gmail error body carries, operation-specific ones first."""
    body = _decode_body(content)
    text = str(body.get("message") or "")
    if not text and isinstance(content, bytes | str) and not body:
        text = (content.decode("utf-8", "replace") if isinstance(content, bytes)
                else content)[:300]
    reasons: list[str] = []
    for detail in body.get("details") or ():
        if isinstance(detail, dict) and detail.get("reason"):
            reasons.append(str(detail["reason"]))
    for item in body.get("errors") or ():
        if isinstance(item, dict) and item.get("reason"):
            reasons.append(str(item["reason"]))
    if body.get("status"):
        reasons.append(str(body["status"]))
    if body.get("oauth_error"):
        reasons.append(str(body["oauth_error"]))
    codes = [f"{operation}:{r}" for r in reasons] + reasons + [None]
    signals = [Signal(provider=PROVIDER, code=c, text=text, status=status) for c in codes]
    return signals, body


def _from_signals(
    signals: list[Signal], body: Mapping[str, Any], operation: str, retry_header: str | None
) -> errors.InboxLinkError:
    found = TABLE.match_any(signals)
    if found is None:
        plain = [s for s in signals if ":" not in (s.code or "")]
        return TABLE.error_for(plain[0] if plain else signals[0])
    rule, signal = found
    extra: dict[str, Any] = {}
    if issubclass(rule.error, errors.RateLimited):
        extra.update(_retry_after(signal, rule, retry_header))
    if issubclass(rule.error, errors.InsufficientScopes) and operation in SCOPES:
        extra["missing"] = (SCOPES[operation],)
    if rule.source == "gmail.api_not_enabled":
        extra.update(_project_remedy(signal, body))
    # Report the provider's own reason, not the operation-prefixed form used for matching.
    code = (signal.code or "").partition(":")[2] or signal.code
    return TABLE.error_for(attrs.evolve(signal, code=code, details=extra), rule=rule)


def _refresh_signal(exc: Any) -> tuple[list[Signal], Mapping[str, Any]]:
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    text = str(args[0]) if args else str(exc)
    code = None
    if len(args) > 1 and isinstance(args[1], dict):
        code = args[1].get("error")
    if code is None:
        found = re.match(r"^\s*(\w+):", text)
        code = found.group(1) if found else None
    codes: list[str | None] = [code]
    if getattr(exc, "retryable", False):
        codes.insert(0, "refresh-retryable")
    return [Signal(provider=PROVIDER, code=c, text=text) for c in codes] + [
        Signal(provider=PROVIDER, text=text)
    ], {}


def extract(exc: BaseException, operation: str) -> errors.InboxLinkError | Signal | None:
    """``extract`` for `translating`; the context is the operation under way.

    ``operation`` is one of `SCOPES`' keys; it selects operation-specific rows and the
    scope named when one is missing.
    """
    import httplib2
    from google.auth import exceptions as auth_exc
    from googleapiclient import errors as api_errors

    if isinstance(exc, api_errors.HttpError):
        status = int(exc.resp.status)
        signals, body = signals_from_http_error(status, exc.content, operation)
        return _from_signals(signals, body, operation, exc.resp.get("retry-after"))
    if isinstance(exc, auth_exc.RefreshError):
        signals, body = _refresh_signal(exc)
        return _from_signals(signals, body, operation, None)
    if isinstance(exc, api_errors.BatchError):
        return _from_signals([Signal(PROVIDER, "batchError", str(exc))], {}, operation, None)
    from inboxlink.adapters.gmail._resumable import UploadStopped
    from inboxlink.adapters.gmail._single_shot import AnswerLost
    from inboxlink.adapters.gmail.connection import MalformedAnswer

    if isinstance(exc, UploadStopped):
        return _from_signals([Signal(PROVIDER, "uploadStopped", str(exc))], {}, operation,
                             None)
    if isinstance(exc, MalformedAnswer):
        return _from_signals([Signal(PROVIDER, "malformedResponse", str(exc))], {},
                             operation, None)
    if isinstance(exc, AnswerLost):
        return _from_signals([Signal(PROVIDER, "answerLost", str(exc))], {}, operation, None)
    if isinstance(exc, TimeoutError):
        return _from_signals([Signal(PROVIDER, "timeout", str(exc))], {}, operation, None)
    if isinstance(exc, http.client.HTTPException):
        # e.g. IncompleteRead: the connection broke in the middle of an answer.
        return _from_signals([Signal(PROVIDER, "connectionLost", str(exc) or repr(exc))],
                             {}, operation, None)
    if isinstance(exc, httplib2.HttpLib2Error | auth_exc.TransportError | OSError):
        return _from_signals([Signal(PROVIDER, "unreachable", str(exc))], {}, operation,
                             None)
    return None


def translate_oauth_redirect(error: str, description: str = "") -> errors.InboxLinkError:
    """The typed error for an OAuth redirect's ``?error=…&error_description=…``.

    Some refusals (``admin_policy_enforced``, Advanced Protection's ``policy_enforced``,
    ``org_internal``, ``access_denied``) reach the application only in the browser's
    redirect, before any token exists; this gives them the same errors and remedies.
    """
    signals = [Signal(provider=PROVIDER, code=error, text=f"{error}: {description}"),
               Signal(provider=PROVIDER, text=f"{error}: {description}")]
    return _from_signals(signals, {}, "connect", None)
