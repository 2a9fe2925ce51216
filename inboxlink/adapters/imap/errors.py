"""The IMAP/SMTP/TLS error table: raw server replies and library exceptions → typed errors.

The table is data and imports without imapclient. `extract` turns what imapclient,
imaplib, smtplib, ssl and socket raise into a `Signal`:

* IMAP: ``code`` is the RFC 5530 response code in brackets (``AUTHENTICATIONFAILED``),
  ``text`` is ``"<COMMAND>: <server text>"`` (``"LOGIN: [ALERT] …"``).
* SMTP: ``status`` is the reply code (535), ``code`` the enhanced status (``5.7.8``),
  ``text`` the reply text.
* TLS: ``code`` is ``x509:<verify code>`` (62 name mismatch, 18–21 untrusted, 10 expired).
* Local pseudo codes: ``GREETING`` (the IMAP greeting, checked before anything is sent),
  ``UNREACHABLE`` (cannot connect), ``LOGINDISABLED``, ``NOSTARTTLS``.

Rules are ordered most specific first: provider texts, then RFC codes, then catch-alls.
"""

from __future__ import annotations

import ast
import re
import socket
import ssl
from typing import Any

import attrs

from inboxlink import errors
from inboxlink.tls import certificate_reason
from inboxlink.translate import ErrorTable, Rule, Signal

__all__ = ["TABLE", "extract", "imap_signal", "login_signal", "smtp_signal"]

PROVIDER = "imap"

_TWO_FA = (
    "Two-step verification is on: create an app password (Google: "
    "myaccount.google.com/apppasswords) and use it instead of the normal password, or "
    "connect with OAuth (access_token=)."
)
_WEB_LOGIN = (
    "The provider blocked this sign-in: open the mailbox in a web browser, confirm the "
    "security alert, then use an app password or OAuth (access_token=)."
)
_MS_OAUTH = (
    "Microsoft 365 / Outlook.com no longer accept passwords here (or IMAP is disabled for "
    "the mailbox): connect with OAuth (access_token=), or ask IT whether IMAP is enabled."
)
_WRONG_MODE = (
    "The security setting does not match the port: use imaps:// (993) / smtps:// (465) for "
    "implicit TLS, imap:// (143) / smtp:// (587) for STARTTLS."
)
_TLS_OLD = (
    "The server and inboxlink share no TLS version (TLS 1.2 is the minimum by default). Ask "
    "the administrator to enable TLS 1.2+, or lower it explicitly with tls_minimum='TLSv1'."
)

#: an IMAP reply's text begins with its command ("SELECT: …", "LOGIN (Cyrus): …"); SMTP
#: replies begin with their status digits, so these keep IMAP wording rows off SMTP text
_IMAP = r"^[A-Z]+(?: [A-Z]+)?(?: \([^)]*\))?: "
_LOGIN = r"^(?:LOGIN|AUTHENTICATE)(?: \([^)]*\))?: "

TABLE = ErrorTable(
    provider=PROVIDER,
    fallback=errors.InboxLinkError,
    rules=(
        # ------------------------------------------------------------ connecting / TLS
        Rule(errors.UnsupportedServer, code="GREETING",
             pattern=r"Courier-IMAP ready|Double Precision, Inc", source="imap.courier.detected",
             message="The server runs Courier-IMAP, which inboxlink does not support.",
             remedy="Courier-IMAP is not supported: replies delivered through it cannot be "
             "matched reliably. Use another server or protocol, or pass allow_courier=True "
             "to accept the risk."),
        # A customised greeting still shows Courier's capability fingerprint.
        Rule(errors.UnsupportedServer, code="GREETING",
             pattern=r"^(?=.*\bACL2=UNION\b)(?=.*\bTHREAD=ORDEREDSUBJECT\b)"
             r"(?!.*\b(SPECIAL-USE|MOVE|CONDSTORE)\b)", source="imap.courier.detected",
             message="The server looks like Courier-IMAP, which inboxlink does not support.",
             remedy="Courier-IMAP is not supported: replies delivered through it cannot be "
             "matched reliably. Use another server or protocol, or pass allow_courier=True "
             "to accept the risk."),
        Rule(errors.ServerUnreachable, code="UNREACHABLE", source=None),
        Rule(errors.CertificateError, code="x509:62", source="tls.hostname_mismatch",
             remedy="The certificate was issued for another name: connect with a host name "
             "printed on the certificate (often the provider's, e.g. mail.hoster.net)."),
        Rule(errors.CertificateError, code="x509:64", source="tls.hostname_mismatch",
             remedy="The certificate does not cover this IP address: connect with a host "
             "name printed on the certificate."),
        Rule(errors.CertificateError, code="x509:10", source="tls.expired",
             remedy="The server's certificate has expired: ask the mail provider to renew it."),
        Rule(errors.CertificateError, pattern=r"certificate has expired", source="tls.expired",
             remedy="The server's certificate has expired: ask the mail provider to renew it."),
        Rule(errors.CertificateError,
             pattern=r"self[- ]signed certificate|unable to get local issuer certificate|"
             r"unable to verify the first certificate", source="tls.untrusted",
             remedy="The certificate is not signed by a trusted CA (self-signed or an "
             "incomplete chain). Ask the administrator for a proper certificate, pass "
             "ssl_context= trusting its CA, or verify_tls=False to allow it explicitly."),
        Rule(errors.CertificateError, pattern=r"Hostname mismatch|IP address mismatch",
             source="tls.hostname_mismatch"),
        Rule(errors.TlsVersionMismatch,
             pattern=r"UNSUPPORTED_PROTOCOL|PROTOCOL_VERSION|no protocols available|"
             r"version too low", source=None, remedy=_TLS_OLD),
        Rule(errors.ConnectError,
             pattern=r"WRONG_VERSION_NUMBER|wrong version number|UNEXPECTED_EOF|"
             r"record layer failure|HTTP_REQUEST|PACKET_LENGTH_TOO_LONG",
             source="tls.wrong_mode", remedy=_WRONG_MODE,
             message="The TLS handshake failed: the port does not speak this security mode."),
        Rule(errors.StartTlsUnavailable, code="NOSTARTTLS", source="imap.starttls_not_offered"),
        Rule(errors.StartTlsUnavailable,
             pattern=r"Server does not support STARTTLS capability",
             source="imap.starttls_not_offered"),
        Rule(errors.StartTlsUnavailable, code="LOGINDISABLED", source="imap.logindisabled",
             remedy="The server refuses sign-in on an unencrypted connection: use imaps:// "
             "(993) or imap:// with STARTTLS."),
        Rule(errors.RateLimited, pattern=r"Too many simultaneous connections",
             source="imap.gmail.too_many_connections", retryable=True,
             remedy="Too many programs are connected to this account at once: close other "
             "mail apps, then retry in a few minutes."),
        Rule(errors.TransientError, pattern=r"^b?'?\* BYE ", source="imap.bye_greeting",
             message="The server refused the session (busy, limiting connections or in "
             "maintenance).", remedy="Retry later; if it persists, ask the mail provider."),
        # ------------------------------------------------------------ IMAP provider texts
        Rule(errors.AppPasswordRequired, pattern=r"Application-specific[ _]password[ _]required",
             source="imap.gmail.app_password_required", remedy=_TWO_FA),
        Rule(errors.InteractionRequired,
             pattern=r"Please log in via your web browser|Web login required|WEBALERT",
             source="imap.gmail.web_login_required", remedy=_WEB_LOGIN),
        Rule(errors.ProtocolDisabled,
             pattern=r"not[ _]enabled[ _]for[ _]IMAP[ _]use|IMAP[ _]disabled",
             source="imap.gmail.imap_disabled_user",
             remedy="IMAP is turned off for this account: enable it in the mail settings "
             "(Gmail: Settings > Forwarding and POP/IMAP), or use the provider's API adapter."),
        Rule(errors.ProtocolDisabled,
             pattern=r"IMAP[ _]access[ _]is[ _]disabled[ _]for[ _]your[ _]domain",
             source="imap.gmail.imap_disabled_domain",
             remedy="The domain's administrator has disabled IMAP: ask them to enable it "
             "(Google Admin console > Apps > Gmail > End User Access) or use the API adapter."),
        Rule(errors.InvalidCredentials, pattern=r"Invalid credentials \(Failure\)",
             source="imap.gmail.invalid_credentials",
             remedy="Gmail rejected the password or token: re-enter the app password, or get "
             "a fresh access token and connect again."),
        Rule(errors.BasicAuthDisabled, pattern=r"^LOGIN \(Microsoft 365\): LOGIN failed\.?$",
             source="imap.o365.login_failed", remedy=_MS_OAUTH),
        Rule(errors.InvalidCredentials,
             pattern=r"^AUTHENTICATE \(Microsoft 365\): AUTHENTICATE failed\.?$",
             source="imap.o365.authenticate_failed",
             remedy="Microsoft 365 rejected the OAuth token: the app may lack the "
             "IMAP.AccessAsUser.All permission for this mailbox, or IMAP is disabled for it; "
             "ask the administrator, or sign in again."),
        Rule(errors.BasicAuthDisabled, pattern=r"Basic authentication is disabled",
             source="imap.outlookcom.basic_auth_disabled",
             remedy="Outlook.com requires OAuth for mail apps: connect with access_token=."),
        Rule(errors.InvalidCredentials, pattern=r"^LOGIN \(Zimbra\): LOGIN failed",
             source="imap.zimbra.login_failed"),
        Rule(errors.AppPasswordRequired,
             pattern=r"^(LOGIN|AUTHENTICATE) \(iCloud\): \[AUTHENTICATIONFAILED\]",
             source="imap.icloud.auth_failed",
             remedy="iCloud Mail needs an app-specific password: create one at appleid.apple.com "
             "> Sign-In and Security, and sign in with the full @icloud.com address."),
        # ------------------------------------------------------------ RFC 5530 codes
        Rule(errors.InvalidCredentials, code="AUTHENTICATIONFAILED",
             source="imap.rfc5530.authenticationfailed"),
        Rule(errors.PermissionDenied, code="AUTHORIZATIONFAILED",
             source="imap.rfc5530.authorizationfailed",
             remedy="You signed in, but may not open that mailbox: ask its owner or the "
             "administrator for access."),
        Rule(errors.AccountDisabled, code="EXPIRED", source="imap.rfc5530.expired",
             message="The password or account has expired.",
             remedy="Change the password with the mail provider, then connect with the new one."),
        Rule(errors.StartTlsUnavailable, code="PRIVACYREQUIRED",
             source="imap.rfc5530.privacyrequired",
             remedy="The server requires encryption before sign-in: use imaps:// (993) or "
             "imap:// with STARTTLS."),
        Rule(errors.AccountDisabled, code="CONTACTADMIN", source="imap.rfc5530.contactadmin",
             remedy="The account needs attention from the mail administrator: contact them."),
        Rule(errors.TransientError, code="UNAVAILABLE", source="imap.rfc5530.unavailable",
             remedy="The mail server is temporarily unavailable (the password is probably "
             "fine): retry shortly."),
        *(Rule(errors.FolderNotFound, code=c, source="imap.rfc5530.nonexistent_trycreate")
          for c in ("NONEXISTENT", "TRYCREATE")),
        Rule(errors.ConfigurationError, code="ALREADYEXISTS", source="imap.rfc5530.alreadyexists",
             message="A folder with that name already exists.",
             remedy="Choose another name, or use the existing folder."),
        # RFC 4469 §5 / RFC 7889: the APPEND (or CATENATE) result is larger than the server
        # stores; Dovecot says "NO [TOOBIG] …" when a message exceeds its APPENDLIMIT
        Rule(errors.MessageTooLarge, code="TOOBIG", source=None,
             remedy="The IMAP server does not store messages this large: send smaller "
             "attachments, or share large files as links."),
        Rule(errors.QuotaExceeded, code="OVERQUOTA", source="imap.rfc5530.overquota",
             remedy="The mailbox is full: delete or archive mail, then try again."),
        Rule(errors.PermissionDenied, code="NOPERM", source="imap.rfc5530.noperm",
             remedy="You do not have permission to do this in that folder: ask its owner."),
        Rule(errors.TransientError, code="INUSE", source="imap.rfc5530.inuse",
             remedy="The folder is busy in another session: retry shortly."),
        # Dovecot 2.3 refuses an APPEND above quota_max_mail_size with [LIMIT] "Mail size is
        # larger than the maximum size allowed by server configuration": the message is too
        # large (waiting does not help), not a rate limit
        Rule(errors.MessageTooLarge, code="LIMIT",
             pattern=_IMAP + r".*(\b(mail|message) size\b.*\b(larger|exceeds?)\b|"
             r"\btoo (big|large)\b)", source=None,
             remedy="The IMAP server does not store messages this large: send smaller "
             "attachments, or share large files as links."),
        Rule(errors.RateLimited, code="LIMIT", source="imap.rfc5530.limit",
             remedy="A server limit was reached (connections or request size): retry later."),
        Rule(errors.MessageNotFound, code="EXPUNGEISSUED", source="imap.rfc5530.expungeissued",
             remedy="Messages were deleted in another session meanwhile: list the folder again."),
        *(Rule(errors.InboxLinkError, code=c, source="imap.rfc5530.server_client_bug",
               remedy="The mail server reported an internal problem: try again later or "
               "contact the provider.")
          for c in ("SERVERBUG", "CLIENTBUG", "CANNOT", "CORRUPTION")),
        Rule(errors.ConfigurationError, code="HASCHILDREN", source=None,
             message="The folder has subfolders, so the server will not do this to it.",
             remedy="Move or delete its subfolders first."),
        # ------------------------------------------------------------ IMAP wording without a code
        # Servers that predate RFC 5530 (or leave its codes off) say the same things in words:
        # Cyrus "Mailbox does not exist", Courier "Mailbox does not exist, or must be
        # subscribed to.", Dovecot 2.3 "Mailbox doesn't exist: X", Gmail "Unknown Mailbox: X
        # (Failure)", UW-IMAP "no such mailbox", the Exchange store "The specified folder
        # could not be found in the store.". Only IMAP replies ("<COMMAND>: …") match:
        # SMTP's "550 5.1.1 mailbox does not exist" is a refused recipient.
        Rule(errors.MessageNotFound,
             pattern=_IMAP + r".*\bmessages?\b.*\b(no longer exists?|do(es)? not exist|"
             r"doesn't exist|not found|could not be fetched)",
             source="imap.rfc5530.expungeissued",
             remedy="The message was deleted or moved meanwhile: list the folder again."),
        Rule(errors.FolderNotFound,
             pattern=_IMAP + r".*(\b(mailbox|folder)\b[^.]*?\b(does not|doesn't|do not) exist|"
             r"\bunknown (mailbox|folder)\b|\bno such (mailbox|folder)\b|"
             r"\b(mailbox|folder) not found\b|\bnonexistent (mailbox|folder)\b|"
             r"\b(mailbox|folder)\b[^.]*?\bcould not be found\b)",
             source="imap.rfc5530.nonexistent_trycreate"),
        # A temporary failure in words is not a wrong password (Dovecot's own text when its
        # auth backend is down, without [UNAVAILABLE] on older versions or proxies).
        Rule(errors.TransientError,
             pattern=_LOGIN + r".*\btemporary (authentication )?failure\b",
             source="imap.rfc5530.unavailable",
             remedy="The mail server could not check the password right now (it is probably "
             "fine): retry shortly."),
        # Courier "Login failed.", Cyrus "Login failed: authentication failure", Dovecot
        # "Authentication failed.", Yahoo "Incorrect username or password." — with no code.
        Rule(errors.InvalidCredentials,
             pattern=_LOGIN + r".*(\bauthentication fail(ed|ure)\b|\blogin fail(ed|ure)\b|"
             r"\binvalid (credentials|login|password|user(name)?)\b|"
             r"\b(incorrect|bad|wrong) (username|user name|password|login)\b)",
             source="imap.rfc5530.authenticationfailed",
             remedy="The username or password was rejected: check them (many providers "
             "require an app password for mail apps)."),
        # ------------------------------------------------------------ SMTP replies
        Rule(errors.AppPasswordRequired,
             pattern=r"5\.7\.9 Application-specific password required",
             source="smtp.gmail.app_password_required", remedy=_TWO_FA),
        Rule(errors.InteractionRequired,
             pattern=r"5\.7\.14 .*Please log in (via|with) your web browser",
             source="smtp.gmail.web_login_required", remedy=_WEB_LOGIN),
        Rule(errors.InvalidCredentials, pattern=r"5\.7\.8 Username and Password not accepted",
             source="smtp.gmail.bad_credentials",
             remedy="The SMTP server rejected the username or app password: check them."),
        Rule(errors.ProtocolDisabled,
             pattern=r"SmtpClientAuthentication is disabled for the (Tenant|Mailbox)",
             source="smtp.o365.smtp_auth_disabled",
             message="Authenticated SMTP is disabled for this Microsoft 365 tenant or mailbox.",
             remedy="Ask the Microsoft 365 administrator to enable 'Authenticated SMTP' for the "
             "mailbox, or send through the Microsoft 365 (Graph) adapter instead."),
        Rule(errors.BasicAuthDisabled,
             pattern=r"5\.7\.139 Authentication unsuccessful, (basic authentication is disabled|"
             r"user is locked by your organization.s security defaults policy|"
             r"the request did not meet the criteria)",
             source="smtp.o365.basic_auth_blocked", remedy=_MS_OAUTH),
        Rule(errors.InvalidCredentials, pattern=r"5\.7\.3 Authentication unsuccessful",
             source="smtp.o365.auth_unsuccessful",
             remedy="Microsoft 365 rejected the sign-in: check the password; accounts with MFA "
             "need OAuth (access_token=) or an app password."),
        Rule(errors.InvalidCredentials, pattern=r"5\.7\.57",
             source="smtp.o365.client_not_authenticated",
             message="The SMTP server did not accept the sign-in before sending.",
             remedy="Check the account's SMTP settings and credentials."),
        Rule(errors.StartTlsUnavailable,
             pattern=r"Must issue a STARTTLS command first|"
             r"SMTP AUTH extension not supported by server",
             source="smtp.starttls_required",
             remedy="The SMTP server requires encryption before sign-in: use smtp:// on 587 "
             "(STARTTLS) or smtps:// on 465."),
        Rule(errors.StartTlsUnavailable, pattern=r"STARTTLS extension not supported by server",
             source="smtp.starttls_not_offered"),
        Rule(errors.SendAsDenied,
             pattern=r"5\.7\.60 SMTP; Client does not have permissions to send as this sender",
             source="smtp.o365.send_as_denied_mailfrom"),
        Rule(errors.SendAsDenied, pattern=r"SendAsDenied(Exception)?",
             source="smtp.o365.send_as_denied_storedrv"),
        Rule(errors.QuotaExceeded, pattern=r"5\.4\.5 Daily (user )?sending (quota|limit)",
             source="smtp.gmail.sending_limit", retryable=True,
             remedy="The daily sending limit is reached: sending resumes within 24 hours."),
        Rule(errors.RateLimited, pattern=r"4\.7\.0 (Too many login attempts|Try again later)",
             source="smtp.gmail.sending_limit",
             remedy="The server is limiting sign-ins or sending right now: try again later."),
        Rule(errors.RecipientsRefused, pattern=r"4\.5\.3 .*too many recipients",
             source="smtp.gmail.too_many_recipients", retryable=True,
             remedy="Too many recipients for one message: send it in smaller groups."),
        # Microsoft 365's own mailbox-full (the sender's, where it keeps the sent copy); a
        # plain 5.2.2 is the recipient's mailbox (below).
        Rule(errors.QuotaExceeded, pattern=r"5\.2\.2 mailbox full.*(STOREDRV|QuotaExceeded)",
             source="smtp.o365.sender_mailbox_full",
             remedy="Your mailbox is full (sent copies are stored there): clean up Sent Items."),
        # RFC 3463 X.2.2 (mailbox full) before 552, which RFC 5321 also uses for it
        Rule(errors.RecipientsRefused, code="5.2.2", source=None,
             remedy="The recipient's mailbox is full: try again later or reach them another way."),
        Rule(errors.TransientError, code="4.2.2", source=None, retryable=True,
             remedy="The recipient's mailbox is full right now: the message can be sent again "
             "later."),
        Rule(errors.MessageTooLarge, status=552, source="smtp.message_too_large"),
        Rule(errors.MessageTooLarge, pattern=r"5\.3\.4", source="smtp.message_too_large"),
        Rule(errors.RateLimited, pattern=r"4\.3\.2 (STOREDRV\.ClientSubmit; sender thread limit "
             r"exceeded|Concurrent connections limit exceeded)",
             source="smtp.o365.concurrent_connections",
             remedy="Too many messages are being sent from this mailbox at once: retry in a "
             "few seconds (Microsoft 365 allows 3 SMTP connections per mailbox)."),
        Rule(errors.QuotaExceeded, pattern=r"SubmissionQuotaExceededException",
             source="smtp.o365.daily_recipient_quota", retryable=True,
             remedy="The daily recipient limit (10,000 in Microsoft 365) is reached: sending "
             "resumes as the 24-hour window moves on."),
        # ------------------------------------------------------------ RFC 3463 / RFC 4954 codes
        # (after the provider texts above, which say more about the same codes)
        Rule(errors.InvalidCredentials, code="5.7.8", source=None,
             remedy="The SMTP server rejected the username or password: check them (many "
             "providers require an app password for mail apps)."),
        Rule(errors.TransientError, code="4.7.0",
             pattern=r"\btemporary authentication failure\b|^454 ", source=None,
             remedy="The SMTP server could not check the password right now (it is probably "
             "fine): retry shortly."),
        Rule(errors.StartTlsUnavailable, code="5.7.11", source="smtp.starttls_required",
             remedy="The SMTP server requires encryption: use smtp:// on 587 (STARTTLS) or "
             "smtps:// on 465."),
        Rule(errors.AuthError, code="5.7.0", status=(530, 534, 535, 538), source=None,
             remedy="The SMTP server requires a successful sign-in before sending: check the "
             "username and password (or app password)."),
        Rule(errors.MessageTooLarge, code="5.3.4", source="smtp.message_too_large"),
        *(Rule(errors.RecipientsRefused, code=c, source=None,
               remedy="The recipient's address does not exist or is not accepted: check it.")
          for c in ("5.1.1", "5.1.2", "5.1.3", "5.1.10")),
        # 535 without an enhanced code (Exim "Incorrect authentication data", plain
        # "Authentication failed"): the credentials were refused.
        Rule(errors.InvalidCredentials, status=535,
             pattern=r"authentication (failed|failure|unsuccessful)|incorrect authentication "
             r"data|credentials invalid|invalid credentials|(username|user name) (and|or) "
             r"password", source=None,
             remedy="The SMTP server rejected the username or password: check them."),
        Rule(errors.RecipientsRefused, pattern=r"5\.1\.\d", source=None),
        Rule(errors.TransientError, status=421, source="smtp.temporary_failure_421",
             remedy="The mail server is temporarily refusing mail: try again later."),
        Rule(errors.ConnectionLost,
             pattern=r"Connection unexpectedly closed|please run connect\(\) first",
             source="smtp.connection_dropped"),
        Rule(errors.AuthError, status=(530, 534, 535), source=None),
        # Any other 4xx reply is temporary by definition (RFC 5321 §4.2.1).
        Rule(errors.TransientError, pattern=r"^4\d\d ", source=None),
        # ------------------------------------------------------------ catch-alls
        Rule(errors.ConnectionLost, code="DROPPED", source="imap.connection_dropped"),
        Rule(errors.ConnectionLost, code="PROTOCOL", retryable=False,
             remedy="The server (or something between it and us) sent an impossibly large or "
                    "malformed response. If it happens again for the same message, report it "
                    "to the mail server's administrator."),
        Rule(errors.OperationTimeout, code="TIMEOUT", source=None),
        Rule(errors.AuthError, pattern=r"^(LOGIN|AUTHENTICATE) ", source="imap.alert",
             remedy="The server refused the sign-in; its message above says why. Check the "
             "username and password (or app password)."),
    ),
)

def login_signal(command: str, response: Any, family: str = "IMAP") -> Signal:
    """A Signal for a refused LOGIN/AUTHENTICATE, naming the server family
    (`_servers.server_family`): the same words mean different things per server."""
    signal = imap_signal(command, response)
    text = signal.text.replace(f"{command.upper()}: ",
                               f"{command.upper()} ({family}): ", 1)
    return attrs.evolve(signal, text=text)


_BRACKET = re.compile(r"\[([A-Z][A-Z0-9-]*)")
_ENHANCED = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_FAILED_PREFIX = re.compile(r"^(\w+) failed: ")


def _server_text(value: Any) -> str:
    """The server's words, whether given as bytes, as ``"b'…'"`` (LoginError) or as text."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    text = str(value)
    if text[:2] in ("b'", 'b"'):
        try:
            literal = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
        if isinstance(literal, bytes):
            return literal.decode("utf-8", "replace")
    return text


def imap_signal(command: str, response: Any) -> Signal:
    """A Signal for an IMAP reply to ``command`` (``"LOGIN"``, ``"SELECT"`` …)."""
    text = _server_text(response).strip()
    found = _BRACKET.match(text) or _BRACKET.search(text)
    return Signal(provider=PROVIDER, code=found.group(1) if found else None,
                  text=f"{command.upper()}: {text}")


def smtp_signal(status: int, reply: Any, **details: Any) -> Signal:
    """A Signal for an SMTP reply (multi-line replies are joined with spaces)."""
    text = " ".join(_server_text(reply).split())
    found = _ENHANCED.search(text)
    return Signal(provider=PROVIDER, code=found.group(1) if found else None,
                  text=f"{status} {text}", status=status, details=details)


def _tls_signal(exc: ssl.SSLError) -> Signal:
    verify_code = getattr(exc, "verify_code", None)
    message = getattr(exc, "verify_message", None) or str(exc)
    details: dict[str, Any] = {}
    if isinstance(exc, ssl.SSLCertVerificationError):
        details["reason"] = certificate_reason(exc)
    code = f"x509:{verify_code}" if verify_code else (exc.reason or None)
    return Signal(provider=PROVIDER, code=code, text=f"{message} ({exc})", details=details)


def extract(exc: BaseException, context: None = None) -> errors.InboxLinkError | Signal | None:
    """Describe an exception from imapclient/imaplib/smtplib/ssl/socket as a Signal.

    IMAP needs no context: everything it explains is in the exception.

    Programming errors (``TypeError`` …) return ``None`` and pass through untouched.
    """
    import imaplib
    import smtplib

    if isinstance(exc, ssl.SSLError):
        return _tls_signal(exc)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = {addr: f"{code} {_server_text(msg)}"
                   for addr, (code, msg) in exc.recipients.items()}
        first_code, first_msg = next(iter(exc.recipients.values()), (550, b""))
        return smtp_signal(first_code, first_msg, recipients=refused)
    if isinstance(exc, smtplib.SMTPResponseException):
        return smtp_signal(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return Signal(provider=PROVIDER, code="DROPPED",
                      text=str(exc) or "Connection unexpectedly closed")
    if isinstance(exc, smtplib.SMTPNotSupportedError | smtplib.SMTPException):
        return Signal(provider=PROVIDER, text=str(exc))
    from inboxlink.adapters.imap._imaplib_shim import ProtocolViolation

    if isinstance(exc, ProtocolViolation):
        return Signal(provider=PROVIDER, code="PROTOCOL", text=str(exc))
    if isinstance(exc, imaplib.IMAP4.abort):
        return Signal(provider=PROVIDER, code="DROPPED", text=_server_text(exc))
    if isinstance(exc, imaplib.IMAP4.error):
        return _imap_error_signal(exc)
    if isinstance(exc, socket.timeout | TimeoutError):
        return Signal(provider=PROVIDER, code="TIMEOUT", text=str(exc) or "timed out")
    if isinstance(exc, ConnectionError | EOFError | OSError):
        return Signal(provider=PROVIDER, code="DROPPED", text=str(exc) or type(exc).__name__)
    return None


def _imap_error_signal(exc: BaseException) -> Signal:
    from imapclient.exceptions import CapabilityError, LoginError

    if isinstance(exc, LoginError):
        return login_signal("LOGIN", exc.args[0] if exc.args else "")
    raw = exc.args[0] if exc.args else str(exc)
    text = _server_text(raw)
    if isinstance(exc, CapabilityError):
        return Signal(provider=PROVIDER, text=text)
    prefix = _FAILED_PREFIX.match(text)
    if prefix:
        return imap_signal(prefix.group(1), _server_text(text[prefix.end():]))
    if text.startswith("* BYE") or text.startswith("b'* BYE"):
        return Signal(provider=PROVIDER, text=text)
    return imap_signal("IMAP", text)
