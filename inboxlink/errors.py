"""Typed errors: every failure a mailbox can meet, each with a remedy a person can act on.

Every public method of every adapter raises only subclasses of `InboxLinkError`.
The provider's own exception is kept as ``__cause__``; the raw provider code or text is
in `InboxLinkError.code`.

The tree::

    InboxLinkError
    ├── ConnectError                      cannot reach or talk to the server
    │   ├── ServerUnreachable             (also ConnectionError) DNS, refused, timeout, firewall
    │   ├── CertificateError              name mismatch, untrusted/self-signed, expired
    │   ├── TlsVersionMismatch            no common TLS version
    │   ├── StartTlsUnavailable           STARTTLS not offered: credentials never sent
    │   ├── UnsupportedServer             e.g. Courier-IMAP
    │   └── ConnectionLost                dropped mid-command (retryable)
    │       └── MailboxClosed             used after close() (not retryable)
    ├── AuthError                         the provider refused who we are
    │   ├── InvalidCredentials            wrong password / token, DOMAIN\\user form
    │   ├── AppPasswordRequired           2-step verification is on
    │   ├── BasicAuthDisabled             password sign-in switched off, use OAuth
    │   ├── ReauthorizationRequired       token revoked/expired, password changed
    │   ├── InteractionRequired           MFA, conditional access, assignment to the app
    │   ├── AdminConsentRequired          carries ``consent_url``
    │   └── AccountDisabled               locked, disabled or expired account
    ├── PermissionDenied                  (also PermissionError) signed in but not allowed
    │   ├── AppBlocked                    Advanced Protection / admin blocks the app
    │   ├── InsufficientScopes            carries ``missing``
    │   ├── SendAsDenied                  may not send as the From address
    │   └── ProtocolDisabled              IMAP/SMTP/EWS/REST switched off for the account
    ├── ConfigurationError                set-up that cannot work as given
    │   ├── UnsupportedProtocol           POP3, unknown URL schemes
    │   ├── AdapterNotAvailable           an optional extra is not installed
    │   ├── InvalidExchangeUrl            carries ``suggested_url`` (OWA address given)
    │   ├── UnsupportedExchangeVersion    carries ``server_version`` (older than 2010 SP2)
    │   ├── RestApiNotEnabled             Graph cannot serve this mailbox
    │   ├── ApiNotEnabled                 Gmail API off in the Cloud project
    │   ├── MailboxNotFound               the account has no mailbox there
    │   ├── MissingSmtpAddress            the mailbox has no SMTP address to send from
    │   ├── AutodiscoverFailed            Exchange autodiscover found no endpoint
    │   └── UnsupportedOperation          (also NotImplementedError) the adapter cannot do this
    ├── MessageRejected                   the message itself was refused (also ValueError)
    │   ├── InvalidMessage                bad headers, CR/LF injection, unparsable input
    │   ├── MessageTooLarge
    │   └── RecipientsRefused             carries ``recipients``
    ├── QuotaExceeded                     mailbox full / daily sending limit
    ├── NotFound                          (also LookupError)
    │   ├── FolderNotFound
    │   └── MessageNotFound
    ├── CursorExpired                     a listing cursor no longer applies (UIDVALIDITY changed)
    │   └── SyncTokenExpired              the provider forgot a sync token's state: re-baseline
    ├── SentCopyFailed                    the send succeeded, the copy into Sent did not
    ├── SendOutcomeUnknown                handed over, answer lost: check Sent before resending
    ├── RateLimited                       carries ``retry_after`` (retryable)
    └── TransientError                    server busy / 5xx / unavailable (retryable)
        └── OperationTimeout              (also TimeoutError)

Raw signals are mapped to these classes by each adapter's table; see
`inboxlink.errors.translate()` and ``docs/errors.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from inboxlink.spool import Spool

__all__ = [
    "AccountDisabled",
    "AdapterNotAvailable",
    "AdminConsentRequired",
    "ApiNotEnabled",
    "AppBlocked",
    "AppPasswordRequired",
    "AuthError",
    "AutodiscoverFailed",
    "BasicAuthDisabled",
    "CertificateError",
    "ConfigurationError",
    "ConnectError",
    "ConnectionLost",
    "CursorExpired",
    "FolderNotFound",
    "InboxLinkError",
    "InsufficientScopes",
    "InteractionRequired",
    "InvalidCredentials",
    "InvalidExchangeUrl",
    "InvalidMessage",
    "MailboxClosed",
    "MailboxNotFound",
    "MessageNotFound",
    "MessageRejected",
    "MessageTooLarge",
    "MissingSmtpAddress",
    "NotFound",
    "OperationTimeout",
    "PermissionDenied",
    "ProtocolDisabled",
    "QuotaExceeded",
    "RateLimited",
    "ReauthorizationRequired",
    "RecipientsRefused",
    "RestApiNotEnabled",
    "SendAsDenied",
    "SendOutcomeUnknown",
    "SentCopyFailed",
    "ServerUnreachable",
    "StartTlsUnavailable",
    "SyncTokenExpired",
    "TlsVersionMismatch",
    "TransientError",
    "UnsupportedExchangeVersion",
    "UnsupportedOperation",
    "UnsupportedProtocol",
    "UnsupportedServer",
    "all_error_classes",
    "redact",
]


class InboxLinkError(Exception):
    """Root of every error inboxlink raises.

    Attributes:
        message: what went wrong, in one sentence.
        provider: which adapter/provider raised it (``"imap"``, ``"graph"``, ...), if known.
        code: the raw provider code or text that was mapped (``"AUTHENTICATIONFAILED"``,
            ``"MailboxNotEnabledForRESTAPI"``, ``"535 5.7.8"``), if any.
        remedy: one or two sentences a person can act on. Each class has a default;
            adapters pass a more specific one where the provider tells us more.
        retryable: whether repeating the same call later can succeed.
    """

    default_message: ClassVar[str] = "The mailbox operation failed."
    default_remedy: ClassVar[str] = "Check the connection settings and try again."
    default_retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str | None = None,
        *,
        provider: str | None = None,
        code: str | None = None,
        remedy: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.provider = provider
        self.code = code
        self.remedy = remedy or self.default_remedy
        self.retryable = self.default_retryable if retryable is None else retryable
        super().__init__(self.message)

    def __str__(self) -> str:
        where = ""
        if self.provider or self.code:
            where = " [" + ": ".join(p for p in (self.provider, self.code) if p) + "]"
        return f"{self.message}{where} Remedy: {self.remedy}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, provider={self.provider!r}, "
            f"code={self.code!r}, retryable={self.retryable!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields must survive pickling (multiprocessing, pytest-xdist).
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type[InboxLinkError], state: dict[str, Any]) -> InboxLinkError:
    err = cls.__new__(cls)
    Exception.__init__(err, state.get("message"))
    err.__dict__.update(state)
    return err


# --------------------------------------------------------------------------- connect
class ConnectError(InboxLinkError):
    """The server could not be reached or spoken to."""

    default_message = "Could not connect to the mail server."
    default_remedy = (
        "Check the host name and port. If they are right, a firewall or an IP allow-list "
        "may be blocking this machine: ask the mail server's IT team to allow it."
    )


class ServerUnreachable(ConnectError, ConnectionError):
    """DNS failure, connection refused or timed out: often a firewall or IP allow-list."""

    default_message = "The mail server could not be reached."
    default_retryable = True


class CertificateError(ConnectError):
    """The server's TLS certificate was not accepted.

    ``reason`` is one of ``"name-mismatch"``, ``"untrusted"``, ``"expired"``, ``"other"``;
    ``host`` is the name we connected to and ``names`` the names the certificate holds.
    """

    default_message = "The server's TLS certificate was not accepted."
    default_remedy = (
        "Connect with the host name the certificate was issued for, or ask the server's "
        "administrator for a certificate signed by a public CA. For a server you trust, pass "
        "ssl_context= with its CA, or verify_tls=False to allow an insecure certificate."
    )

    def __init__(
        self,
        message: str | None = None,
        *,
        reason: str = "other",
        host: str | None = None,
        names: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        self.reason = reason
        self.host = host
        self.names = tuple(names)
        super().__init__(message, **kwargs)


class TlsVersionMismatch(ConnectError):
    """Client and server share no TLS version (inboxlink requires TLS 1.2+ by default)."""

    default_message = "The server and inboxlink share no TLS protocol version."
    default_remedy = (
        "The server offers only old TLS versions. Ask its administrator to enable TLS 1.2 or "
        "newer, or lower the minimum explicitly (tls_minimum='TLSv1') for a legacy server."
    )


class StartTlsUnavailable(ConnectError):
    """The server does not offer STARTTLS; credentials were not sent in clear."""

    default_message = "The server does not offer STARTTLS, so the connection cannot be encrypted."
    default_remedy = (
        "Use the implicit-TLS port instead (imaps:// on 993, smtps:// on 465) or ask the server's "
        "administrator to enable STARTTLS. inboxlink never sends credentials unencrypted."
    )


class UnsupportedServer(ConnectError):
    """The server software is known not to work (e.g. Courier-IMAP)."""

    default_message = "This mail server software is not supported."
    default_remedy = (
        "Courier-IMAP cannot be used: replies delivered through it cannot be matched reliably. "
        "Connect through another protocol (EWS, the provider's API) or another server."
    )


class ConnectionLost(ConnectError):
    """The connection dropped in the middle of a command."""

    default_message = "The connection to the mail server was lost."
    default_remedy = "Try again; if it keeps happening, check the network between you and the server."
    default_retryable = True


class MailboxClosed(ConnectionLost):
    """The mailbox was used after ``close()``: the documented behaviour of every adapter
    (a closed mailbox is never reopened behind the application's back)."""

    default_message = "The mailbox is closed."
    default_remedy = "Connect again with inboxlink.connect(); close() ends a mailbox for good."
    default_retryable = False


# --------------------------------------------------------------------------- auth
class AuthError(InboxLinkError):
    """The provider refused the credentials or the session."""

    default_message = "Authentication failed."
    default_remedy = "Check the username and password, then connect again."


class InvalidCredentials(AuthError):
    """Wrong username, password or token."""

    default_message = "The server rejected the username or password."
    default_remedy = (
        "Check the username and password. If two-step verification is on, use an app password. "
        "Some Exchange servers need the login as DOMAIN\\username."
    )


class AppPasswordRequired(AuthError):
    """Two-step verification is on: the normal password is not accepted."""

    default_message = "The account needs an app password."
    default_remedy = (
        "Two-step verification is on for this account: create an app password in the account's "
        "security settings and use it instead of the normal password, or sign in with OAuth."
    )


class BasicAuthDisabled(AuthError):
    """Password (basic) sign-in is switched off; OAuth is required."""

    default_message = "Password sign-in is disabled for this account."
    default_remedy = (
        "The provider no longer accepts passwords for this protocol. Connect with OAuth "
        "(access_token=) or ask the administrator to allow authenticated SMTP/IMAP."
    )


class ReauthorizationRequired(AuthError):
    """The grant was revoked or expired (password changed, token revoked): sign in again."""

    default_message = "Access to the mailbox was revoked or has expired."
    default_remedy = (
        "The mailbox was disconnected (access revoked, token expired or password changed). "
        "Ask the user to sign in and authorize the app again."
    )


class InteractionRequired(AuthError):
    """The user must sign in interactively (MFA, conditional access, assignment)."""

    default_message = "The user must complete an interactive sign-in."
    default_remedy = (
        "Ask the user to sign in interactively: multi-factor authentication or a conditional "
        "access policy must be satisfied, or the user must be assigned to the app by an admin."
    )


class AdminConsentRequired(AuthError):
    """The tenant requires an administrator to consent to the app; ``consent_url`` opens it."""

    default_message = "An administrator must approve this app for the organization."
    default_remedy = (
        "Send the admin-consent link to a global administrator of the organization; once they "
        "approve the app, connect again."
    )

    def __init__(self, message: str | None = None, *, consent_url: str | None = None,
                 **kwargs: Any) -> None:
        self.consent_url = consent_url
        if consent_url and "remedy" not in kwargs:
            kwargs["remedy"] = (
                f"Ask a global administrator to open {consent_url} and approve the app, "
                "then connect again."
            )
        super().__init__(message, **kwargs)


class AccountDisabled(AuthError):
    """The account is locked, disabled or its password expired."""

    default_message = "The account is disabled or locked."
    default_remedy = "Ask the administrator to unlock or re-enable the account, then connect again."


# --------------------------------------------------------------------------- permission
class PermissionDenied(InboxLinkError, PermissionError):
    """Signed in, but not allowed to do this."""

    default_message = "The account is not allowed to do this."
    default_remedy = "Ask the mailbox administrator for the missing permission."


class AppBlocked(PermissionDenied):
    """Google Advanced Protection or a Workspace admin blocks apps that read mail."""

    default_message = "An administrator policy blocks this app from the mailbox."
    default_remedy = (
        "The organization (or Google Advanced Protection) blocks apps that read and write mail. "
        "Ask the Workspace administrator to add this app to the trusted apps list."
    )


class InsufficientScopes(PermissionDenied):
    """The token lacks permissions; ``missing`` names them."""

    default_message = "The access token lacks required permissions."
    default_remedy = "Sign in again and grant every permission the app asks for."

    def __init__(self, message: str | None = None, *, missing: Iterable[str] = (),
                 **kwargs: Any) -> None:
        self.missing = tuple(missing)
        if self.missing and message is None:
            message = "The access token lacks required permissions: " + ", ".join(self.missing) + "."
        if self.missing and "remedy" not in kwargs:
            kwargs["remedy"] = (
                "Sign in again and grant these permissions: " + ", ".join(self.missing) + "."
            )
        super().__init__(message, **kwargs)


class SendAsDenied(PermissionDenied):
    """The account may not send as the From address."""

    default_message = "The account is not allowed to send as this address."
    default_remedy = (
        "Send from the mailbox's own address, or ask the administrator to grant "
        "'Send As' permission for the From address."
    )


class ProtocolDisabled(PermissionDenied):
    """The protocol (IMAP, SMTP AUTH, EWS, REST) is switched off for the account."""

    default_message = "This protocol is disabled for the account."
    default_remedy = (
        "IMAP access is switched off for this account: enable it in the mailbox settings "
        "(or ask the administrator to), then connect again."
    )


# --------------------------------------------------------------------------- configuration
class ConfigurationError(InboxLinkError):
    """The set-up as given cannot work."""

    default_message = "The mailbox settings cannot work as given."
    default_remedy = "Check the connection URL and options."


class UnsupportedProtocol(ConfigurationError):
    """The protocol is not supported (POP3, or an unknown URL scheme)."""

    default_message = "This protocol is not supported."
    default_remedy = (
        "Use IMAP (imaps://) for reading. POP3 is not supported: it downloads and usually "
        "deletes mail, while inboxlink needs mail and folders to stay on the server."
    )


class AdapterNotAvailable(ConfigurationError):
    """The adapter's optional dependencies are not installed."""

    default_message = "The adapter's optional dependencies are not installed."
    default_remedy = "Install the extra named in the message, e.g. pip install 'inboxlink[all]'."


class InvalidExchangeUrl(ConfigurationError):
    """The URL is not an EWS endpoint (often an Outlook Web App address)."""

    default_message = "This address is not an Exchange Web Services (EWS) endpoint."
    default_remedy = "Use the EWS URL, which looks like https://mail.example.com/EWS/Exchange.asmx."

    def __init__(self, message: str | None = None, *, suggested_url: str | None = None,
                 **kwargs: Any) -> None:
        self.suggested_url = suggested_url
        if suggested_url and "remedy" not in kwargs:
            kwargs["remedy"] = (
                "This looks like an Outlook Web App (webmail) address. "
                f"Use the EWS URL instead: {suggested_url}"
            )
        super().__init__(message, **kwargs)


class UnsupportedExchangeVersion(ConfigurationError):
    """The Exchange server is older than Exchange 2010 SP2."""

    default_message = "This Exchange server version is not supported."
    default_remedy = "Exchange 2010 SP2 or newer is required: ask the administrator to update it."

    def __init__(self, message: str | None = None, *, server_version: str | None = None,
                 **kwargs: Any) -> None:
        self.server_version = server_version
        if server_version and message is None:
            message = (
                f"The Exchange server runs version {server_version}; "
                "Exchange 2010 SP2 (14.2) or newer is required."
            )
        super().__init__(message, **kwargs)


class RestApiNotEnabled(ConfigurationError):
    """Microsoft Graph cannot serve this mailbox (shared, hybrid on-premises, migrating)."""

    default_message = "The REST API is not enabled for this mailbox."
    default_remedy = (
        "This mailbox is not hosted in Exchange Online (it is shared, hybrid on-premises or "
        "still migrating): connect it with IMAP or EWS instead. An MX look-up of the domain "
        "tells where its mail is hosted."
    )


class ApiNotEnabled(ConfigurationError):
    """The provider API is not enabled for the app's cloud project."""

    default_message = "The API is not enabled for this app's project."
    default_remedy = (
        "Enable the Gmail API in the Google Cloud project the OAuth client belongs to "
        "(APIs & Services > Library > Gmail API), wait a few minutes, then retry."
    )


class MailboxNotFound(ConfigurationError):
    """The account has no mailbox with this provider (mail hosted elsewhere)."""

    default_message = "The account has no mailbox here."
    default_remedy = (
        "This account has no mailbox with this provider; its mail is probably hosted "
        "elsewhere. Check the address, or connect with IMAP/EWS to the real host."
    )


class MissingSmtpAddress(ConfigurationError):
    """The mailbox has no primary SMTP address, so it cannot send."""

    default_message = "The mailbox has no SMTP address to send from."
    default_remedy = "Ask the Exchange administrator to give the mailbox a primary SMTP address."


class AutodiscoverFailed(ConfigurationError):
    """Exchange autodiscover could not find the EWS endpoint."""

    default_message = "Autodiscover could not find the Exchange server for this address."
    default_remedy = (
        "Give the EWS URL explicitly (url='https://mail.example.com/EWS/Exchange.asmx')."
    )


# --------------------------------------------------------------------------- messages
class MessageRejected(InboxLinkError, ValueError):
    """The message itself was refused."""

    default_message = "The message was rejected."
    default_remedy = "Check the message's recipients, headers and size."


class UnsupportedOperation(ConfigurationError, NotImplementedError):
    """This adapter (or this server) cannot do what was asked; see its ``capabilities``."""

    default_message = "This mailbox does not support that operation."
    default_remedy = "Check mailbox.capabilities before calling it, or use another adapter."


class InvalidMessage(MessageRejected):
    """The message is malformed or would inject headers (CR/LF in a header value)."""

    default_message = "The message is not valid."
    default_remedy = "Remove line breaks from addresses and the subject, and check the headers."


class MessageTooLarge(MessageRejected):
    """The message exceeds the server's size limit.

    Attributes:
        limit: the largest message the server (or provider) accepts, in bytes, when the
            adapter knows it: from the server's answer (SMTP ``SIZE``, IMAP ``APPENDLIMIT``,
            an EWS fault naming it) or the provider's documented limit; else ``None``.
        size: the refused message's size in bytes as measured for that limit (encoded
            size where the provider counts that), when known; else ``None``.
    """

    default_message = "The message is larger than the server accepts."
    default_remedy = "Send smaller attachments, or share large files as links."

    def __init__(self, message: str | None = None, *, limit: int | None = None,
                 size: int | None = None, **kwargs: Any) -> None:
        self.limit = limit
        self.size = size
        super().__init__(message, **kwargs)


class RecipientsRefused(MessageRejected):
    """Recipients were refused; ``recipients`` maps each address to the server's reply."""

    default_message = "The server refused the recipients."
    default_remedy = "Check the recipients' addresses for typos; the server does not accept them."

    def __init__(self, message: str | None = None, *,
                 recipients: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        self.recipients = dict(recipients or {})
        if self.recipients and message is None:
            message = "The server refused: " + ", ".join(sorted(self.recipients)) + "."
        super().__init__(message, **kwargs)


class QuotaExceeded(InboxLinkError):
    """Mailbox storage or a sending quota is exhausted."""

    default_message = "A mailbox or sending quota is exhausted."
    default_remedy = "Free space in the mailbox, or wait until the sending quota resets."


# --------------------------------------------------------------------------- lookups
class NotFound(InboxLinkError, LookupError):
    """The folder or message does not exist (any more)."""

    default_message = "The requested item was not found."
    default_remedy = "It may have been moved or deleted; list the folder again."


class FolderNotFound(NotFound):
    """No such folder."""

    default_message = "The folder was not found."
    default_remedy = "List the folders with mailbox.folders() and use one of their ids."


class MessageNotFound(NotFound):
    """No such message (moved, deleted, or an id from another mailbox).

    A bulk action (``set_read``, ``move``, ``delete`` …) still acts on every id that exists;
    then ``missing`` names the ids that did not, and ``result`` holds what the call would
    have returned for the others (``move``: old id → new id).
    """

    default_message = "The message was not found."

    def __init__(self, message: str | None = None, *, missing: Iterable[str] = (),
                 result: Any = None, **kwargs: Any) -> None:
        self.missing = tuple(missing)
        self.result = result
        if self.missing and message is None:
            shown = ", ".join(repr(m) for m in self.missing[:5])
            more = f" and {len(self.missing) - 5} more" if len(self.missing) > 5 else ""
            message = f"No message with the id {shown}{more}; the others were done."
        super().__init__(message, **kwargs)


class CursorExpired(InboxLinkError):
    """A listing cursor no longer applies (e.g. IMAP UIDVALIDITY changed)."""

    default_message = "The listing cursor no longer applies: the folder was rebuilt on the server."
    default_remedy = "Start the listing again without a cursor."


class SyncTokenExpired(CursorExpired):
    """The provider no longer knows a sync token's state (history too old, delta 410,
    invalid SyncState, UIDVALIDITY changed), or the token was not one of this folder's."""

    default_message = "The sync token no longer applies: the provider forgot its state."
    default_remedy = (
        "Take a new token with mailbox.sync_token(folder), then list the folder again to "
        "catch up on what changed meanwhile."
    )


class SendOutcomeUnknown(InboxLinkError):
    """The message was handed to the server but its answer never came (connection dropped
    after the data, a lost or truncated response): it may or may not have been sent.

    ``raw`` and ``message_id`` identify the message; never resend it blindly. Not retryable.
    """

    default_message = "The message was handed to the server, but whether it was sent is unknown."
    default_remedy = (
        "Look for its Message-ID in the Sent folder (or ask the recipient) before sending it "
        "again: resending blindly may deliver it twice."
    )

    def __init__(self, message: str | None = None, *, raw: bytes | Spool = b"",
                 message_id: str | None = None, **kwargs: Any) -> None:
        self.spool = Spool.of(raw)  #: the message's bytes (on disk for a large message)
        self.message_id = message_id
        kwargs["retryable"] = False
        super().__init__(message, **kwargs)

    @property
    def raw(self) -> bytes:
        """The message's bytes, in memory."""
        return self.spool.read()


class SentCopyFailed(InboxLinkError):
    """The message was sent, but saving its copy into Sent failed.

    ``raw`` holds the exact bytes that were sent so the copy can be retried alone with
    ``mailbox.append_to_sent(err.raw)``. Never resend the message itself.
    """

    default_message = "The message was sent, but saving its copy into the Sent folder failed."
    default_remedy = (
        "The message was delivered: do not send it again. Retry only the copy with "
        "mailbox.append_to_sent(error.raw)."
    )

    def __init__(self, message: str | None = None, *, raw: bytes | Spool = b"",
                 **kwargs: Any) -> None:
        self.spool = Spool.of(raw)  #: the bytes sent (on disk for a large message)
        super().__init__(message, **kwargs)

    @property
    def raw(self) -> bytes:
        """The bytes sent, in memory; ``append_to_sent(error.spool)`` streams them instead."""
        return self.spool.read()


class RateLimited(InboxLinkError):
    """The provider is throttling; wait ``retry_after`` seconds (if known) and retry."""

    default_message = "The provider is limiting the request rate."
    default_remedy = "Wait and retry; inboxlink retries reads automatically."
    default_retryable = True

    def __init__(self, message: str | None = None, *, retry_after: float | None = None,
                 **kwargs: Any) -> None:
        self.retry_after = retry_after
        if retry_after is not None and "remedy" not in kwargs:
            kwargs["remedy"] = f"Wait {retry_after:g} seconds and retry."
        super().__init__(message, **kwargs)


class TransientError(InboxLinkError):
    """A temporary server-side failure (busy, unavailable, 5xx)."""

    default_message = "The mail server had a temporary failure."
    default_remedy = "Retry in a moment; inboxlink retries reads automatically."
    default_retryable = True


class OperationTimeout(TransientError, TimeoutError):
    """The server did not answer in time."""

    default_message = "The mail server did not answer in time."


def all_error_classes() -> list[type[InboxLinkError]]:
    """Every public error class, root first, in a stable order (for docs and tests)."""
    seen: list[type[InboxLinkError]] = []

    def walk(cls: type[InboxLinkError]) -> None:
        if cls.__module__ == __name__ and cls not in seen:
            seen.append(cls)
        for sub in sorted(cls.__subclasses__(), key=lambda c: c.__name__):
            walk(sub)

    walk(InboxLinkError)
    return seen


_SECRET_PARAM = re.compile(
    r"(?i)(password|passwd|pwd|secret|token|access_token|refresh_token|authorization|bearer)"
    r"(\s*[=:]\s*(?:(?:Bearer|Basic)\s+)?|\s+)([^\s,;&'\"]+)"
)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove every given secret and anything that looks like ``password=…``/``Bearer …``.

    Adapters pass provider texts through this before they reach an error message or a log.
    """
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
