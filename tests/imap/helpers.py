"""Shared pieces of the IMAP tests: certificates, special accounts, settings for the adapter."""

from __future__ import annotations

import ssl

import attrs
import trustme

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
