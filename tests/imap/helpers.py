"""Shared pieces of the IMAP tests: certificates, special accounts, settings for the adapter."""

from __future__ import annotations

import logging
import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

import attrs
import trustme
from imapclient import IMAPClient

from inboxlink.adapters.imap import ImapSettings

from .dovecot import PASSWORD, Dovecot
from .smtp_peer import SmtpServer

#: special accounts on the main instance → passwd-file extra fields
SPECIAL_USERS = {
    "imap-off@example.com": "nologin reason=Your_account_is_not_enabled_for_IMAP_use.",
    "needs-app-pw@example.com": "nologin reason=Application-specific_password_required",
    "locked@example.com": "nologin reason=Account_locked",
}


@attrs.frozen
class Certs:
    """The test CA and the files Dovecot reads."""

    ca: trustme.CA
    ca_file: str
    chain_file: str
    key_file: str

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.chain_file, self.key_file)
        return ctx


def settings_for(server: Dovecot, user: str, certs: Certs, smtp: SmtpServer | None = None,
                 **overrides: object) -> ImapSettings:
    """Settings pointing the adapter at ``server`` (and ``smtp``) as ``user``."""
    fields: dict[str, object] = {
        "address": user, "imap_host": "127.0.0.1", "imap_port": server.imaps_port,
        "imap_security": "tls", "password": PASSWORD, "ssl_context": certs.client_context(),
        "timeout": 10.0,
    }
    if smtp is not None:
        smtp.users[user] = PASSWORD
        fields.update(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_security="starttls")
    fields.update(overrides)
    return ImapSettings(**fields)  # type: ignore[arg-type]


def raw_client(server: Dovecot, user: str, certs: Certs) -> IMAPClient:
    """A second, plain imapclient session on ``user`` (another mail client acting)."""
    client = IMAPClient("127.0.0.1", server.imaps_port, ssl_context=certs.client_context())
    client.login(user, PASSWORD)
    return client


class CommandLog(logging.Handler):
    """The IMAP commands clients send, read from imapclient's protocol log.

    imapclient routes imaplib's trace (``> b'TAG COMMAND …'``) and its own raw commands to
    the ``imapclient`` loggers; the adapter keeps that trace on only when the logger is
    enabled for DEBUG *when the connection opens*, so use :func:`command_log` first.
    """

    _TAGGED = re.compile(r"^> b'[A-P]+\d+ ((?:UID )?[A-Z]+)")

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.commands: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        found = self._TAGGED.match(record.getMessage())
        if found:
            self.commands.append(found.group(1))

    def since(self, mark: int) -> list[str]:
        """Commands sent after ``mark`` (a previous ``len(log.commands)``)."""
        return self.commands[mark:]


@contextmanager
def command_log() -> Iterator[CommandLog]:
    """Count IMAP commands of connections opened inside the block."""
    logger = logging.getLogger("imapclient")
    handler = CommandLog()
    old = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
