"""Sending over SMTP: implicit TLS or mandatory STARTTLS, AUTH, envelope with Bcc."""

from __future__ import annotations

import smtplib
import socket
import ssl

from inboxlink import mime
from inboxlink.adapters.imap.connection import certificate_error, unreachable
from inboxlink.adapters.imap.errors import PROVIDER, TABLE
from inboxlink.adapters.imap.settings import ImapSettings, Security
from inboxlink.translate import Signal

__all__ = ["send"]


def _xoauth2(user: str, token: str) -> str:
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def _connect(settings: ImapSettings, context: ssl.SSLContext) -> smtplib.SMTP:
    host, port = settings.smtp_endpoint
    implicit = settings.smtp_security is Security.TLS
    try:
        if implicit:
            return smtplib.SMTP_SSL(host, port, timeout=settings.timeout, context=context)
        return smtplib.SMTP(host, port, timeout=settings.timeout)
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
    if settings.access_token:
        token = settings.access_token
        user = settings.smtp_login
        # Google answers a refused token with a 334 challenge; an empty reply ends the
        # exchange so the real error code arrives.
        smtp.auth("XOAUTH2", lambda challenge=None: "" if challenge else _xoauth2(user, token))
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
        refused = smtp.sendmail(prepared.sender.email, [a.email for a in prepared.recipients],
                                prepared.raw)
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
    return {addr: f"{code} {msg.decode('utf-8', 'replace') if isinstance(msg, bytes) else msg}"
            for addr, (code, msg) in refused.items()}


