"""The Graph adapter's error table: Microsoft Graph and Entra ID signals → typed errors.

Data first (`TABLE`, one row per signal, ``source`` naming the errors.yaml entry),
then `ErrorContext`, whose ``extract`` turns an msgraph/kiota, azure-identity or
httpx exception into a `Signal`. Importing this module does not
import msgraph-sdk; ``extract`` recognises the client libraries' classes by name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from inboxlink import errors
from inboxlink.adapters.graph._auth import missing_scopes
from inboxlink.retry_after import parse_retry_after
from inboxlink.translate import ErrorTable, Rule, Signal

__all__ = ["MALFORMED_RESPONSE", "PROVIDER", "TABLE", "ErrorContext", "ItemFailure",
           "MalformedResponse", "UnexpectedAnswer", "extract", "signal_from_body",
           "signal_from_item"]

PROVIDER = "graph"

#: code used in the table for "REST not enabled" once the follow-up look-up found no mailbox
NO_EXCHANGE_MAILBOX = "inboxlink.NoExchangeOnlineMailbox"
#: code given to a WWW-Authenticate claims challenge (Conditional Access / CAE)
CLAIMS_CHALLENGE = "insufficient_claims"
#: code of a 2xx answer whose body is not the JSON object Graph documents
MALFORMED_RESPONSE = "malformedResponse"

_REST_SOURCE = "graph.mailbox_not_enabled_for_rest"
_ACCESS_SOURCE = "graph.access_denied_generic"

_REST_REMEDY = (
    "This mailbox is not hosted in Exchange Online (it is shared, on an on-premises/hybrid "
    "Exchange server, inactive or still migrating), so Microsoft Graph cannot open it: connect "
    "it with IMAP or EWS instead. inboxlink.adapters.graph.lookup_mail_hosting(domain) tells "
    "where the domain's mail is hosted."
)
_CONSENT_REMEDY = (
    "An administrator of the organization must approve this app's mail permissions "
    "(Entra ID > Enterprise applications > the app > Permissions > Grant admin consent), "
    "or open the admin-consent link; then connect again."
)


def _rows(error: type[errors.InboxLinkError], codes: Iterable[str], **kwargs: Any) -> list[Rule]:
    return [Rule(error, code=code, **kwargs) for code in codes]


def _sts(error: type[errors.InboxLinkError], numbers: Iterable[int], **kwargs: Any) -> list[Rule]:
    return _rows(error, (f"AADSTS{n}" for n in numbers), **kwargs)


_GRAPH_RULES: list[Rule] = [
    Rule(errors.InteractionRequired, code=CLAIMS_CHALLENGE, source="graph.claims_challenge",
         remedy="The organization requires a fresh sign-in (for example to complete MFA or a "
                "Conditional Access check): sign in again interactively, passing the claims "
                "challenge to the credential."),
    Rule(errors.MailboxNotFound, code=NO_EXCHANGE_MAILBOX, source=_REST_SOURCE,
         remedy="This account has no Exchange Online mailbox (no licence, or its mail is "
                "hosted elsewhere): connect the real mail host with IMAP or EWS, or ask the "
                "administrator to assign an Exchange Online licence."),
    *_rows(errors.RestApiNotEnabled, ("MailboxNotEnabledForRESTAPI",
                                      "ErrorMailboxNotEnabledForRESTAPI",
                                      "MailboxNotSupportedForRESTAPI"),
           source=_REST_SOURCE, remedy=_REST_REMEDY),
    # The same condition has been reported under ResourceNotFound with the REST wording.
    Rule(errors.RestApiNotEnabled, code="ResourceNotFound", source=_REST_SOURCE,
         pattern=r"REST API is not (yet )?supported for this mailbox|inactive, soft-deleted, "
                 r"or is hosted on-premise", remedy=_REST_REMEDY),
    *_rows(errors.RestApiNotEnabled, ("ExtensionError",), source="graph.extension_error_onprem",
           remedy="The mailbox is on an on-premises Exchange server that Microsoft Graph cannot "
                  "reach: connect it with EWS or IMAP, or ask the administrator whether an "
                  "application access policy blocks this app."),
    Rule(errors.MailboxNotFound, code="ErrorInvalidUser", source="graph.user_invalid",
         remedy="No Microsoft 365 mailbox exists for that address: check the spelling, or use "
                "the mailbox's primary address rather than an alias or a group."),
    *_rows(errors.MailboxNotFound, ("ResourceNotFound", "Request_ResourceNotFound"),
           source="graph.resource_not_found",
           remedy="This Microsoft 365 account has no Exchange Online mailbox: ask the "
                  "administrator to assign an Exchange Online licence, or connect the mail "
                  "host with IMAP/EWS."),
    *_rows(errors.MessageNotFound, ("ErrorItemNotFound", "itemNotFound",
                                    "ErrorSyncFolderNotFound"),
           source="graph.item_not_found",
           remedy="The message or folder was moved or deleted: list the folder again."),
    Rule(errors.PermissionDenied, code="ErrorAccessDenied",
         pattern=r"Access to OData is disabled|\[RAOP\]|AppOnly AccessPolicy",
         source="graph.access_denied_app_access_policy",
         remedy="The Exchange administrator restricted which mailboxes this app may open: ask "
                "them to add this mailbox to the app's application access policy "
                "(Test-ApplicationAccessPolicy); changes can take an hour."),
    *_rows(errors.PermissionDenied, ("ErrorAccessDenied", "AccessDenied",
                                     "Authorization_RequestDenied"),
           source=_ACCESS_SOURCE,
           remedy="The app is not allowed to open this mailbox: sign in again and accept the "
                  "mail permissions, or ask the mailbox owner or administrator for access."),
    Rule(errors.AdminConsentRequired, code="NoPermissionsInAccessToken",
         source="graph.no_permissions_in_token", remedy=_CONSENT_REMEDY),
    Rule(errors.AdminConsentRequired, code="InvalidAuthenticationToken",
         pattern=r"token contains no permissions", source="graph.no_permissions_in_token",
         remedy=_CONSENT_REMEDY),
    Rule(errors.ReauthorizationRequired, code="InvalidAuthenticationToken",
         source="graph.invalid_authentication_token",
         remedy="The access token is expired, revoked or not meant for Microsoft Graph: get a "
                "new token (a credential= refreshes itself); if it keeps happening, sign in "
                "again."),
    Rule(errors.SendAsDenied, code="ErrorSendAsDenied", source="graph.send_as_denied",
         remedy="This account has no 'Send As' right for the From address: send from the "
                "mailbox's own address, or ask the Exchange administrator to grant Send As or "
                "Send on Behalf. (An '@' inside the From display name also causes this.)"),
    Rule(errors.RateLimited, code="ApplicationThrottled", pattern="MailboxConcurrency",
         source="graph.throttled_mailbox_concurrency",
         remedy="Microsoft limits an app to 4 concurrent requests per mailbox: wait for the "
                "Retry-After delay and send fewer requests in parallel."),
    *_rows(errors.RateLimited, ("TooManyRequests", "ApplicationThrottled",
                                "activityLimitReached", "throttledRequest"),
           source="graph.throttled_generic"),
    Rule(errors.RateLimited, status=(429, 509), source="graph.throttled_generic"),
    Rule(errors.TransientError, code="serviceNotAvailable", source="graph.throttled_generic"),
    *_rows(errors.QuotaExceeded, ("ErrorQuotaExceeded", "quotaLimitReached"),
           source="graph.quota_exceeded",
           remedy="The mailbox is full: delete or archive mail (Sent Items and Deleted Items "
                  "too), then retry."),
    Rule(errors.QuotaExceeded, status=507, source="graph.quota_exceeded"),
    *_rows(errors.MessageTooLarge, ("ErrorMessageSizeExceeded", "RequestEntityTooLarge"),
           source="graph.message_too_large",
           remedy="The message is larger than Microsoft 365 accepts through Graph (about 4 MB "
                  "per request, or the tenant's size limit): send smaller attachments or "
                  "share links."),
    Rule(errors.MessageTooLarge, pattern="Maximum request length exceeded",
         source="graph.message_too_large"),
    Rule(errors.MessageTooLarge, status=413, source="graph.message_too_large"),
    Rule(errors.ConfigurationError, code="InefficientFilter", source="graph.inefficient_filter",
         remedy="inboxlink sent a query Graph cannot run (a library bug): please report it."),
    # A delta link Exchange no longer knows (410 Gone, or 400 for an expired generation).
    *_rows(errors.SyncTokenExpired, ("SyncStateNotFound", "SyncStateInvalid", "ResyncRequired",
                                     "syncStateNotFound"),
           source="graph.delta_token_invalid"),
    Rule(errors.RecipientsRefused, code="ErrorInvalidRecipients",
         source="graph.invalid_recipients",
         remedy="At least one recipient address is invalid: check the To, Cc and Bcc."),
    Rule(errors.TransientError, code="ErrorMailboxMoveInProgress",
         source="graph.mailbox_move_in_progress",
         remedy="The mailbox is being moved (for example migrated to Exchange Online): try "
                "again in a few hours."),
    # kiota raises a plain APIError (no code) when the body is not JSON: a gateway or proxy page.
    Rule(errors.TransientError, status=(502, 503, 504), source="graph.non_json_gateway_error",
         remedy="Microsoft's service, or a proxy on your network, answered with an error page: "
                "retry shortly; if it persists, check the proxy."),
]

# Entra ID (azure-identity / MSAL) put the AADSTS number only in the text; extract() lifts it
# into Signal.code.
_ENTRA_RULES: list[Rule] = [
    *_sts(errors.AdminConsentRequired, (65001,), source="entra.consent_required_user",
          remedy="The mail permissions have not been approved for this app: sign in again and "
                 "accept them, or have an administrator grant consent for the organization."),
    *_sts(errors.AdminConsentRequired, (90094, 90095, 90008), source="entra.admin_consent_required",
          remedy=_CONSENT_REMEDY),
    *_sts(errors.InteractionRequired, (65004,), source="entra.user_declined_consent",
          remedy="The permission request was declined: connect again and choose Accept."),
    *_sts(errors.InteractionRequired, (50076, 50079, 50072, 50074, 50078),
          source="entra.mfa_required",
          remedy="The organization requires multi-factor sign-in: sign in interactively and "
                 "complete the verification (password-only flows can never satisfy MFA)."),
    *_sts(errors.InteractionRequired, (50158,), source="entra.external_security_challenge",
          remedy="The organization's sign-in provider needs an extra verification step: sign in "
                 "interactively."),
    *_sts(errors.AppBlocked, (53003, 53000, 53001, 53002, 530032, 530035, 50131),
          source="entra.conditional_access_blocked",
          remedy="A Conditional Access or security-defaults policy blocks sign-in from this "
                 "app, device or location: ask the IT administrator to allow it."),
    *_sts(errors.ConfigurationError, (700016, 700011, 70001, 7000112, 50194),
          source="entra.app_not_found_in_tenant",
          remedy="The app is not registered (or is disabled) in this organization's directory: "
                 "check the tenant and client ids, or ask the administrator to add the app."),
    *_sts(errors.InvalidCredentials, (7000215, 7000222, 70002, 700027, 7000218),
          source="entra.invalid_client_secret",
          remedy="The app's client secret or certificate is wrong or expired: create a new "
                 "one in Entra ID (App registrations > Certificates & secrets) and configure it."),
    *_sts(errors.InvalidCredentials, (50126, 50056, 50064), source="entra.bad_user_credentials",
          remedy="The username or password is wrong: check them and sign in again."),
    *_sts(errors.ReauthorizationRequired,
          (700082, 70008, 50173, 50132, 50133, 70043, 50089, 700084, 70000),
          source="entra.refresh_token_expired_or_revoked",
          remedy="The saved sign-in is no longer valid (password changed, access revoked or "
                 "unused for too long): ask the user to sign in and authorize the app again."),
    *_sts(errors.MailboxNotFound, (50034, 50020, 51004, 16000, 50014),
          source="entra.account_not_found",
          remedy="That account does not exist in this organization: check the address, or sign "
                 "in with the work account that owns the mailbox."),
    *_sts(errors.AccountDisabled, (50057, 50053, 50055, 50144), source="entra.account_state",
          remedy="The account is disabled, locked or its password expired: sign in on the web to "
                 "fix it, or contact the IT administrator."),
    *_sts(errors.ConfigurationError, (500011, 650052, 650057),
          source="entra.resource_principal_not_found",
          remedy="The organization has no subscription for the requested Microsoft service (no "
                 "Exchange Online?): check the account type, or ask the administrator."),
    *_sts(errors.ConfigurationError, (70011, 28002, 28003, 700022, 700023),
          source="entra.invalid_scope",
          remedy="The requested scopes are invalid (a library or app configuration bug): use "
                 "https://graph.microsoft.com/.default or the Mail.* scopes, and report it."),
    *_sts(errors.ConfigurationError, (90002, 50128, 90038, 50059), source="entra.tenant_not_found",
          remedy="No Microsoft 365 organization was found for that tenant or domain: check the "
                 "tenant id, the e-mail domain and the cloud (national clouds differ)."),
    *_sts(errors.InteractionRequired, (50058, 700020), source="entra.login_required_silent",
          remedy="No saved sign-in can be used silently: sign in again interactively."),
    Rule(errors.InteractionRequired, code="AuthenticationRequired",
         source="entra.login_required_silent",
         remedy="No saved sign-in can be used silently: call the credential's authenticate() "
                "interactively, then connect again."),
    Rule(errors.ConfigurationError, code="CredentialUnavailable",
         source="entra.credential_unavailable",
         remedy="The Microsoft sign-in is not configured on this machine (missing environment "
                "variables, no cached account or broker): set up the credential, then connect."),
    *_sts(errors.RateLimited, (90055, 50196, 90024), source="entra.throttled",
          remedy="Microsoft's sign-in service is throttling token requests: reuse the credential "
                 "object (it caches tokens) and retry later."),
    *_sts(errors.TransientError, (50033, 90006, 90090, 50087), source="entra.throttled",
          remedy="Microsoft's sign-in service had a temporary failure: retry shortly."),
    # OAuth error words when no AADSTS number came with them.
    Rule(errors.InteractionRequired, pattern=r"\binteraction_required\b|\blogin_required\b",
         source="entra.login_required_silent"),
    Rule(errors.ReauthorizationRequired, pattern=r"\binvalid_grant\b",
         source="entra.refresh_token_expired_or_revoked"),
    Rule(errors.TransientError, pattern=r"\btemporarily_unavailable\b|\bserver_error\b",
         source="entra.throttled"),
]

# httpx transport failures, by exception class name: extract() gives the most specific name
# in the exception's MRO that a row knows, so a subclass httpx adds later still lands here.
_TRANSPORT_RULES: list[Rule] = [
    *_rows(errors.ServerUnreachable, ("ConnectError", "ConnectTimeout"),
           remedy="Check the network and any proxy; a firewall may block graph.microsoft.com "
                  "(or the base_url given)."),
    *_rows(errors.OperationTimeout, ("ReadTimeout", "WriteTimeout", "PoolTimeout",
                                     "TimeoutException"),
           remedy="Microsoft Graph did not answer in time: retry; if it keeps happening, "
                  "raise timeout= or check the network."),
    *_rows(errors.ConnectionLost, ("ReadError", "WriteError", "CloseError",
                                   "RemoteProtocolError", "LocalProtocolError", "ProxyError",
                                   "UnsupportedProtocol", "DecodingError", "TooManyRedirects",
                                   "NetworkError", "ProtocolError", "TransportError",
                                   "RequestError", "HTTPError"),
           remedy="The connection to Microsoft Graph failed in the middle of a request: retry."),
]
# Answers that are not what Graph documents (UnexpectedAnswer.code).
_ANSWER_RULES: list[Rule] = [
    Rule(errors.TransientError, code=MALFORMED_RESPONSE,
         remedy="A proxy or gateway may have answered instead of Graph, or the answer was cut: "
                "retry; if it persists, check any proxy between this machine and Graph."),
    Rule(errors.TransientError, code="no-delta-link",
         remedy="Graph ended a change round without the link to go on from: call changes() "
                "again; if it keeps happening, take a new sync_token()."),
    Rule(errors.TransientError, code="foreign-link",
         remedy="Graph's answer pointed at another host, which inboxlink never follows (the "
                "access token would go with it): retry, and check any proxy that rewrites "
                "Graph's answers."),
    Rule(errors.TransientError, code="no-subscription",
         remedy="Graph answered without the subscription: list the app's subscriptions "
                "(GET /subscriptions) before creating another one."),
]

# Last resort, by status alone.
_STATUS_RULES: list[Rule] = [
    Rule(errors.InvalidCredentials, status=401,
         remedy="Microsoft Graph refused the access token: sign in again."),
    Rule(errors.PermissionDenied, status=403),
    Rule(errors.NotFound, status=404),
    Rule(errors.TransientError, status=(500, 501, 502, 503, 504, 505)),
]

TABLE = ErrorTable(provider=PROVIDER,
                   rules=(*_GRAPH_RULES, *_ENTRA_RULES, *_TRANSPORT_RULES, *_ANSWER_RULES,
                          *_STATUS_RULES),
                   fallback=errors.InboxLinkError)
#: the exception class names the transport rows know (extract's code for an httpx failure)
_TRANSPORT_CODES = frozenset(str(rule.code) for rule in _TRANSPORT_RULES)

_AADSTS = re.compile(r"AADSTS(\d+)")


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    getter = getattr(headers, "get", None)
    if getter is None:
        return None
    value = getter(name)
    if value is None and isinstance(headers, Mapping):
        value = next((v for k, v in headers.items() if str(k).lower() == name), None)
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return None if value is None else str(value)


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _base_signal(status: int | None, headers: Any, code: str | None, text: str,
                 request_id: str | None = None) -> Signal:
    details: dict[str, Any] = {}
    retry_after = parse_retry_after(_header(headers, "retry-after"))
    if retry_after is not None:
        details["retry_after"] = retry_after
    challenge = _header(headers, "www-authenticate") or ""
    if "insufficient_claims" in challenge:
        code = CLAIMS_CHALLENGE
    request_id = request_id or _header(headers, "request-id")
    if request_id and text:
        # Microsoft support asks for it; it is not a secret.
        text = f"{text} (request-id {request_id})"
    return Signal(provider=PROVIDER, code=code, text=text, status=status, details=details)


def signal_from_body(status: int, headers: Any, body: Any) -> Signal:
    """A signal from a raw Graph error response (``$batch`` items, streamed downloads)."""
    code, text, request_id = None, "", None
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError:
            body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = body["error"].get("code")
        text = str(body["error"].get("message") or "")
        inner = body["error"].get("innerError")
        if isinstance(inner, dict):
            request_id = inner.get("request-id")
    return _base_signal(status, headers, code, text, request_id)


def signal_from_item(response: dict[str, Any]) -> Signal:
    """A signal from one ``$batch`` item's answer (``status``, ``headers``, ``body``)."""
    try:
        status = int(response.get("status", 500))
    except (TypeError, ValueError):
        status = 500
    return signal_from_body(status, response.get("headers") or {}, response.get("body"))


def _signal_from_exception(exc: BaseException) -> Signal | errors.InboxLinkError | None:
    if isinstance(exc, ItemFailure):
        return signal_from_item(exc.response)
    if isinstance(exc, UnexpectedAnswer):
        return Signal(provider=PROVIDER, code=exc.code, text=str(exc))
    names = _names(exc)
    if "APIError" in names:  # kiota; ODataError is a subclass with the parsed body
        main = getattr(exc, "error", None)
        code = getattr(main, "code", None) if main is not None else None
        text = getattr(main, "message", None) if main is not None else None
        if not text:
            text = str(getattr(exc, "message", "") or "")
        inner = getattr(main, "inner_error", None) if main is not None else None
        return _base_signal(getattr(exc, "response_status_code", None),
                            getattr(exc, "response_headers", None), code, text or "",
                            getattr(inner, "request_id", None))
    if "ClientAuthenticationError" in names:  # azure-identity / azure-core
        text = str(getattr(exc, "message", None) or exc)
        sts: str | None
        if "AuthenticationRequiredError" in names:
            sts = "AuthenticationRequired"
        else:
            match = _AADSTS.search(text)
            if match:
                sts = f"AADSTS{match.group(1)}"
            elif "CredentialUnavailableError" in names:
                sts = "CredentialUnavailable"
            else:
                sts = None
        return Signal(provider=PROVIDER, code=sts, text=text)
    if "HTTPError" in names or "TransportError" in names:  # httpx
        code = next(cls.__name__ for cls in type(exc).__mro__
                    if cls.__name__ in _TRANSPORT_CODES)
        return Signal(provider=PROVIDER, code=code, text=str(exc) or repr(exc))
    return None


class ItemFailure(Exception):
    """A failed ``$batch`` item or streamed response: Graph's raw answer, for `extract`.

    Raised on the loop while a call runs and explained by `extract` in the caller's thread,
    where the follow-up probe of "REST API not enabled" can use the loop.
    """

    def __init__(self, response: dict[str, Any]) -> None:
        super().__init__(response.get("status"))
        self.response = response


class UnexpectedAnswer(Exception):
    """A 2xx answer that is not what Graph documents, for `extract`: ``code`` names its row."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class MalformedResponse(UnexpectedAnswer):
    """A 2xx answer whose body is not the JSON object Graph documents (a proxy's page, a cut
    body)."""

    def __init__(self, body: bytes) -> None:
        start = body[:80].decode("utf-8", "replace")
        super().__init__(MALFORMED_RESPONSE,
                         f"a body that is not JSON ({len(body)} bytes, starting {start!r})")


@attrs.define
class ErrorContext:
    """What ``extract`` may ask the mailbox while explaining an error.

    Args:
        probe_mailbox: after "REST API not enabled": ``True`` if the account has an Exchange
            Online mailbox, ``False`` if it has none, ``None`` if that cannot be told.
        granted: the token's granted permissions (``scp`` or ``roles``) and whether the token
            is app-only, or ``None`` when the token is opaque.
        consent_url: the admin-consent link for this app, when it can be built.
    """

    probe_mailbox: Callable[[], bool | None] | None = None
    granted: Callable[[], tuple[set[str], bool] | None] | None = None
    consent_url: Callable[[], str | None] | None = None

    def refine(self, signal: Signal) -> Signal | errors.InboxLinkError:
        """Apply the follow-ups that need the mailbox: probe, scopes, consent link."""
        rule = TABLE.match(signal)
        if rule is None:
            return signal
        if rule.source == _REST_SOURCE and rule.error is errors.RestApiNotEnabled:
            if self.probe_mailbox is not None and self.probe_mailbox() is False:
                error = TABLE.error_for(attrs.evolve(signal, code=NO_EXCHANGE_MAILBOX))
                error.code = signal.code
                return error
            return signal
        if rule.source == _ACCESS_SOURCE and self.granted is not None:
            granted = self.granted()
            if granted is not None:
                have, app_only = granted
                from inboxlink.adapters.graph._auth import APPLICATION_ROLES, REQUIRED_SCOPES

                missing = missing_scopes(have, APPLICATION_ROLES if app_only else REQUIRED_SCOPES)
                if missing:
                    return errors.InsufficientScopes(missing=missing, provider=PROVIDER,
                                                     code=signal.code)
            return signal
        if issubclass(rule.error, errors.AdminConsentRequired) and self.consent_url is not None:
            url = self.consent_url()
            if url:
                error = TABLE.error_for(signal)
                assert isinstance(error, errors.AdminConsentRequired)
                error.consent_url = url
                error.remedy = f"{error.remedy} Admin-consent link: {url}"
                return error
        return signal

    def error_for(self, signal: Signal) -> errors.InboxLinkError:
        """The typed error for a signal built outside an exception (``$batch`` items)."""
        refined = self.refine(signal)
        return refined if isinstance(refined, errors.InboxLinkError) else TABLE.error_for(refined)


def extract(exc: BaseException, context: ErrorContext) -> Signal | errors.InboxLinkError | None:
    """Signal (or ready error) for a client-library exception; ``None`` lets it through."""
    found = _signal_from_exception(exc)
    if found is None or isinstance(found, errors.InboxLinkError):
        return found
    return context.refine(found)
