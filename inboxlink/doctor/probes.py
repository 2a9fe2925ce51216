"""Network probes for the doctor, on the standard library only (no adapter needed).

Each probe speaks just enough IMAP or SMTP to see what a real client would meet: the TCP
connection, the TLS handshake (implicit or after STARTTLS), the certificate, the greeting
and the capabilities. Nothing is ever authenticated here: credentials are only used by the
login step, through the adapter.
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Mapping

import attrs

from inboxlink import errors
from inboxlink.doctor.detect import Endpoint
from inboxlink.tls import certificate_reason, peer_names

__all__ = ["ProbeResult", "TlsInfo", "make_context", "probe", "server_software", "tcp_connect",
           "unsupported_server"]

_MAX_LINE = 65536


@attrs.frozen
class TlsInfo:
    """What the TLS handshake showed."""

    version: str
    cipher: str
    names: tuple[str, ...]  #: DNS names (SAN, else CN) in the server's certificate
    not_after: str | None
    verified: bool


@attrs.define
class ProbeResult:
    """The outcome of probing one endpoint; ``error`` is set when a step failed."""

    endpoint: Endpoint
    address: str | None = None  #: the IP address connected to
    greeting: str | None = None
    starttls_offered: bool | None = None  #: for STARTTLS endpoints, before the upgrade
    tls: TlsInfo | None = None
    capabilities: tuple[str, ...] = ()  #: IMAP capabilities / SMTP EHLO keywords after TLS
    #: IMAP capabilities after logging in (servers announce more then); None if not logged in
    capabilities_after_login: tuple[str, ...] | None = None
    #: the server's tagged answer to LOGIN, when it refused (the login stage explains it)
    login_refusal: str | None = None
    error: errors.InboxLinkError | None = None
    failed_step: str | None = None  #: "tcp", "tls", "greeting", "starttls"


def make_context(*, ca_file: str | None = None, insecure: bool = False) -> ssl.SSLContext:
    """The client context a real connection would use: verified, TLS 1.2 or newer."""
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def tcp_connect(endpoint: Endpoint, addresses: list[str], timeout: float) -> socket.socket:
    """Connect to the first address that answers; ``ServerUnreachable`` names the cause."""
    last: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address, endpoint.port), timeout=timeout)
        except OSError as exc:
            last = exc
    cause = "timed out" if isinstance(last, TimeoutError) else (
        last.strerror if last and last.strerror else str(last))
    raise errors.ServerUnreachable(
        f"No connection to {endpoint.host} port {endpoint.port}: {cause}.",
        code=type(last).__name__ if last else None,
        remedy=(f"Check that {endpoint.host} serves {endpoint.protocol.upper()} on port "
                f"{endpoint.port}. If it does, a firewall or an IP allow-list is blocking this "
                "machine: ask the mail server's IT team to allow its address."))


_REASON_REMEDIES: Mapping[str, str] = {
    "name-mismatch": "The certificate was issued for other names. Connect with one of the names "
    "it holds, or ask the administrator for a certificate that includes this host name.",
    "untrusted": "The certificate is self-signed or from an unknown CA. Ask the administrator "
    "for a certificate from a public CA; for a server you trust, pass its CA (--ca-file / "
    "ssl_context=) or explicitly allow an insecure certificate (--insecure / verify_tls=False).",
    "expired": "The certificate has expired (or is not valid yet): ask the server's "
    "administrator to renew it, and check this machine's clock.",
}

_VERSION_TEXT = re.compile(r"(?i)unsupported.protocol|wrong.version|no.protocols|"
                           r"protocol.version|version.too.low|tlsv1.alert.protocol")


def _names_unverified(sock: socket.socket, host: str) -> tuple[str, ...]:
    """Names in a certificate that failed verification, to tell the person what it holds."""
    try:
        from cryptography import x509
    except ImportError:  # optional: only makes the message more helpful
        return ()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with context.wrap_socket(sock, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return ()
    if not der:
        return ()
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        # IP addresses too: "connect with one of the names it holds" may mean the address.
        return (*(str(n) for n in san.get_values_for_type(x509.DNSName)),
                *(str(n) for n in san.get_values_for_type(x509.IPAddress)))
    except x509.ExtensionNotFound:
        return tuple(str(a.value) for a in
                     cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME))


def _tls_error(exc: ssl.SSLError, endpoint: Endpoint) -> errors.InboxLinkError:
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = certificate_reason(exc)
        return errors.CertificateError(
            f"The certificate of {endpoint.host} was not accepted: "
            f"{exc.verify_message.rstrip('.')}.",
            reason=reason, host=endpoint.host, code=f"X509:{exc.verify_code}",
            remedy=_REASON_REMEDIES.get(reason))
    if _VERSION_TEXT.search(str(exc)):
        return errors.TlsVersionMismatch(
            f"{endpoint.host}:{endpoint.port} and this client share no TLS version "
            "(TLS 1.2 or newer is required).", code=exc.reason)
    return errors.ConnectError(f"The TLS handshake with {endpoint.host} failed: {exc}",
                               code=exc.reason)


class _Lines:
    """A minimal line reader/writer over a (possibly upgraded) socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = b""

    def readline(self) -> str:
        while b"\n" not in self._buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionResetError("the server closed the connection")
            self._buffer += chunk
            if len(self._buffer) > _MAX_LINE:
                raise ConnectionResetError("the server sent an over-long line")
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8", "replace").rstrip("\r")

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode("ascii") + b"\r\n")


def _handshake(sock: socket.socket, endpoint: Endpoint, context: ssl.SSLContext,
               result: ProbeResult) -> ssl.SSLSocket:
    try:
        tls = context.wrap_socket(sock, server_hostname=endpoint.host)
    except ssl.SSLError as exc:
        error = _tls_error(exc, endpoint)
        if isinstance(error, errors.CertificateError) and result.address:
            # A second, unverified look shows the person which names the certificate holds.
            try:
                with socket.create_connection((result.address, endpoint.port),
                                              timeout=sock.gettimeout()) as again:
                    if endpoint.tls == "starttls":
                        _STARTTLS_AGAIN[endpoint.protocol](_Lines(again))
                    error.names = _names_unverified(again, endpoint.host)
                if error.names:
                    error.message += " It holds: " + ", ".join(error.names) + "."
            except OSError:
                pass
        raise error from exc
    cert = tls.getpeercert() or {}
    cipher = tls.cipher()
    result.tls = TlsInfo(version=tls.version() or "?", cipher=cipher[0] if cipher else "?",
                         names=peer_names(cert), not_after=str(cert.get("notAfter") or "") or None,
                         verified=context.verify_mode != ssl.CERT_NONE)
    return tls


def _imap_starttls_again(lines: _Lines) -> None:
    lines.readline()  # the greeting
    lines.send("d9 STARTTLS")
    while not lines.readline().startswith("d9 "):
        pass


def _smtp_starttls_again(lines: _Lines) -> None:
    _smtp_reply(lines)  # the greeting
    lines.send("EHLO inboxlink-doctor.invalid")
    _smtp_reply(lines)
    lines.send("STARTTLS")
    _smtp_reply(lines)


# Up to the TLS handshake again, on a second connection, to read a refused certificate.
_STARTTLS_AGAIN = {"imap": _imap_starttls_again, "smtp": _smtp_starttls_again}


def _imap_capabilities(lines: _Lines, tag: str) -> tuple[str, ...]:
    lines.send(f"{tag} CAPABILITY")
    found: list[str] = []
    while True:
        line = lines.readline()
        if line.upper().startswith("* CAPABILITY"):
            found += line.split()[2:]
        elif line.startswith(f"{tag} "):
            return tuple(c.upper() for c in found)


def _greeting_capabilities(greeting: str) -> tuple[str, ...]:
    match = re.search(r"\[CAPABILITY ([^\]]*)\]", greeting, re.IGNORECASE)
    return tuple(c.upper() for c in match.group(1).split()) if match else ()


def _probe_imap(sock: socket.socket, endpoint: Endpoint, context: ssl.SSLContext,
                result: ProbeResult, login: tuple[str, str] | None, allow_courier: bool) -> None:
    if endpoint.tls == "implicit":
        result.failed_step = "tls"
        sock = _handshake(sock, endpoint, context, result)
    lines = _Lines(sock)
    result.failed_step = "greeting"
    greeting = lines.readline()
    result.greeting = greeting
    if greeting.upper().startswith("* BYE"):
        raise errors.TransientError(f"The server refused the connection: {greeting[6:]}",
                                    code="BYE")
    if endpoint.tls == "starttls":
        before = _greeting_capabilities(greeting) or _imap_capabilities(lines, "d0")
        result.starttls_offered = "STARTTLS" in before
        result.failed_step = "starttls"
        if not result.starttls_offered:
            raise errors.StartTlsUnavailable(
                f"{endpoint.host}:{endpoint.port} does not offer STARTTLS.", code="STARTTLS")
        lines.send("d1 STARTTLS")
        while not (reply := lines.readline()).startswith("d1 "):
            pass
        if not reply[3:].upper().startswith("OK"):
            raise errors.StartTlsUnavailable(f"STARTTLS was refused: {reply[3:]}",
                                             code="STARTTLS")
        result.failed_step = "tls"
        lines = _Lines(_handshake(sock, endpoint, context, result))
    result.failed_step = "capabilities"
    caps = () if endpoint.tls == "starttls" else _greeting_capabilities(greeting)
    result.capabilities = caps or _imap_capabilities(lines, "d2")
    # Credentials never go to a server the adapter would refuse (Courier-IMAP, by name or
    # by its capability fingerprint): the doctor asks the adapter's own test.
    refused_software = unsupported_server(greeting, allow_courier=allow_courier) is not None
    if login is not None and "LOGINDISABLED" not in result.capabilities and not refused_software:
        try:
            _imap_login(lines, login, result)
        except OSError as exc:
            # Some servers hang up after a refused login; the endpoint itself worked.
            result.login_refusal = f"connection closed after LOGIN ({exc})"
            return
    lines.send("d5 LOGOUT")


def _quoted(value: str) -> str | None:
    if not value.isascii() or any(c in value for c in "\r\n\0"):
        return None  # would need a literal; the adapter's own login covers this account
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _imap_login(lines: _Lines, login: tuple[str, str], result: ProbeResult) -> None:
    """Log in over the verified TLS connection only to read the post-login capabilities."""
    user, password = (_quoted(v) for v in login)
    if user is None or password is None:
        return
    result.failed_step = "login"
    lines.send(f"d3 LOGIN {user} {password}")
    while not (reply := lines.readline()).startswith("d3 "):
        pass
    if not reply[3:].upper().startswith("OK"):
        result.login_refusal = reply[3:]
        return
    result.capabilities_after_login = (_greeting_capabilities(reply)
                                       or _imap_capabilities(lines, "d4"))


def _smtp_reply(lines: _Lines) -> tuple[int, list[str]]:
    texts: list[str] = []
    while True:
        line = lines.readline()
        code = int(line[:3]) if line[:3].isdigit() else 0
        texts.append(line[4:])
        if len(line) < 4 or line[3] != "-":
            return code, texts


def _ehlo(lines: _Lines) -> tuple[str, ...]:
    lines.send("EHLO inboxlink-doctor.invalid")
    code, texts = _smtp_reply(lines)
    if code != 250:
        raise errors.ConnectError(f"The server refused EHLO: {code} {' '.join(texts)}",
                                  code=str(code))
    return tuple(t.upper() for t in texts[1:])


def _probe_smtp(sock: socket.socket, endpoint: Endpoint, context: ssl.SSLContext,
                result: ProbeResult, login: tuple[str, str] | None, allow_courier: bool) -> None:
    if endpoint.tls == "implicit":
        result.failed_step = "tls"
        sock = _handshake(sock, endpoint, context, result)
    lines = _Lines(sock)
    result.failed_step = "greeting"
    code, texts = _smtp_reply(lines)
    result.greeting = f"{code} {texts[0]}"
    if code != 220:
        raise errors.TransientError(f"The server refused the connection: {result.greeting}",
                                    code=str(code))
    keywords = _ehlo(lines)
    if endpoint.tls == "starttls":
        result.starttls_offered = any(k.split()[0] == "STARTTLS" for k in keywords if k)
        result.failed_step = "starttls"
        if not result.starttls_offered:
            raise errors.StartTlsUnavailable(
                f"{endpoint.host}:{endpoint.port} does not offer STARTTLS.", code="STARTTLS")
        lines.send("STARTTLS")
        code, texts = _smtp_reply(lines)
        if code != 220:
            raise errors.StartTlsUnavailable(f"STARTTLS was refused: {code} {' '.join(texts)}",
                                             code=str(code))
        result.failed_step = "tls"
        lines = _Lines(_handshake(sock, endpoint, context, result))
        result.failed_step = "capabilities"
        keywords = _ehlo(lines)
    result.capabilities = keywords
    lines.send("QUIT")


def _probe_https(sock: socket.socket, endpoint: Endpoint, context: ssl.SSLContext,
                 result: ProbeResult, login: tuple[str, str] | None, allow_courier: bool) -> None:
    if endpoint.tls == "none":
        return  # plain HTTP (a loopback emulator): reachable is all there is to know
    result.failed_step = "tls"
    _handshake(sock, endpoint, context, result).close()


_PROBES = {"imap": _probe_imap, "smtp": _probe_smtp, "https": _probe_https}


def probe(endpoint: Endpoint, addresses: list[str], context: ssl.SSLContext,
          timeout: float, login: tuple[str, str] | None = None, *,
          allow_courier: bool = False) -> ProbeResult:
    """Connect to ``endpoint`` and go as far as a client would before logging in.

    With ``login`` (user, password) an IMAP probe also logs in — only over the TLS just
    verified — to read the capabilities servers announce after login (Dovecot lists
    SPECIAL-USE and CONDSTORE only then). A refusal is recorded, not raised: the login
    stage reports it through the adapter's typed error. It never logs in to server software
    the adapter refuses (Courier-IMAP), unless ``allow_courier`` (the adapter's option of
    that name, as given to connect()) accepts it.
    """
    result = ProbeResult(endpoint)
    result.failed_step = "tcp"
    try:
        sock = tcp_connect(endpoint, addresses, timeout)
        result.address = str(sock.getpeername()[0])
        with sock:
            _PROBES[endpoint.protocol](sock, endpoint, context, result, login, allow_courier)
        result.failed_step = None
    except errors.InboxLinkError as exc:
        result.error = exc
    except TimeoutError as exc:
        result.error = errors.OperationTimeout(
            f"{endpoint.host}:{endpoint.port} stopped answering during {result.failed_step}.",
            code="timeout")
        result.error.__cause__ = exc
    except OSError as exc:
        result.error = errors.ConnectionLost(
            f"{endpoint.host}:{endpoint.port} dropped the connection during "
            f"{result.failed_step}: {exc}", code=type(exc).__name__)
        result.error.__cause__ = exc
    return result


#: server software inboxlink refuses (see the "server" stage)
def unsupported_server(greeting: str | None, *,
                       allow_courier: bool = False) -> errors.InboxLinkError | None:
    """The IMAP adapter's own refusal of this server (``adapters/imap/_servers.py``), if any,
    with the adapter's ``allow_courier`` option as given to connect()."""
    from inboxlink.adapters.imap._servers import unsupported_server as adapter_refusal

    return adapter_refusal(greeting or "", allow_courier=allow_courier)

# Greeting text (regular expression) → server software. Checked in order.
_SOFTWARE: tuple[tuple[str, str], ...] = (
    (r"Courier-IMAP", "Courier-IMAP"),
    (r"Dovecot", "Dovecot"),
    (r"Microsoft Exchange", "Microsoft Exchange"),
    (r"Gimap", "Gmail"),
    (r"Cyrus", "Cyrus IMAP"),
    (r"Zimbra", "Zimbra"),
    (r"hMailServer", "hMailServer"),
    (r"IceWarp", "IceWarp"),
    (r"Kerio", "Kerio Connect"),
    (r"MDaemon", "MDaemon"),
    (r"SmarterMail", "SmarterMail"),
    (r"\bUW\b|University of Washington", "UW IMAP"),
)


def server_software(greeting: str | None) -> str | None:
    """The server software a greeting names, if any."""
    for pattern, name in _SOFTWARE:
        if greeting and re.search(pattern, greeting, re.IGNORECASE):
            return name
    return None
