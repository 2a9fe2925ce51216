"""TLS for both protocols: the SSL context we use, and what a rejected certificate says."""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Callable

from inboxlink.adapters.imap.settings import TLS_VERSIONS, ImapSettings
from inboxlink.tls import peer_names

__all__ = ["certificate_names", "client_context"]

log = logging.getLogger("inboxlink.imap")


def client_context(settings: ImapSettings) -> ssl.SSLContext:
    """The context for every connection of a mailbox.

    A caller's ``ssl_context`` is used as given. Otherwise: system trust, host name checked,
    TLS 1.2 minimum unless ``tls_minimum`` lowers it explicitly; ``verify_tls=False`` turns
    verification off and says so in the log.
    """
    if settings.ssl_context is not None and not settings.verify_tls:
        # Never modify the caller's context: verification is off, so only its TLS version
        # floor still matters.
        context = ssl.create_default_context()
        context.minimum_version = settings.ssl_context.minimum_version
    elif settings.ssl_context is not None:
        context = settings.ssl_context
    else:
        context = ssl.create_default_context()
        minimum = TLS_VERSIONS[settings.tls_minimum]
        if minimum < ssl.TLSVersion.TLSv1_2:
            # OpenSSL 3 refuses TLS 1.0/1.1 at its default security level even when the
            # version is allowed; an explicit legacy minimum must also lower the level.
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
        context.minimum_version = minimum
    if not settings.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        log.warning(
            "TLS certificate verification is OFF for %s (verify_tls=False): the connection is "
            "encrypted but the server's identity is not checked.", settings.imap_host,
        )
    return context


def certificate_names(host: str, port: int, context: ssl.SSLContext, timeout: float,
                      starttls: bytes | None = None) -> tuple[str, ...]:
    """The DNS names and IP addresses on the server's certificate (for a mismatch message).

    Only called after the chain was accepted and the name was not: a second handshake with
    the name check off (chain still verified) reveals what the certificate is for.
    ``starttls`` is the protocol's upgrade command for plain ports.
    """
    probe = _copy_trust(context)
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            if starttls is not None:
                _plain_upgrade(raw, starttls)
            with probe.wrap_socket(raw, server_hostname=host) as tls:
                cert = tls.getpeercert() or {}
    except (OSError, ssl.SSLError):
        return ()
    return peer_names(cert)


def _copy_trust(context: ssl.SSLContext) -> ssl.SSLContext:
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_REQUIRED
    certs = context.get_ca_certs(binary_form=True)
    if certs:
        for der in certs:
            probe.load_verify_locations(cadata=der)
    else:
        probe.load_default_certs()
    return probe


def _plain_upgrade(sock: socket.socket, command: bytes) -> None:
    """Speak just enough of the plain protocol to reach the TLS handshake."""
    sock.recv(4096)  # greeting
    if command.startswith(b"EHLO"):
        sock.sendall(b"EHLO inboxlink\r\n")
        _read_until(sock, lambda data: b"\r\n250 " in b"\r\n" + data)
        sock.sendall(b"STARTTLS\r\n")
        _read_until(sock, lambda data: data.endswith(b"\r\n"))
        return
    sock.sendall(b"a1 STARTTLS\r\n")
    _read_until(sock, lambda data: b"a1 " in data)


def _read_until(sock: socket.socket, done: Callable[[bytes], bool]) -> bytes:
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return data
        data += chunk
        if done(data):
            return data
