"""IMAP under hostile servers and networks: real imapclient/imaplib against a scripted
hostile server and against Dovecot behind the fault proxy."""

from __future__ import annotations

import imaplib
import inspect
import time

import pytest
from imap.dovecot import PASSWORD, Dovecot
from imap.helpers import Certs, settings_for

from inboxlink import errors
from inboxlink.adapters.imap import ImapMailbox, ImapSettings, _imaplib_shim
from inboxlink.models import FolderRole
from inboxlink.retry import RetryPolicy

from .hostile import HostileImap
from .proxy import Fault, FaultProxy

MESSAGE_ID = "INBOX:7:1"


def _hostile_settings(server: HostileImap, certs: Certs, **overrides: object) -> ImapSettings:
    fields: dict[str, object] = {
        "address": "alice@example.com", "imap_host": "127.0.0.1", "imap_port": server.port,
        "imap_security": "tls", "password": PASSWORD, "ssl_context": certs.client_context(),
        "timeout": 5.0,
    }
    fields.update(overrides)
    return ImapSettings(**fields)  # type: ignore[arg-type]


def test_imaplib_shim_canaries() -> None:
    """What the shim relies on; if imaplib changes, this fails before users see it."""
    source = inspect.getsource(imaplib.IMAP4._get_response)
    assert "self.read(size)" in source  # literals are read through the instance's read()
    assert "self._get_line()" in source
    assert "self.readline()" in inspect.getsource(imaplib.IMAP4._get_line)
    assert isinstance(imaplib._MAXLINE, int)
    assert "_MAXLINE" in inspect.getsource(imaplib.IMAP4.readline)
    assert "raise self.error" in inspect.getsource(imaplib.IMAP4.readline)
    assert _imaplib_shim.MAX_LITERAL < 999_999_999_999


@pytest.mark.parametrize("payload", [
    b"* 1 FETCH (UID 1 BODY[] {999999999999}\r\n",
    b"* 1 FETCH (UID 1 BODY[] {18446744073709551617}\r\n",
    b"* 1 FETCH (UID 1 BODY[] " + b"x" * 10_000_000,   # 10 MB and no CRLF
], ids=["terabyte-literal", "huge-literal", "10MB-line"])
def test_hostile_fetch_is_typed_and_the_session_is_replaced(certs: Certs, payload: bytes) -> None:
    server = HostileImap(certs.server_context(), payload)
    try:
        with ImapMailbox(_hostile_settings(server, certs)) as box:
            started = time.monotonic()
            with pytest.raises(errors.ConnectionLost) as caught:
                box.fetch(MESSAGE_ID)
            assert time.monotonic() - started < 5
            assert caught.value.code == "PROTOCOL"
            assert caught.value.retryable is False
            assert server.hostile_sent == 1  # refused once: not re-read on a reconnect
            assert box.open_connections == 0  # the poisoned session was discarded
            # The next call gets a new, clean connection and works.
            assert box.fetch(MESSAGE_ID).subject == "fine"
            assert server.logins == 2
    finally:
        server.stop()


def test_a_server_stalling_mid_reply_costs_one_deadline_not_a_product(certs: Certs) -> None:
    # Every body FETCH stalls half-way, while connecting keeps working: before the deadline
    # each policy attempt paid a timeout on the pooled session plus one on a reconnect
    # (4 attempts × 2 × 1 s, and more with more connections).
    server = HostileImap(certs.server_context(), b"* 1 FETCH (UID 1 BODY[] {500}\r\nhalf",
                         times=100, hold=30)
    try:
        with ImapMailbox(_hostile_settings(server, certs, timeout=1.0,
                                           retry=RetryPolicy())) as box:
            started = time.monotonic()
            with pytest.raises(errors.OperationTimeout):
                box.fetch(MESSAGE_ID)
            elapsed = time.monotonic() - started
            assert elapsed < 4.0 + 0.5, elapsed  # the default deadline: 4 × timeout
            assert box.open_connections == 0
    finally:
        server.stop()


@pytest.mark.dovecot
def test_a_stalled_fetch_is_bounded_by_one_deadline(dovecot: Dovecot, certs: Certs) -> None:
    user = dovecot.new_user()
    dovecot.deliver(user, b"From: a@example.com\r\nSubject: s\r\n\r\n" + b"y" * 50_000)
    proxy = FaultProxy(("127.0.0.1", dovecot.imaps_port)).start()
    try:
        # timeout=1, default policy (4 attempts) and the default deadline of 4 × timeout.
        # Without one deadline: (reconnect × 2) × (attempts × 4) × 1 s waits and more.
        box = ImapMailbox(settings_for(dovecot, user, certs, imap_port=proxy.port, timeout=1.0,
                                       retry=RetryPolicy()))
        try:
            (item,) = box.list_messages(FolderRole.INBOX).items
            proxy.arm(Fault("stall", times=50, stall_for=30))  # every answer stalls from now
            started = time.monotonic()
            with pytest.raises(errors.InboxLinkError) as caught:
                box.fetch(item.id)
            elapsed = time.monotonic() - started
            # A read that timed out, or a reconnect whose greeting never came.
            assert isinstance(caught.value, errors.OperationTimeout | errors.ServerUnreachable)
            assert "timed out" in str(caught.value)
            assert elapsed < 4.0 + 1.0, elapsed
            proxy.clear()
            assert box.fetch(item.id).subject == "s"  # usable afterwards
        finally:
            box.close()
    finally:
        proxy.stop()


@pytest.mark.dovecot
def test_a_reset_mid_fetch_discards_the_session_and_recovers(dovecot: Dovecot,
                                                             certs: Certs) -> None:
    user = dovecot.new_user()
    dovecot.deliver(user, b"From: a@example.com\r\nSubject: r\r\n\r\n" + b"z" * 200_000)
    proxy = FaultProxy(("127.0.0.1", dovecot.imaps_port)).start()
    try:
        with ImapMailbox(settings_for(dovecot, user, certs, imap_port=proxy.port,
                                      timeout=2.0)) as box:
            (item,) = box.list_messages(FolderRole.INBOX).items
            before = proxy.accepted
            proxy.arm(Fault("reset", after=5000))  # mid-body, inside a TLS record
            message = box.fetch(item.id)  # the drop is recovered on a fresh connection
            assert message.subject == "r"
            assert proxy.struck
            assert proxy.accepted == before + 1
            assert box.open_connections == 1
    finally:
        proxy.stop()
