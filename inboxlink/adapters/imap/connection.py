"""Opening IMAP sessions safely, and the per-mailbox connection budget.

Order of a connect: TCP (+ TLS for implicit TLS) → read the greeting and refuse
Courier-IMAP before sending anything → mandatory STARTTLS on plain ports (no STARTTLS,
no credentials) → LOGIN / AUTHENTICATE PLAIN / XOAUTH2 / OAUTHBEARER (a token provider's
refused token: one refresh, one more AUTHENTICATE).
"""

from __future__ import annotations

import contextlib
import imaplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Generic, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from inboxlink import deadline, errors
from inboxlink.adapters.imap import _imapclient_shim as shim
from inboxlink.adapters.imap import _imaplib_shim
from inboxlink.adapters.imap._servers import server_family, unsupported_server
from inboxlink.adapters.imap._tls import certificate_names
from inboxlink.adapters.imap.errors import PROVIDER, TABLE, extract, login_signal
from inboxlink.adapters.imap.settings import ImapSettings, Security
from inboxlink.auth.provider import with_fresh_token
from inboxlink.tls import certificate_reason
from inboxlink.translate import Signal

__all__ = ["DROPPED", "ConnectionBudget", "Session", "budget_permit", "certificate_error",
           "open_session", "run_on_session", "select_checked", "unreachable"]

T = TypeVar("T")
R = TypeVar("R")

#: exceptions after which a session cannot be trusted any more
DROPPED: tuple[type[BaseException], ...] = (imaplib.IMAP4.abort, OSError, EOFError)


class Session:
    """One logged-in IMAP connection and what it has selected."""

    def __init__(self, client: IMAPClient, capabilities: frozenset[str]) -> None:
        self.client = client
        self.capabilities = capabilities
        self.selected: str | None = None
        self.uidvalidity = 0
        self.exists = 0
        self.uidnext = 0
        #: whether the selection is read-only (EXAMINE)
        self.readonly = True
        #: whether ``ENABLE QRESYNC`` was issued on this connection (see ``sync.py``)
        self.qresync = False
        #: HIGHESTMODSEQ when ``sync.py`` last opened the selected folder (0: unknown)
        self.highestmodseq = 0
        #: the NAMESPACE answer (personal, others') once asked (``_reads.folders_on``): it
        #: cannot change during a session, so a folder refresh costs one LIST only
        self.namespaces: tuple[list[tuple[str, str | None]], list[tuple[str, str | None]]] \
            | None = None

    def select(self, folder: str, *, refresh: bool = True, readonly: bool = True) -> None:
        """EXAMINE ``folder`` (read-only: fetching never sets \\Seen) unless already there;
        ``readonly=False`` SELECTs it for changing flags or moving messages."""
        if not refresh and self.selected == folder and (readonly or not self.readonly):
            return
        self.selected = None
        self.highestmodseq = 0
        self.readonly = readonly
        info = self.client.select_folder(folder, readonly=readonly)
        self.uidvalidity = int(info.get(b"UIDVALIDITY", 0))
        self.exists = int(info.get(b"EXISTS", 0))
        self.uidnext = int(info.get(b"UIDNEXT", 0))
        self.selected = folder

    def close(self) -> None:
        """Log out; a dead connection is simply dropped."""
        try:
            self.client.logout()
        except Exception:
            with contextlib.suppress(Exception):  # already gone: nothing left to release
                self.client.shutdown()


def unreachable(host: str, port: int, exc: BaseException) -> errors.InboxLinkError:
    """The typed error for a server that cannot be reached at all."""
    if isinstance(exc, socket.gaierror):
        detail = f"the host name {host!r} does not resolve"
    elif isinstance(exc, (socket.timeout, TimeoutError)):
        detail = "the connection timed out"
    elif isinstance(exc, ConnectionRefusedError):
        detail = "the connection was refused"
    else:
        detail = str(exc) or type(exc).__name__
    return TABLE.error_for(Signal(
        provider=PROVIDER, code="UNREACHABLE",
        text=f"Cannot reach {host}:{port}: {detail}.",
    ))


def certificate_error(exc: ssl.SSLCertVerificationError, host: str, port: int,
                      context: ssl.SSLContext, timeout: float,
                      starttls: bytes | None) -> errors.InboxLinkError:
    """A CertificateError naming the reason, the host and (for a mismatch) the cert's names."""
    reason = certificate_reason(exc)
    names: tuple[str, ...] = ()
    if reason == "name-mismatch":
        names = certificate_names(host, port, context, timeout, starttls)
    message = {
        "name-mismatch": f"The certificate of {host} is not valid for that name"
        + (f"; it names {', '.join(names)}." if names else "."),
        "untrusted": f"The certificate of {host} is not signed by a trusted authority "
        f"({exc.verify_message}).",
        "expired": f"The certificate of {host} has expired.",
    }.get(reason, f"The certificate of {host} was rejected ({exc.verify_message}).")
    error = TABLE.error_for(Signal(
        provider=PROVIDER, code=f"x509:{exc.verify_code}", text=str(exc.verify_message),
        details={"reason": reason, "host": host, "names": names},
    ))
    error.message = message
    error.args = (message,)
    return error


def open_session(settings: ImapSettings, context: ssl.SSLContext) -> Session:
    """A logged-in session, or a typed error (raised from the library's exception)."""
    host, port = settings.imap_endpoint
    implicit = settings.imap_security is Security.TLS
    try:
        client = IMAPClient(host, port, ssl=implicit, ssl_context=context,
                            timeout=deadline.bound(settings.timeout, provider=PROVIDER))
    except ssl.SSLCertVerificationError as exc:
        raise certificate_error(exc, host, port, context, settings.timeout,
                                None if implicit else b"a1 STARTTLS") from exc
    except ssl.SSLError:
        raise
    except (socket.gaierror, ConnectionRefusedError, TimeoutError) as exc:
        raise unreachable(host, port, exc) from exc
    except OSError as exc:
        if exc.errno is not None:  # a socket-level failure, not a protocol one
            raise unreachable(host, port, exc) from exc
        raise
    try:
        _imaplib_shim.guard(shim.imaplib_of(client))
        shim.quiet_protocol_log(client)
        client.normalise_times = False
        _check_greeting(client, settings)
        if not implicit:
            _starttls(client, context, host, port, settings.timeout)
        capabilities = _capabilities(client)
        # LOGINDISABLED forbids the LOGIN command only; an OAuth-only server (Dovecot with
        # the oauth2 passdb alone) advertises it on TLS too and still takes AUTHENTICATE.
        if "LOGINDISABLED" in capabilities and not _oauth(settings):
            raise TABLE.error_for(Signal(provider=PROVIDER, code="LOGINDISABLED",
                                         text="The server advertises LOGINDISABLED."))
        _authenticate(client, settings)
        return Session(client, _capabilities(client))
    except BaseException:
        with contextlib.suppress(Exception):  # the connection is being abandoned anyway
            client.shutdown()
        raise


def budget_permit(settings: ImapSettings
                  ) -> Callable[[float], AbstractContextManager[None]]:
    """Permits for one connection of the account from ``settings.budget`` (default: the
    process-wide one), keyed by server and login: that is what the server's cap counts."""
    from inboxlink.budget import default_budget

    budget = settings.budget if settings.budget is not None else default_budget()
    host, port = settings.imap_endpoint
    key = f"imap://{settings.login}@{host}:{port}"
    return lambda timeout: budget.slot(key, "connection", settings.max_connections,
                                       timeout=timeout)


def _greeting(client: IMAPClient) -> str:
    welcome = client.welcome
    return welcome.decode("utf-8", "replace") if isinstance(welcome, bytes) else str(welcome)


def _check_greeting(client: IMAPClient, settings: ImapSettings) -> None:
    refusal = unsupported_server(_greeting(client), allow_courier=settings.allow_courier)
    if refusal is not None:
        raise refusal


def _starttls(client: IMAPClient, context: ssl.SSLContext, host: str, port: int,
              timeout: float) -> None:
    if "STARTTLS" not in _capabilities(client):
        # Never fall back to plain text: credentials are not sent at all.
        raise TABLE.error_for(Signal(
            provider=PROVIDER, code="NOSTARTTLS",
            text=f"{host}:{port} does not offer STARTTLS.",
        ))
    try:
        client.starttls(context)
    except ssl.SSLCertVerificationError as exc:
        raise certificate_error(exc, host, port, context, timeout, b"a1 STARTTLS") from exc


def _capabilities(client: IMAPClient) -> frozenset[str]:
    return frozenset((c.decode("ascii", "replace") if isinstance(c, bytes) else str(c)).upper()
                     for c in client.capabilities())


def _authenticate(client: IMAPClient, settings: ImapSettings) -> None:
    if settings.token_provider is not None:
        # A refused token gets one refresh and one more AUTHENTICATE: a login changes nothing
        # on the server, so repeating it cannot do anything twice.
        with_fresh_token(settings.token_provider,
                         lambda token: _oauth_login(client, settings, token))
        return
    if settings.access_token is None and settings.password is None:
        raise errors.ConfigurationError(
            "No credentials given.", provider=PROVIDER,
            remedy="Pass password= (or an app password), access_token= or token_provider= "
                   "for OAuth.",
        )
    if settings.access_token is not None:
        _oauth_login(client, settings, settings.access_token)
        return
    command = "LOGIN"
    try:
        if settings.auth_mechanism == "plain":
            command = "AUTHENTICATE"
            client.plain_login(settings.login, settings.password)
        else:
            client.login(settings.login, settings.password)
    except LoginError as exc:
        reply = exc.args[0] if exc.args else ""
        raise TABLE.error_for(login_signal(command, reply, server_family(_greeting(client)))) from exc


def _oauth(settings: ImapSettings) -> bool:
    return settings.token_provider is not None or settings.access_token is not None


def _oauth_login(client: IMAPClient, settings: ImapSettings, token: str) -> None:
    """AUTHENTICATE XOAUTH2 (default) or OAUTHBEARER; a refusal as its typed error."""
    try:
        if settings.auth_mechanism == "oauthbearer":
            client.oauthbearer_login(settings.login, token)
        else:
            client.oauth2_login(settings.login, token)
    except LoginError as exc:
        reply = exc.args[0] if exc.args else ""
        raise TABLE.error_for(login_signal("AUTHENTICATE", reply,
                                                 server_family(_greeting(client)))) from exc


class ConnectionBudget(Generic[T]):
    """At most ``limit`` open connections per mailbox, IMAP and SMTP together.

    Idle IMAP sessions are kept for reuse; when sending needs a slot and only idle IMAP
    sessions hold them, the oldest idle one is closed to make room. Thread-safe.

    Each open connection (busy, idle or watching) also holds one permit of ``permit``, a
    slot of the shared `inboxlink.budget.Budget` for the account, so every mailbox object,
    process and machine using the same budget stays under the server's per-user cap.
    Permits are interchangeable: one is taken whenever the local count goes up and one
    given back whenever it goes down.
    """

    def __init__(self, limit: int, connect: Callable[[], T], close: Callable[[T], None],
                 wait_timeout: float,
                 permit: Callable[[float], AbstractContextManager[None]] | None = None
                 ) -> None:
        self._limit = limit
        self._connect = connect
        self._close = close
        self._wait_timeout = wait_timeout
        self._permit = permit
        self._cond = threading.Condition()
        self._idle: list[T] = []
        self._open = 0
        self._closed = False
        #: budget permits held, one per open connection
        self._permits: list[AbstractContextManager[None]] = []

    @property
    def closed(self) -> bool:
        """Whether `close` was called (long waits such as IDLE end then)."""
        return self._closed

    @property
    def open_count(self) -> int:
        """Connections open right now (busy and idle)."""
        with self._cond:
            return self._open

    def _wait(self, until: float) -> None:
        remaining = until - time.monotonic()
        if remaining <= 0 or (not self._cond.wait(remaining) and time.monotonic() >= until):
            raise errors.TransientError(
                f"All {self._limit} connections to the mailbox stayed busy.", provider=PROVIDER,
                remedy="Retry later, or raise max_connections if the server allows more.",
            )

    def _take_slot(self, *, reuse: bool) -> T | None:
        # Never wait past the public call's own deadline for a free connection.
        left = deadline.remaining()
        wait = self._wait_timeout if left is None else max(0.0, min(self._wait_timeout, left))
        until = time.monotonic() + wait
        victim: T | None = None
        with self._cond:
            while True:
                if self._closed:
                    raise errors.MailboxClosed(provider=PROVIDER)
                if reuse and self._idle:
                    return self._idle.pop()
                if self._open < self._limit:
                    self._open += 1
                    break
                if not reuse and self._idle:
                    victim = self._idle.pop(0)  # its slot passes to the caller
                    break
                self._wait(until)
        if victim is not None:
            self._close(victim)  # its permit passes to the caller too
            return None
        try:
            self._hold_permit(max(0.0, until - time.monotonic()))
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise
        return None

    def _hold_permit(self, timeout: float) -> None:
        # Outside the lock: a shared budget may wait for another process to let go.
        if self._permit is None:
            return
        permit = self._permit(timeout)
        permit.__enter__()
        with self._cond:
            self._permits.append(permit)

    def _drop_permits(self, count: int) -> None:
        with self._cond:
            dropped = [self._permits.pop() for _ in range(min(count, len(self._permits)))]
        for permit in dropped:
            permit.__exit__(None, None, None)

    def _give_back_slot(self) -> None:
        with self._cond:
            self._open -= 1
            self._cond.notify()
        self._drop_permits(1)

    def acquire(self) -> T:
        """An idle session, or a new one if the budget allows (waits otherwise)."""
        reused = self._take_slot(reuse=True)
        if reused is not None:
            return reused
        try:
            return self._connect()
        except BaseException:
            self._give_back_slot()
            raise

    def release(self, item: T, *, discard: bool = False) -> None:
        """Return a session for reuse, or close it (``discard``) when it may be broken."""
        with self._cond:
            keep = not discard and not self._closed
            if keep:
                self._idle.append(item)
                self._cond.notify()
        if not keep:
            self._close(item)
            self._give_back_slot()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for a connection made elsewhere (SMTP)."""
        self._take_slot(reuse=False)
        try:
            yield
        finally:
            self._give_back_slot()

    def close(self) -> None:
        """Close idle sessions and refuse new ones; busy ones close when released."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._cond.notify_all()
        for item in idle:
            self._close(item)
        self._drop_permits(len(idle))


def run_on_session(pool: ConnectionBudget[Session], timeout: float,
                   work: Callable[[Session], R], *, reconnect: bool = True) -> R:
    """Run ``work`` on a pooled session; a dropped connection is retried once on a new one.

    Every network wait is cut to what is left of the call's deadline (and at most
    ``timeout``), and no reconnect starts after it. A session that saw anything but a clean
    tagged NO/BAD (a drop, a timeout, a protocol violation, a response the parser choked on)
    is discarded: it may be in the middle of a response and must never serve another call.
    ``reconnect=False`` for work that must not run twice (moves, expunges, APPEND).
    """
    attempts = 2 if reconnect else 1
    for attempt in range(attempts):
        session = pool.acquire()
        imap = shim.imaplib_of(session.client)
        try:
            _imaplib_shim.set_wait(imap, deadline.bound(timeout, provider=PROVIDER))
            result = work(session)
        except errors.InboxLinkError:
            # Typed errors raised by our own checks: the session itself is fine (and
            # some typed errors are OSError subclasses, e.g. PermissionDenied).
            pool.release(session)
            raise
        except DROPPED as exc:
            pool.release(session, discard=True)
            refused = _imaplib_shim.violation(imap)
            if refused is not None:
                # Not retried: the server would send the same thing again.
                raise refused from exc
            left = deadline.remaining()
            if attempt + 1 == attempts or (left is not None and left <= 0):
                raise
            continue
        except BaseException as exc:
            pool.release(session, discard=not _clean_refusal(exc))
            raise
        pool.release(session)
        return result
    raise AssertionError("unreachable")


def _clean_refusal(exc: BaseException) -> bool:
    """Whether ``exc`` is the server's tagged NO/BAD to a command: the session is in step.

    imaplib raises ``IMAP4.error`` for those; imapclient's ``ProtocolError`` (a subclass) and
    anything else (a parser's ``ValueError`` …) mean the response was not understood.
    """
    from imapclient.exceptions import ProtocolError

    return isinstance(exc, imaplib.IMAP4.error) and not isinstance(
        exc, imaplib.IMAP4.abort | ProtocolError)


def select_checked(session: Session, folder: str, validity: int | None, *,
                   readonly: bool = True) -> bool:
    """Select ``folder``; False when it is gone or was rebuilt (its messages are gone)."""
    try:
        # An already selected folder is reused: its UIDVALIDITY cannot change while it
        # is selected, and messages added since do not matter for acting by UID.
        session.select(folder, refresh=False, readonly=readonly)
    except imaplib.IMAP4.error as exc:
        if isinstance(exc, imaplib.IMAP4.abort):
            raise
        signal = extract(exc)
        rule = TABLE.match(signal) if isinstance(signal, Signal) else None
        if rule is not None and issubclass(rule.error, errors.FolderNotFound):
            return False
        raise
    return validity is None or session.uidvalidity == validity
