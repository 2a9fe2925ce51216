"""Every Graph and Entra ID signal of errors.yaml, as the emulator or a credential emits it."""

from __future__ import annotations

from typing import Any

import attrs

from inboxlink import errors

_CLAIMS = ('Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/'
           'oauth2/authorize", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsi'
           'bmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwgInZhbHVlIjoiMTcwMDAwMDAwMCJ9fX0="')


@attrs.frozen
class GraphCase:
    """An error body the emulator returns for ``op`` (``list``/``send``/``append``/``fetch``)."""

    source: str
    status: int
    code: str | None
    message: str
    expected: type[errors.InboxLinkError]
    op: str = "list"
    headers: dict[str, str] = attrs.field(factory=dict)
    raw_body: bytes | None = None
    times: int = 5
    attrs_: dict[str, Any] = attrs.field(factory=dict)


GRAPH_CASES: list[GraphCase] = [
    GraphCase("graph.mailbox_not_enabled_for_rest", 404, "MailboxNotEnabledForRESTAPI",
              "REST API is not yet supported for this mailbox.", errors.RestApiNotEnabled),
    GraphCase("graph.mailbox_not_enabled_for_rest", 400, "MailboxNotEnabledForRESTAPI",
              "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
              errors.RestApiNotEnabled),
    GraphCase("graph.mailbox_not_enabled_for_rest", 403, "mailboxnotenabledforrestapi",
              "REST API is not yet supported for this mailbox.", errors.RestApiNotEnabled),
    GraphCase("graph.mailbox_not_enabled_for_rest", 404, "ErrorMailboxNotEnabledForRESTAPI",
              "REST API is not yet supported for this mailbox.", errors.RestApiNotEnabled),
    GraphCase("graph.mailbox_not_enabled_for_rest", 404, "MailboxNotSupportedForRESTAPI",
              "REST API is not yet supported for this mailbox.", errors.RestApiNotEnabled),
    GraphCase("graph.mailbox_not_enabled_for_rest", 404, "ResourceNotFound",
              "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
              errors.RestApiNotEnabled),
    GraphCase("graph.extension_error_onprem", 403, "ExtensionError",
              "Operation: Read; Exception: [Status Code: Forbidden; Reason: Access to OData is "
              "disabled.]", errors.RestApiNotEnabled),
    GraphCase("graph.user_invalid", 404, "ErrorInvalidUser",
              "The requested user 'bob@contoso.com' is invalid.", errors.MailboxNotFound),
    GraphCase("graph.resource_not_found", 404, "ResourceNotFound",
              "Resource could not be discovered.", errors.MailboxNotFound),
    GraphCase("graph.item_not_found", 404, "ErrorItemNotFound",
              "The specified object was not found in the store.", errors.MessageNotFound,
              op="fetch"),
    GraphCase("graph.access_denied_app_access_policy", 403, "ErrorAccessDenied",
              "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly "
              "AccessPolicy settings.", errors.PermissionDenied),
    GraphCase("graph.access_denied_generic", 403, "ErrorAccessDenied",
              "Access is denied. Check credentials and try again.", errors.PermissionDenied),
    GraphCase("graph.access_denied_generic", 403, "Authorization_RequestDenied",
              "Insufficient privileges to complete the operation.", errors.PermissionDenied),
    GraphCase("graph.no_permissions_in_token", 401, "NoPermissionsInAccessToken",
              "The token contains no permissions, or permissions can not be understood.",
              errors.AdminConsentRequired),
    GraphCase("graph.no_permissions_in_token", 401, "InvalidAuthenticationToken",
              "The token contains no permissions, or permissions can not be understood.",
              errors.AdminConsentRequired),
    GraphCase("graph.invalid_authentication_token", 401, "InvalidAuthenticationToken",
              "Lifetime validation failed, the token is expired.",
              errors.ReauthorizationRequired),
    GraphCase("graph.invalid_authentication_token", 401, "InvalidAuthenticationToken",
              "CompactToken validation failed with reason code: 80049228.",
              errors.ReauthorizationRequired),
    GraphCase("graph.claims_challenge", 401, "InvalidAuthenticationToken",
              "Continuous access evaluation resulted in challenge with result: InteractionRequired "
              "and code: TokenIssuedBeforeRevocationTimestamp", errors.InteractionRequired,
              headers={"WWW-Authenticate": _CLAIMS}),
    GraphCase("graph.claims_challenge", 403, "AccessDenied", "Forbidden",
              errors.InteractionRequired, headers={"WWW-Authenticate": _CLAIMS}),
    GraphCase("graph.send_as_denied", 403, "ErrorSendAsDenied",
              "The user account which was used to submit this request does not have the right "
              "to send mail on behalf of the specified sending account., Cannot submit message.",
              errors.SendAsDenied, op="send"),
    GraphCase("graph.throttled_mailbox_concurrency", 429, "ApplicationThrottled",
              "Application is over its MailboxConcurrency limit.", errors.RateLimited,
              headers={"Retry-After": "7"}, attrs_={"retry_after": 7.0}),
    GraphCase("graph.throttled_generic", 429, "TooManyRequests",
              "Too many requests.", errors.RateLimited, headers={"Retry-After": "12"},
              attrs_={"retry_after": 12.0}),
    GraphCase("graph.throttled_generic", 503, "serviceNotAvailable",
              "The service is temporarily unavailable.", errors.TransientError,
              headers={"Retry-After": "3"}),
    GraphCase("graph.throttled_generic", 509, "activityLimitReached",
              "The app or user has been throttled.", errors.RateLimited),
    GraphCase("graph.quota_exceeded", 403, "ErrorQuotaExceeded",
              "The process failed to get the correct properties.", errors.QuotaExceeded,
              op="append"),
    GraphCase("graph.quota_exceeded", 507, "quotaLimitReached", "Insufficient Storage",
              errors.QuotaExceeded, op="append"),
    GraphCase("graph.message_too_large", 413, "RequestEntityTooLarge",
              "The request is too large.", errors.MessageTooLarge, op="send"),
    GraphCase("graph.message_too_large", 400, "BadRequest", "Maximum request length exceeded.",
              errors.MessageTooLarge, op="send"),
    GraphCase("graph.message_too_large", 400, "ErrorMessageSizeExceeded",
              "The message exceeds the maximum supported size.", errors.MessageTooLarge,
              op="send"),
    GraphCase("graph.inefficient_filter", 400, "InefficientFilter",
              "The restriction or sort order is too complex for this operation.",
              errors.ConfigurationError),
    GraphCase("graph.delta_token_invalid", 410, "SyncStateNotFound",
              "The sync state generation is not found. The delta token is expired and data "
              "must be synchronized again.", errors.SyncTokenExpired, op="changes"),
    GraphCase("graph.invalid_recipients", 400, "ErrorInvalidRecipients",
              "At least one recipient isn't valid.", errors.RecipientsRefused, op="send"),
    GraphCase("graph.mailbox_move_in_progress", 500, "ErrorMailboxMoveInProgress",
              "The mailbox is being moved.", errors.TransientError),
    GraphCase("graph.batch_item_errors", 500, "ErrorInternalServerError",
              "An internal server error occurred.", errors.TransientError, op="fetch"),
    GraphCase("graph.non_json_gateway_error", 502, None, "", errors.TransientError,
              raw_body=b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
]


@attrs.frozen
class EntraCase:
    """An Entra ID answer: a token-endpoint error body (``kind="sts"``), or a credential that
    cannot try at all (``"unavailable"``) or needs the user (``"required"``)."""

    source: str
    kind: str
    expected: type[errors.InboxLinkError]
    number: int = 0
    error: str = "invalid_grant"
    description: str = ""
    suberror: str | None = None


def _sts(source: str, number: int, description: str, expected: type[errors.InboxLinkError],
         error: str = "invalid_grant", suberror: str | None = None) -> EntraCase:
    return EntraCase(source, "sts", expected, number, error, description, suberror)


ENTRA_CASES: list[EntraCase] = [
    _sts("entra.consent_required_user", 65001, "The user or administrator has not consented to "
         "use the application with ID '1111'.", errors.AdminConsentRequired,
         suberror="consent_required"),
    _sts("entra.admin_consent_required", 90094, "Admin consent is required for the "
         "permissions requested by this application.", errors.AdminConsentRequired),
    _sts("entra.user_declined_consent", 65004, "User declined to consent to access the app.",
         errors.InteractionRequired, error="access_denied"),
    _sts("entra.mfa_required", 50076, "Due to a configuration change made by your administrator, "
         "or because you moved to a new location, you must use multi-factor authentication.",
         errors.InteractionRequired, error="interaction_required", suberror="basic_action"),
    _sts("entra.external_security_challenge", 50158, "External security challenge was not "
         "satisfied.", errors.InteractionRequired, error="interaction_required"),
    _sts("entra.conditional_access_blocked", 53003, "Access has been blocked by Conditional "
         "Access policies.", errors.AppBlocked, error="interaction_required"),
    _sts("entra.app_not_found_in_tenant", 700016, "Application with identifier '1111' was not "
         "found in the directory 'contoso'.", errors.ConfigurationError,
         error="unauthorized_client"),
    _sts("entra.invalid_client_secret", 7000215, "Invalid client secret provided.",
         errors.InvalidCredentials, error="invalid_client"),
    _sts("entra.bad_user_credentials", 50126, "Error validating credentials due to invalid "
         "username or password.", errors.InvalidCredentials),
    _sts("entra.refresh_token_expired_or_revoked", 700082, "The refresh token has expired due "
         "to inactivity.", errors.ReauthorizationRequired, suberror="bad_token"),
    _sts("entra.account_not_found", 50034, "The user account does not exist in the contoso "
         "directory.", errors.MailboxNotFound),
    _sts("entra.account_state", 50057, "The user account is disabled.", errors.AccountDisabled),
    _sts("entra.resource_principal_not_found", 500011, "The resource principal named "
         "https://outlook.office365.com was not found in the tenant.", errors.ConfigurationError,
         error="invalid_resource"),
    _sts("entra.invalid_scope", 70011, "The provided value for the input parameter 'scope' is "
         "not valid.", errors.ConfigurationError, error="invalid_scope"),
    _sts("entra.tenant_not_found", 90002, "Tenant 'contoso.example' not found.",
         errors.ConfigurationError, error="invalid_request"),
    _sts("entra.login_required_silent", 50058, "A silent sign-in request was sent but no user is "
         "signed in.", errors.InteractionRequired, error="login_required"),
    EntraCase("entra.login_required_silent", "required", errors.InteractionRequired),
    EntraCase("entra.credential_unavailable", "unavailable", errors.ConfigurationError),
    _sts("entra.throttled", 90055, "The number of requests to the tenant is too high.",
         errors.RateLimited, error="temporarily_unavailable"),
    _sts("entra.throttled", 50033, "There was a transient error; please retry.",
         errors.TransientError, error="temporarily_unavailable"),
]
