"""Server behaviours Dovecot cannot show: XLIST-only servers, Gmail's capability, Courier's
opt-out, legacy TLS versions."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest

from inboxlink import errors
from inboxlink.adapters.imap import ImapMailbox, ImapSettings
from inboxlink.models import Capability, FolderRole, RoleSource

from .helpers import Certs
from .scripted import ScriptedImap
from .test_error_catalogue import COURIER


def _settings(server: ScriptedImap, certs: Certs, **extra: object) -> ImapSettings:
    fields: dict[str, object] = {
        "address": "alice@example.com", "imap_host": "127.0.0.1", "imap_port": server.port,
        "password": "pw", "ssl_context": certs.client_context(), "timeout": 5,
    }
    fields.update(extra)
    return ImapSettings(**fields)  # type: ignore[arg-type]


@pytest.fixture
def xlist_server(certs: Certs) -> Iterator[ScriptedImap]:
    server = ScriptedImap(
        "* OK Gimap ready", capabilities="IMAP4rev1 XLIST X-GM-EXT-1 AUTH=PLAIN",
        context=certs.server_context(), folders={
            "LIST": ['(\\HasNoChildren) "/" "INBOX"', '(\\HasNoChildren) "/" "[Gmail]/Sent Mail"'],
            "XLIST": ['(\\HasNoChildren \\Inbox) "/" "Inbox"',
                      '(\\HasChildren \\Noselect) "/" "[Gmail]"',
                      '(\\HasNoChildren \\AllMail) "/" "[Gmail]/All Mail"',
                      '(\\HasNoChildren \\Sent) "/" "[Gmail]/Sent Mail"',
                      '(\\HasNoChildren \\Spam) "/" "[Gmail]/Spam"',
                      '(\\HasNoChildren \\Starred) "/" "[Gmail]/&AMk-toil&AOk-s"'],
        })
    yield server
    server.stop()


def test_xlist_fallback_gives_roles(xlist_server: ScriptedImap, certs: Certs) -> None:
    with ImapMailbox(_settings(xlist_server, certs)) as mailbox:
        roles = {f.role: f for f in mailbox.folders() if f.role}
    assert any(c.split()[1] == "XLIST" for c in xlist_server.commands)
    assert roles[FolderRole.SENT].path == "[Gmail]/Sent Mail"
    assert roles[FolderRole.SENT].role_source is RoleSource.SPECIAL_USE
    assert roles[FolderRole.ALL].name == "All Mail"
    assert roles[FolderRole.JUNK].name == "Spam"
    assert roles[FolderRole.FLAGGED].name == "Étoilés"  # modified UTF-7 decoded
    assert roles[FolderRole.INBOX].id == "Inbox"


def test_gmail_capability_means_the_provider_saves_sent(xlist_server: ScriptedImap,
                                                        certs: Certs) -> None:
    with ImapMailbox(_settings(xlist_server, certs)) as mailbox:
        assert Capability.PROVIDER_SAVES_SENT in mailbox.capabilities


def test_courier_can_be_allowed_explicitly(certs: Certs) -> None:
    server = ScriptedImap(COURIER, context=certs.server_context())
    try:
        with pytest.raises(errors.UnsupportedServer) as info:
            ImapMailbox(_settings(server, certs))
        assert "allow_courier=True" in info.value.remedy
        with ImapMailbox(_settings(server, certs, allow_courier=True)) as mailbox:
            assert mailbox.open_connections == 1
    finally:
        server.stop()


def _legacy_server_context(certs: Certs) -> ssl.SSLContext:
    ctx = certs.server_context()
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    return ctx


def test_old_tls_is_refused_by_default(certs: Certs) -> None:
    server = ScriptedImap(context=_legacy_server_context(certs))
    try:
        with pytest.raises(errors.ConnectError) as info:
            ImapMailbox(_settings(server, certs))
        assert isinstance(info.value, errors.TlsVersionMismatch), repr(info.value)
        assert "tls_minimum" in info.value.remedy
    finally:
        server.stop()


@pytest.mark.parametrize(("reply", "expected"), [
    ("NO [NONEXISTENT] Mailbox doesn't exist: Gone", errors.MessageNotFound),
    ("NO [UNAVAILABLE] Backend down", errors.TransientError),
])
def test_fetch_tells_a_missing_folder_from_a_failing_server(
        certs: Certs, reply: str, expected: type[errors.InboxLinkError]) -> None:
    server = ScriptedImap(context=certs.server_context(), replies={"EXAMINE": reply})
    try:
        with ImapMailbox(_settings(server, certs)) as mailbox, pytest.raises(expected):
            mailbox.fetch("Gone:7:1")
    finally:
        server.stop()


def test_old_tls_works_when_lowered_explicitly(certs: Certs,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # The default context reads SSL_CERT_FILE, so the test CA is trusted without ssl_context.
    monkeypatch.setenv("SSL_CERT_FILE", certs.ca_file)
    server = ScriptedImap(context=_legacy_server_context(certs))
    try:
        with ImapMailbox(_settings(server, certs, ssl_context=None,
                                   tls_minimum="TLSv1")) as mailbox:
            assert mailbox.open_connections == 1
    finally:
        server.stop()
