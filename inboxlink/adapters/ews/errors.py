"""The EWS error table: exchangelib's exceptions and EWS ResponseCodes → typed errors.

`TABLE` is data only and imports without exchangelib. `extract` turns an
exchangelib exception into a `Signal` whose ``code`` is the
exception's class name — exchangelib names one class after each EWS ResponseCode
(``ErrorServerBusy``, ``ErrorItemNotFound``…) — and whose ``text`` is its message. Each rule
names the ``errors.yaml`` entry it implements in ``source``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from inboxlink import errors
from inboxlink.translate import ErrorTable, Rule, Signal

__all__ = [
    "AUTH_REMEDY", "NO_SMTP_ADDRESS", "TABLE", "UNAUTHORIZED_BARE_USERNAME", "VERSION_TOO_OLD",
    "extract",
]

#: synthetic codes for the checks inboxlink makes itself (exchangelib does not)
VERSION_TOO_OLD = "ServerVersionTooOld"
NO_SMTP_ADDRESS = "NoPrimarySmtpAddress"
#: exchangelib reports a 401 retried under FaultTolerance as throttling; we mark it
UNAUTHORIZED_RETRIED = "UnauthorizedRetried"
#: a 401 for a login that is neither DOMAIN\\user nor a UPN
UNAUTHORIZED_BARE_USERNAME = "UnauthorizedBareUsername"

AUTH_REMEDY = (
    "Exchange refused the sign-in. Check: 1) the password; 2) if two-step verification is on, "
    "use an app password instead; 3) the login form - many servers need DOMAIN\\username "
    "(your Windows login) or user@domain instead of the bare user name (username=); "
    "4) that Exchange Web Services is reachable and enabled for the account "
    "(https://<server>/EWS/Exchange.asmx)."
)
_URL_REMEDY = (
    "That address is not the Exchange Web Services endpoint (it answered like a web page or "
    "login form). Use https://<server>/EWS/Exchange.asmx, or leave url= out to autodiscover it."
)
_OWA_REMEDY = (
    "Exchange sent the request to the Outlook on the web sign-in page: that address is "
    "webmail's, not the Exchange Web Services endpoint. Use https://<server>/EWS/Exchange.asmx "
    "or leave url= out to autodiscover it; if it already is the EWS URL, a reverse proxy in "
    "front of Exchange demands a browser sign-in: ask IT to let EWS through."
)
_REDIRECT_REMEDY = (
    "Exchange redirected the request to another page (named in the message) instead of answering it: "
    "the address is not the EWS endpoint, or a sign-in portal or reverse proxy in front of "
    "Exchange intercepts it. Use the EWS URL Outlook uses (https://<server>/EWS/Exchange.asmx) "
    "or leave url= out to autodiscover it, or ask IT to let EWS through the proxy."
)
_TLS = (
    r"CERTIFICATE_VERIFY_FAILED|Hostname mismatch|IP address mismatch|doesn't match|"
    r"self[- ]signed certificate|certificate has expired|unable to get local issuer|SSLError"
)

TABLE = ErrorTable(
    provider="ews",
    rules=(
        # ---------------------------------------------------------------- sign-in
        Rule(errors.AccountDisabled, code="UnauthorizedError", pattern="locked out",
             source="ews.account_locked",
             remedy="The Windows/Exchange account is locked out: wait for the lock-out to "
                    "expire or ask IT to unlock it, then connect again."),
        Rule(errors.BasicAuthDisabled, code="UnauthorizedError",
             pattern="No compatible auth type", source="ews.no_compatible_auth",
             remedy="This Exchange server accepts no password sign-in method inboxlink can use "
                    "(NTLM, basic, digest). Connect with an OAuth token (access_token=) or the "
                    "graph:// adapter for Microsoft 365, or ask IT which method is allowed."),
        Rule(errors.InvalidCredentials, code=UNAUTHORIZED_BARE_USERNAME,
             source="ews.ntlm_domain_username",
             remedy="Exchange refused a login without a domain. Sign in as DOMAIN\\username "
                    "(your Windows login) or as user@domain (username=), and check the "
                    "password (an app password if two-step verification is on)."),
        Rule(errors.InvalidCredentials, code="UnauthorizedError", source="ews.unauthorized",
             remedy=AUTH_REMEDY),
        Rule(errors.InvalidCredentials, code=UNAUTHORIZED_RETRIED,
             source="ews.unauthorized_fault_tolerance", remedy=AUTH_REMEDY),
        # ---------------------------------------------------------------- wrong URL
        Rule(errors.InvalidExchangeUrl, code="RedirectError", pattern=r"/owa/auth/logon\.aspx",
             source="ews.owa_url_redirect", remedy=_OWA_REMEDY),
        Rule(errors.ConnectError, code="RedirectError",
             pattern=r"/internalsite/(internalerror\.asp|initparams\.aspx)",
             source="ews.generic_error_page_redirect",
             remedy="The Exchange server redirected to its internal error page (often a "
                    "certificate problem on the server): contact the Exchange administrator."),
        Rule(errors.InvalidExchangeUrl, code="RedirectError", source="ews.owa_url_redirect",
             remedy=_REDIRECT_REMEDY),
        Rule(errors.InvalidExchangeUrl, code="TransportError",
             pattern="Failed to get auth type from service", source="ews.owa_url_redirect",
             remedy=_URL_REMEDY),
        Rule(errors.InvalidExchangeUrl, code="MalformedResponseError",
             source="ews.html_page_instead_of_soap", remedy=_URL_REMEDY),
        Rule(errors.InvalidExchangeUrl, code="SOAPError", pattern="Bad SOAP response",
             source="ews.html_page_instead_of_soap", remedy=_URL_REMEDY),
        # ---------------------------------------------------------------- transport
        Rule(errors.CertificateError, code="TransportError", pattern=_TLS,
             source="ews.tls_error",
             remedy="Connect with the host name the certificate was issued for, or ask IT for "
                    "a certificate from a trusted CA. For a private CA pass ssl_context= with "
                    "it; verify_tls=False accepts any certificate (trusted networks only)."),
        Rule(errors.OperationTimeout, code="ErrorTimeoutExpired",
             pattern=r"Reraised from (ReadTimeout|ConnectTimeout|Timeout|timeout)",
             source="ews.connection_failed"),
        Rule(errors.ServerUnreachable, code="ErrorTimeoutExpired", source="ews.connection_failed",
             remedy="The Exchange server could not be reached: check the address, the network "
                    "or VPN; a firewall or IP allow-list may block this machine."),
        Rule(errors.ServerUnreachable, code="TransportError",
             pattern=r"ErrorTimeoutExpired|Connection|Max retries|refused|Name or service|resolve",
             source="ews.connection_failed",
             remedy="The Exchange server could not be reached: check the address, the network "
                    "or VPN; a firewall or IP allow-list may block this machine."),
        # ---------------------------------------------------------------- version
        Rule(errors.UnsupportedExchangeVersion, code=VERSION_TOO_OLD,
             source="ews.server_version_too_old",
             remedy="Exchange 2010 SP2 (build 14.2) or newer is required: ask the Exchange "
                    "administrator to update the server, or connect with IMAP instead."),
        Rule(errors.RateLimited, code="TransportError", pattern="ErrorServerBusy",
             source="ews.server_busy"),
        Rule(errors.UnsupportedExchangeVersion, code="TransportError",
             pattern=r"No valid version headers|Tried versions|but all were invalid",
             source="ews.invalid_server_version",
             remedy="The server at that address does not speak a supported Exchange Web "
                    "Services version: check the URL, and that Exchange is 2010 SP2 or newer."),
        Rule(errors.UnsupportedExchangeVersion, code="ErrorInvalidServerVersion",
             source="ews.invalid_server_version"),
        Rule(errors.UnsupportedExchangeVersion, code="ErrorInvalidSchemaVersionForMailboxVersion",
             source="ews.invalid_server_version"),
        # ---------------------------------------------------------------- throttling / outages
        # exchangelib re-raises these as ErrorServerBusy("Reraised from …"): keep the original
        Rule(errors.TransientError, code="ErrorServerBusy",
             pattern=r"Reraised from ErrorInternalServerTransientError.*genericerrorpage",
             source="ews.generic_error_page_redirect"),
        Rule(errors.TransientError, code="ErrorServerBusy",
             pattern=r"Reraised from ErrorInternalServerTransientError",
             source="ews.http_503"),
        Rule(errors.RateLimited, code="ErrorServerBusy", pattern="ErrorTooManyObjectsOpened",
             source="ews.too_many_objects_opened"),
        Rule(errors.RateLimited, code="ErrorServerBusy", source="ews.server_busy"),
        Rule(errors.RateLimited, code="RateLimitError", source="ews.server_busy"),
        Rule(errors.RateLimited, code="ErrorExceededConnectionCount",
             source="ews.exceeded_connection_count",
             remedy="Too many simultaneous requests to Exchange for this account: use fewer "
                    "parallel connections; inboxlink retries reads after a pause."),
        Rule(errors.RateLimited, code="ErrorTooManyObjectsOpened",
             source="ews.too_many_objects_opened"),
        Rule(errors.TransientError, code="ErrorInternalServerTransientError",
             pattern="genericerrorpage", source="ews.generic_error_page_redirect"),
        Rule(errors.TransientError, code="ErrorInternalServerTransientError",
             source="ews.http_503"),
        Rule(errors.TransientError, code="CASError", retryable=False, source="ews.cas_error",
             remedy="The Exchange front-end (Client Access) server refused the request with the "
                    "code shown: contact the Exchange administrator if it persists."),
        Rule(errors.TransientError, code="ErrorMailboxStoreUnavailable",
             source="ews.mailbox_store_unavailable",
             remedy="The mailbox database is temporarily unavailable: retry in a few minutes."),
        Rule(errors.TransientError, code="ErrorMailboxMoveInProgress",
             source="ews.mailbox_move_in_progress",
             remedy="The mailbox is being moved (possibly to Exchange Online): retry later; "
                    "after the move it may have to be connected again, perhaps with graph://."),
        # ---------------------------------------------------------------- mailbox and rights
        Rule(errors.MailboxNotFound, code="ErrorNonExistentMailbox",
             source="ews.non_existent_mailbox",
             remedy="Exchange has no mailbox for that address: check it (use the primary SMTP "
                    "address), or the mail is hosted elsewhere."),
        Rule(errors.MissingSmtpAddress, code=NO_SMTP_ADDRESS),
        Rule(errors.SendAsDenied, code="ErrorSendAsDenied", source="ews.send_as_denied",
             remedy="This account may not send as that From address: send from the mailbox's "
                    "own address or ask the Exchange administrator for 'Send As' rights."),
        Rule(errors.PermissionDenied, code="ErrorAccessDenied", source="ews.access_denied"),
        *(Rule(errors.PermissionDenied, code=code, source="ews.impersonation_denied",
               remedy="The service account may not impersonate this mailbox: an Exchange "
                      "administrator must grant it the ApplicationImpersonation role.")
          for code in ("ErrorImpersonateUserDenied", "ErrorImpersonationDenied")),
        # ---------------------------------------------------------------- items
        Rule(errors.MessageNotFound, code="ErrorItemNotFound", source="ews.item_not_found"),
        Rule(errors.MessageNotFound, code="ErrorInvalidIdMalformed", source="ews.item_not_found",
             remedy="That id is not a message id of this mailbox: list the folder again."),
        Rule(errors.FolderNotFound, code="ErrorFolderNotFound"),
        # ---------------------------------------------------------------- change feed
        # (errors.yaml has no EWS entry for it yet: Microsoft documents the code in
        # SyncFolderItems' reference, "ErrorInvalidSyncStateData")
        Rule(errors.SyncTokenExpired, code="ErrorInvalidSyncStateData",
             remedy="Exchange no longer accepts this sync state: take a new token with "
                    "mailbox.sync_token(folder), then list the folder again to catch up."),
        Rule(errors.FolderNotFound, code="ErrorSyncFolderNotFound",
             remedy="The folder being synchronised no longer exists: list the folders again."),
        Rule(errors.QuotaExceeded, code="ErrorQuotaExceeded", source="ews.quota_exceeded",
             remedy="The mailbox is full: delete or archive mail, then try again."),
        Rule(errors.MessageTooLarge, code="ErrorMessageSizeExceeded",
             source="ews.message_size_exceeded",
             remedy="The message is larger than the Exchange server allows: send smaller "
                    "attachments or share them as links."),
        Rule(errors.QuotaExceeded, code="ErrorSubmissionQuotaExceeded", retryable=True,
             source="ews.submission_quota_exceeded",
             remedy="The organisation's sending limit was reached: try again later."),
        # ---------------------------------------------------------------- discovery
        Rule(errors.AutodiscoverFailed, code="AutoDiscoverFailed",
             source="ews.autodiscover_failed"),
        Rule(errors.AutodiscoverFailed, code="AutoDiscoverCircularRedirect",
             source="ews.autodiscover_failed"),
        Rule(errors.AutodiscoverFailed, code="TransportError", pattern="has no DNS entry",
             source="ews.autodiscover_failed"),
        Rule(errors.ReauthorizationRequired, code="TokenExpiredError"),
        Rule(errors.ConfigurationError, code="InsecureTransportError",
             remedy="OAuth tokens are only sent over https: use an https:// EWS URL."),
        Rule(errors.TransientError, code="ErrorInternalServerError", retryable=False),
    ),
    fallback=errors.InboxLinkError,
)

_CERT_REASONS = (
    (re.compile(r"Hostname mismatch|IP address mismatch|doesn't match", re.I), "name-mismatch"),
    (re.compile(r"expired", re.I), "expired"),
    (re.compile(r"self[- ]signed|unable to get local issuer|unknown ca", re.I), "untrusted"),
)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _host(endpoint: str | None) -> str | None:
    return urlsplit(endpoint).hostname if endpoint else None


def extract(exc: BaseException, endpoint: str | None = None) -> Signal | errors.InboxLinkError | None:
    """Describe an exchangelib (or requests/oauthlib) exception as a `Signal`.

    ``endpoint`` is the EWS URL in use: wrong-URL errors suggest the EWS URL of its host and
    certificate errors name it. Exceptions from elsewhere (programming errors) return ``None``.
    """
    from exchangelib import errors as ews_errors

    names = {cls.__name__ for cls in type(exc).__mro__}
    if not isinstance(exc, ews_errors.EWSError) and not names & {
        "RequestException", "OAuth2Error", "InsecureTransportError", "SSLError",
    }:
        return None
    code = type(exc).__name__
    text = str(exc)
    details: dict[str, Any] = {}
    status: int | None = None
    if isinstance(exc, ews_errors.RedirectError):
        target = exc.url
        suggestion = target if target.lower().rstrip("/").endswith("/ews/exchange.asmx") else None
        _suggestion(details, suggestion or _suggest(endpoint or target), endpoint)
    elif code in ("MalformedResponseError", "SOAPError") or (
        code == "TransportError" and "Failed to get auth type" in text
    ):
        _suggestion(details, _suggest(endpoint), endpoint)
    elif isinstance(exc, ews_errors.ErrorServerBusy) and exc.back_off is not None:
        details["retry_after"] = float(exc.back_off)
    elif isinstance(exc, ews_errors.RateLimitError):
        if any("Caused by HTTP 401" in str(e) for e in _chain(exc)):
            code = UNAUTHORIZED_RETRIED
            status = 401
        else:
            details["retry_after"] = float(exc.wait)
    elif isinstance(exc, ews_errors.CASError):
        code, text = "CASError", f"CAS error: {exc.cas_error}"
        status = getattr(exc.response, "status_code", None)
    elif isinstance(exc, ews_errors.UnauthorizedError):
        status = 401
    if TABLE.match(Signal("ews", code, text)) is not None and re.search(_TLS, text) and (
        code == "TransportError"
    ):
        reason = next((r for rx, r in _CERT_REASONS if rx.search(text)), "other")
        host = _host(endpoint)
        details.update(reason=reason, host=host)
        where = f" for {host}" if host else ""
        text = (f"The certificate of the Exchange server{where} was not accepted "
                f"({reason}): {text}")
        if reason == "name-mismatch" and host:
            details["remedy"] = (
                f"The server's certificate is not issued for {host}: connect with the host name "
                "on the certificate (the EWS URL must use it), or ask IT to fix the certificate."
            )
    return Signal(provider="ews", code=code, text=text, status=status, details=details)


def _suggestion(details: dict[str, Any], suggested: str | None, endpoint: str | None) -> None:
    if suggested and endpoint and suggested.casefold() == endpoint.casefold():
        # The EWS URL itself was turned away: suggesting it again helps nobody, the rule's
        # remedy (a proxy or sign-in portal in the way) does.
        suggested = None
    details["suggested_url"] = suggested
    if suggested:
        details["remedy"] = (
            "That address is not the Exchange Web Services endpoint (it answered like Outlook on "
            f"the web or another web page). Use the EWS URL instead: {suggested}"
        )


def _suggest(url: str | None) -> str | None:
    if not url:
        return None
    from inboxlink.adapters.ews.settings import suggest_ews_url

    return suggest_ews_url(url)


#: requests exceptions raised after the request was written: the answer was lost
_LOST_ANSWER = frozenset({"ReadTimeout", "ChunkedEncodingError", "ProtocolError",
                          "RemoteDisconnected", "IncompleteRead", "MalformedResponseError",
                          "SOAPError"})
#: raised before the whole request left: the server cannot have acted on it
_NOT_SENT = frozenset({"ConnectTimeout", "NewConnectionError", "NameResolutionError",
                       "SSLError", "ConnectTimeoutError"})


def send_answer_lost(exc: BaseException) -> bool:
    """Whether a failed send (CreateItem with SendOnly/SendAndSaveCopy) may have been sent.

    exchangelib re-raises every connection failure as ``ErrorTimeoutExpired("Reraised from
    …")``, so the requests/urllib3 exceptions underneath (``__context__``, and the reason
    inside ``requests.ConnectionError``) tell whether the request ever left: a failed connect
    or TLS handshake did not send it; a read timeout, a dropped or reset connection while
    waiting, or a 200 that is not SOAP came after it was written.
    """
    names: set[str] = set()
    for item in _chain(exc):
        names.update(cls.__name__ for cls in type(item).__mro__)
        for arg in getattr(item, "args", ()):
            if isinstance(arg, BaseException):
                names.update(cls.__name__ for cls in type(arg).__mro__)
                reason = getattr(arg, "reason", None)
                if isinstance(reason, BaseException):
                    names.update(cls.__name__ for cls in type(reason).__mro__)
                for inner in getattr(arg, "args", ()):
                    if isinstance(inner, BaseException):
                        names.update(cls.__name__ for cls in type(inner).__mro__)
    if names & _NOT_SENT:
        return False
    return bool(names & _LOST_ANSWER)
