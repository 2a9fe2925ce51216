"""Gmail API and Google OAuth error bodies, shaped as errors.yaml records them, by entry id."""

from __future__ import annotations

import datetime as dt
from typing import Any

from .emulator import gmail_error

PROJECT = "123456789012"
_DISABLED = (
    f"Gmail API has not been used in project {PROJECT} before or it is disabled. Enable it by "
    f"visiting https://console.developers.google.com/apis/api/gmail.googleapis.com/overview?"
    f"project={PROJECT} then retry. If you enabled this API recently, wait a few minutes for "
    "the action to propagate to our systems and retry."
)


def _info(reason: str, **metadata: str) -> dict[str, Any]:
    return {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
            "domain": "googleapis.com", "metadata": metadata}


def sending_limit_body(hours: float = 1.0) -> dict[str, Any]:
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=hours)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    return gmail_error(429, f"User-rate limit exceeded.  Retry after {stamp} (Mail sending)",
                       "rateLimitExceeded", "RESOURCE_EXHAUSTED")


#: entry id -> (HTTP status, body)
GMAIL: dict[str, tuple[int, dict[str, Any]]] = {
    "gmail.api_not_enabled": (403, gmail_error(
        403, _DISABLED, "accessNotConfigured", "PERMISSION_DENIED", domain="usageLimits",
        details=[_info("SERVICE_DISABLED", service="gmail.googleapis.com",
                       consumer=f"projects/{PROJECT}")])),
    "gmail.mail_service_not_enabled": (400, gmail_error(
        400, "Mail service not enabled", "failedPrecondition", "FAILED_PRECONDITION")),
    "gmail.precondition_failed_no_subject": (400, gmail_error(
        400, "Precondition check failed.", "failedPrecondition", "FAILED_PRECONDITION")),
    "gmail.insufficient_scopes": (403, gmail_error(
        403, "Request had insufficient authentication scopes.", "insufficientPermissions",
        "PERMISSION_DENIED",
        details=[_info("ACCESS_TOKEN_SCOPE_INSUFFICIENT", service="gmail.googleapis.com",
                       method="caribou.api.proto.MailboxService.SendMessage")])),
    "gmail.domain_policy": (403, gmail_error(
        403, "The domain administrators have disabled Gmail apps.", "domainPolicy")),
    "gmail.user_blocked_by_admin": (403, gmail_error(
        403, "The caller does not have permission", None, "PERMISSION_DENIED",
        details=[_info("USER_BLOCKED_BY_ADMIN", service="gmail.googleapis.com")])),
    "gmail.user_rate_limit": (429, gmail_error(
        429, "Too many concurrent requests for user.", "rateLimitExceeded",
        "RESOURCE_EXHAUSTED")),
    "gmail.project_rate_limit": (403, gmail_error(
        403, "Rate Limit Exceeded", "rateLimitExceeded", domain="usageLimits")),
    "gmail.daily_limit": (403, gmail_error(
        403, "Daily Limit Exceeded", "dailyLimitExceeded", domain="usageLimits")),
    "gmail.quota_exceeded_generic": (429, gmail_error(
        429, "Quota exceeded for quota metric 'Queries'.", "quotaExceeded", "RESOURCE_EXHAUSTED",
        details=[_info("RESOURCE_QUOTA_EXCEEDED", service="gmail.googleapis.com")])),
    "gmail.backend_error": (500, gmail_error(500, "Backend Error", "backendError", "INTERNAL")),
    "gmail.not_found": (404, gmail_error(
        404, "Requested entity was not found.", "notFound", "NOT_FOUND")),
    "gmail.history_expired": (404, gmail_error(
        404, "Requested entity was not found.", "notFound", "NOT_FOUND")),
    "gmail.invalid_raw_message": (400, gmail_error(
        400, "Recipient address required", "invalidArgument", "INVALID_ARGUMENT")),
    "gmail.invalid_credentials_401": (401, gmail_error(
        401, "Request had invalid authentication credentials. Expected OAuth 2 access token, "
             "login cookie or other valid authentication credential.", "authError",
        "UNAUTHENTICATED")),
}


def oauth(error: str, description: str, **extra: str) -> dict[str, str]:
    return {"error": error, "error_description": description, **extra}


#: entry id -> (HTTP status, token endpoint body)
OAUTH: dict[str, tuple[int, dict[str, str]]] = {
    "google_oauth.token_revoked": (400, oauth("invalid_grant",
                                              "Token has been expired or revoked.")),
    "google_oauth.admin_policy_enforced": (400, oauth(
        "admin_policy_enforced",
        "Cannot authorize one or more scopes requested due to the policies of the Google "
        "Workspace administrator.")),
    "google_oauth.advanced_protection": (400, oauth(
        "policy_enforced", "Access blocked: Acme CRM is not approved by Advanced Protection")),
    "google_oauth.org_internal": (403, oauth(
        "org_internal", "This client is restricted to users within its organization.")),
    "google_oauth.access_denied": (403, oauth(
        "access_denied", "Acme CRM has not completed the Google verification process")),
    "google_oauth.dwd_unauthorized_client": (401, oauth(
        "unauthorized_client", "Client is unauthorized to retrieve access tokens using this "
                               "method, or client not authorized for any of the scopes "
                               "requested.")),
    "google_oauth.dwd_invalid_subject": (400, oauth("invalid_grant", "Invalid email or User ID")),
    "google_oauth.client_deleted_or_invalid": (401, oauth(
        "invalid_client", "The OAuth client was not found.")),
    "google_oauth.reauth_required": (400, oauth(
        "invalid_grant", "reauth related error (invalid_rapt)", error_subtype="invalid_rapt")),
}
