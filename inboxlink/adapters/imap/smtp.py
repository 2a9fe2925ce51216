"""Sending over SMTP: implicit TLS or mandatory STARTTLS, AUTH, envelope with Bcc.

Exactly once: smtplib never repeats a command, and nothing above it here does. What the
client knows about a failure depends on whether the message was handed over: a connection
lost (or a reply unreadable) after the final ``CRLF.CRLF`` of DATA was written means the
server may have accepted it, so it raises `SendOutcomeUnknown`
(never retryable); anything before that point (connect, TLS, AUTH, MAIL, RCPT, the DATA
command, a partly written message) leaves the message undelivered and stays the usual
typed, retryable-or-not error.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from typing import Any

from inboxlink import errors, mime
from inboxlink.adapters.imap.connection import certificate_error, unreachable
from inboxlink.adapters.imap.errors import PROVIDER, TABLE, extract
from inboxlink.adapters.imap.settings import ImapSettings, Security
from inboxlink.auth.provider import with_fresh_token
from inboxlink.translate import Signal, translating

__all__ = ["send"]


def _xoauth2(user: str, token: str) -> str:
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def _oauthbearer(user: str, token: str) -> str:
    # RFC 7628 initial client response (GS2 header with the authorization identity).
    return f"n,a={user},\x01auth=Bearer {token}\x01\x01"


#: SASL mechanism and initial response per ``auth_mechanism`` (XOAUTH2 unless OAUTHBEARER)
_OAUTH_MECHANISMS = {"oauthbearer": ("OAUTHBEARER", _oauthbearer)}


def _oauth_auth(smtp: smtplib.SMTP, settings: ImapSettings, token: str) -> None:
    mechanism, initial = _OAUTH_MECHANISMS.get(settings.auth_mechanism, ("XOAUTH2", _xoauth2))
    user = settings.smtp_login
    # Google answers a refused token with a 334 challenge; an empty reply ends the
    # exchange so the real error code arrives.
    smtp.auth(mechanism, lambda challenge=None: "" if challenge else initial(user, token))


class _HandOver(smtplib.SMTP):
    """Notes when the end-of-data mark has been written in full (smtplib's public ``send``
    and ``data`` overridden in a subclass, not patched)."""

    handed_over = False
    _in_data = False

    def data(self, msg: Any) -> tuple[int, bytes]:
        self._in_data = True
        try:
            return super().data(msg)
        finally:
            self._in_data = False

    def send(self, s: Any) -> None:
        super().send(s)
        # smtplib.data() writes the whole dot-stuffed message and its final CRLF.CRLF in
        # one send() after the 354; once that returned, the server may have it all.
        if self._in_data and isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.handed_over = True


class _Smtp(_HandOver):
    pass


class _SmtpSsl(_HandOver, smtplib.SMTP_SSL):
    pass


#: failures that leave no answer to the DATA: connection gone, timed out, reply garbled
_NO_ANSWER: tuple[type[BaseException], ...] = (smtplib.SMTPServerDisconnected, OSError)
_AFTER_DATA: tuple[type[BaseException], ...] = (*_NO_ANSWER, smtplib.SMTPResponseException)


def _connect(settings: ImapSettings, context: ssl.SSLContext) -> _Smtp | _SmtpSsl:
    host, port = settings.smtp_endpoint
    implicit = settings.smtp_security is Security.TLS
    try:
        if implicit:
            return _SmtpSsl(host, port, timeout=settings.timeout, context=context)
        return _Smtp(host, port, timeout=settings.timeout)
    except ssl.SSLCertVerificationError as exc:
        raise certificate_error(exc, host, port, context, settings.timeout, None) from exc
    except (socket.gaierror, ConnectionRefusedError, TimeoutError) as exc:
        raise unreachable(host, port, exc) from exc


def _secure_and_login(smtp: smtplib.SMTP, settings: ImapSettings, context: ssl.SSLContext) -> None:
    host, port = settings.smtp_endpoint
    smtp.ehlo()
    if settings.smtp_security is Security.STARTTLS:
        if not smtp.has_extn("starttls"):
            raise TABLE.error_for(Signal(
                provider=PROVIDER, code="NOSTARTTLS",
                text=f"{host}:{port} does not offer STARTTLS.",
            ))
        try:
            smtp.starttls(context=context)
        except ssl.SSLCertVerificationError as exc:
            raise certificate_error(exc, host, port, context, settings.timeout, b"EHLO") from exc
        smtp.ehlo()
    if settings.token_provider is not None:
        # Only the AUTH is repeated after a refresh, inside this boundary so the refusal is
        # typed; the message itself is sent once, later, by the caller.
        def attempt(token: str) -> None:
            with translating(TABLE, extract, None):
                _oauth_auth(smtp, settings, token)

        with_fresh_token(settings.token_provider, attempt)
    elif settings.access_token:
        _oauth_auth(smtp, settings, settings.access_token)
    elif settings.password is not None:
        smtp.login(settings.smtp_login, settings.password)


def send(settings: ImapSettings, context: ssl.SSLContext,
         prepared: mime.PreparedMessage) -> dict[str, str]:
    """Send once; returns the recipients refused while others were accepted.

    When every recipient is refused, smtplib raises and the table gives ``RecipientsRefused``
    naming them all.
    """
    smtp = _connect(settings, context)
    try:
        _secure_and_login(smtp, settings, context)
        try:
            refused = smtp.sendmail(prepared.sender.email,
                                    [a.email for a in prepared.recipients], prepared.raw)
        except _AFTER_DATA as exc:
            if smtp.handed_over and _unanswered(exc):
                raise _outcome_unknown(prepared, exc) from exc
            raise
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
    return {addr: f"{code} {msg.decode('utf-8', 'replace') if isinstance(msg, bytes) else msg}"
            for addr, (code, msg) in refused.items()}




def _unanswered(exc: BaseException) -> bool:
    """No real reply to the DATA: a lost connection, or a reply smtplib could not read
    (code -1). A real 4xx/5xx after the data is a refusal: the outcome is known."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == -1
    return isinstance(exc, _NO_ANSWER)


def _outcome_unknown(prepared: mime.PreparedMessage,
                     exc: BaseException) -> errors.SendOutcomeUnknown:
    return errors.SendOutcomeUnknown(
        "The SMTP server received the whole message, but the connection was lost before it "
        f"answered ({type(exc).__name__}).",
        raw=prepared.raw, message_id=prepared.message_id, provider=PROVIDER,
        code="DATA-no-reply",
    )
