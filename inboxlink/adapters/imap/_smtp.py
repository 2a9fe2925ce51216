"""Sending over SMTP: implicit TLS or mandatory STARTTLS, AUTH, envelope with Bcc.

The message is streamed: ``MAIL FROM``/``RCPT TO``/``DATA`` through smtplib's public
command methods, then the message in pieces through its public ``send()``, dot-stuffed as
it goes (`dot_stuffed`), so the whole message is never in memory at once.

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
from collections.abc import Iterable, Iterator

from inboxlink import errors, mime
from inboxlink.adapters.imap.connection import certificate_error, unreachable
from inboxlink.adapters.imap.errors import PROVIDER, TABLE, extract
from inboxlink.adapters.imap.settings import ImapSettings, Security
from inboxlink.auth.provider import with_fresh_token
from inboxlink.translate import Signal, translating

__all__ = ["dot_stuffed", "send", "size_limit"]


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


#: failures that leave no answer to the DATA: connection gone, timed out, reply garbled
_NO_ANSWER: tuple[type[BaseException], ...] = (smtplib.SMTPServerDisconnected, OSError)
_AFTER_DATA: tuple[type[BaseException], ...] = (*_NO_ANSWER, smtplib.SMTPResponseException)
_CRLF = b"\r\n"
#: the end-of-data mark (RFC 5321 §4.1.1.4)
_END = b".\r\n"


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

    When every recipient is refused, the ``SMTPRecipientsRefused`` gives ``RecipientsRefused``
    naming them all (the same exceptions as ``smtplib.SMTP.sendmail``, so the same table).
    """
    smtp = _connect(settings, context)
    try:
        _secure_and_login(smtp, settings, context)
        try:
            with translating(TABLE, extract, None):
                refused = _envelope(smtp, prepared)
                _data(smtp, prepared, prepared.spool.chunks(settings.stream_chunk))
        except errors.MessageTooLarge as exc:
            exc.limit = exc.limit or size_limit(smtp)
            exc.size = exc.size or prepared.size
            raise
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
    return {addr: f"{code} {msg.decode('utf-8', 'replace') if isinstance(msg, bytes) else msg}"
            for addr, (code, msg) in refused.items()}


def size_limit(smtp: smtplib.SMTP) -> int | None:
    """The largest message the server takes, from its EHLO ``SIZE n`` (RFC 1870); ``None``
    when it names none (``SIZE`` alone or ``SIZE 0`` means no fixed limit)."""
    value = smtp.esmtp_features.get("size", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def _envelope(smtp: smtplib.SMTP, prepared: mime.PreparedMessage) -> dict[str, tuple[int, bytes]]:
    """``MAIL FROM`` and one ``RCPT TO`` per recipient, refused the way ``sendmail`` is.

    ``SIZE=`` (RFC 1870) lets a server with a lower limit refuse before any data is sent.
    """
    smtp.ehlo_or_helo_if_needed()
    options = [f"SIZE={prepared.size}"] if smtp.does_esmtp and smtp.has_extn("size") else []
    sender = prepared.sender.email
    code, reply = smtp.mail(sender, options)
    if code != 250:
        _drop_if_closing(smtp, code)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused: dict[str, tuple[int, bytes]] = {}
    recipients = [a.email for a in prepared.recipients]
    for address in recipients:
        code, reply = smtp.rcpt(address)
        if code not in (250, 251):
            refused[address] = (code, reply)
        if code == 421:  # the server is closing the connection
            smtp.close()
            raise smtplib.SMTPRecipientsRefused(refused)
    if len(refused) == len(recipients):
        raise smtplib.SMTPRecipientsRefused(refused)
    return refused


def _data(smtp: smtplib.SMTP, prepared: mime.PreparedMessage, pieces: Iterable[bytes]) -> None:
    """``DATA``, the message streamed dot-stuffed, the final dot, and the server's answer.

    Once the last write (the end-of-data mark) returned, the server may have the whole
    message: a lost or unreadable answer then means the outcome is unknown.
    """
    code, reply = smtp.docmd("DATA")
    if code != 354:
        _drop_if_closing(smtp, code)
        raise smtplib.SMTPDataError(code, reply)
    handed_over = False
    try:
        for piece in dot_stuffed(pieces):
            smtp.send(piece)
        handed_over = True
        code, reply = smtp.getreply()
        if code != 250:
            _drop_if_closing(smtp, code)
            raise smtplib.SMTPDataError(code, reply)
    except _AFTER_DATA as exc:
        if handed_over and _unanswered(exc):
            raise _outcome_unknown(prepared, exc) from exc
        raise


def _drop_if_closing(smtp: smtplib.SMTP, code: int) -> None:
    # 421: the server closes the connection; a QUIT would only wait for nothing.
    if code == 421:
        smtp.close()


def dot_stuffed(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """The DATA payload of a CRLF message given in pieces: every line starting with ``.``
    gets a second one (RFC 5321 §4.5.2), then the end-of-data mark, with a CRLF before it
    when the message does not end with one.

    Line starts are tracked across pieces, so a ``.`` that begins a piece right after a
    piece ending in a line feed is stuffed too; the last piece carries the end mark, so the
    mark leaves in the same write as the end of the message.
    """
    at_line_start = True
    tail = b""  # the last two bytes written, to know whether the message ends with CRLF
    pending: bytes | None = None
    for piece in pieces:
        if not piece:
            continue
        if pending is not None:
            yield pending
        stuffed = piece.replace(b"\n.", b"\n..")
        if at_line_start and stuffed.startswith(b"."):
            stuffed = b"." + stuffed
        at_line_start = piece.endswith(b"\n")
        tail = (tail + piece[-2:])[-2:]
        pending = stuffed
    ending = _END if tail == _CRLF else _CRLF + _END
    yield (pending or b"") + ending


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
        raw=prepared.spool, message_id=prepared.message_id, provider=PROVIDER,
        code="DATA-no-reply",
    )
