"""The exchangelib side of one EWS mailbox: credentials, Protocol, Account, limits.

Opening costs at most four requests and checks what a set-up flow needs: the auth type
(unless known), the server version (Exchange 2010 SP2+) and the mailbox's primary SMTP
address (ResolveNames); the mailbox then reads its folders. exchangelib's ``FailFast`` policy
is used while connecting (``FaultTolerance`` would retry a 401 for up to an hour).

With a shared `inboxlink.budget.Budget`, every exchangelib session checked out of the
Protocol's pool holds one budget slot (``get_session``/``release_session``), so the requests
in flight for the mailbox stay under ``max_concurrent`` across processes and machines — the
streaming watch's session included.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

from exchangelib import DELEGATE, Account, Configuration, Credentials, FailFast, FaultTolerance
from exchangelib.credentials import OAuth2AuthorizationCodeCredentials
from exchangelib.errors import TransportError, UnauthorizedError

from inboxlink import errors
from inboxlink.adapters.ews import _server_checks
from inboxlink.adapters.ews._autodiscover import discover
from inboxlink.adapters.ews._exchangelib_shim import forget_protocol
from inboxlink.adapters.ews._oauth import ProviderCredentials, refreshing
from inboxlink.adapters.ews._tls import protocol_class
from inboxlink.adapters.ews.settings import EwsSettings

if TYPE_CHECKING:
    from inboxlink.budget import Budget

__all__ = ["EwsConnection", "budgeted_protocol"]


class EwsConnection:
    """One mailbox's exchangelib Account, opened by `open` and ended by `close`."""

    def __init__(self, settings: EwsSettings) -> None:
        self.settings = settings
        #: the EWS URL in use: as given, or found by autodiscover while opening
        self.endpoint: str | None = settings.endpoint
        #: "Exchange2016 (15.1.2507.6)" once open
        self.server_version: str | None = None
        #: the SMTP address the server resolved the mailbox to (``None`` when the address
        #: book is closed to the account or does not list it)
        self.primary_smtp_address: str | None = None
        #: the exchangelib Account; ``None`` before `open` and after `close`
        self.account: Account | None = None
        self._config: Configuration | None = None
        self._protocol: Any = None

    def open(self) -> None:
        """Sign in, check the server and the mailbox; exchangelib errors propagate."""
        settings = self.settings
        credentials = self._credentials()
        if self.endpoint is None:
            self.endpoint = discover(settings, credentials)
        config = Configuration(
            service_endpoint=self.endpoint, credentials=credentials,
            auth_type=settings.exchangelib_auth_type(),
            retry_policy=refreshing(FailFast(), credentials),
        )
        forget_protocol(config)
        self._config = config
        # Created first so that the Account below finds it in exchangelib's protocol cache.
        self._protocol = self._protocol_class()(config=config)
        account = Account(primary_smtp_address=settings.address, config=config,
                          autodiscover=False, access_type=DELEGATE,
                          default_timezone=None, locale="en_US")
        account.protocol.TIMEOUT = settings.timeout
        self.server_version = _server_checks.check_version(self._version_of(account))
        self.account = account
        self.primary_smtp_address = _server_checks.primary_smtp_address(account,
                                                                        settings.address)
        if settings.throttle_max_wait > 0:
            config.retry_policy = refreshing(
                FaultTolerance(max_wait=settings.throttle_max_wait), credentials)

    def close(self) -> None:
        """Close exchangelib's sessions for this mailbox. Safe to call twice."""
        if self._protocol is not None and self._config is not None:
            self._protocol.close()
            forget_protocol(self._config, only=self._protocol)
        self._protocol = None
        self.account = None

    # ------------------------------------------------------------------ parts
    def _credentials(self) -> Any:
        settings = self.settings
        if settings.token_provider is not None:
            return ProviderCredentials(settings.token_provider)
        if settings.access_token:
            return OAuth2AuthorizationCodeCredentials(
                access_token={"access_token": settings.access_token, "token_type": "Bearer"})
        if settings.password is None:
            raise errors.ConfigurationError(
                "No password or access token was given.", provider="ews", code="credentials",
                remedy="Pass password= (or an app password), or access_token= for OAuth.")
        return Credentials(username=settings.login, password=settings.password)

    def _version_of(self, account: Account) -> Any:
        """The server version (asking the server), with sign-in failures made specific."""
        settings = self.settings
        try:
            return account.protocol.version
        except UnauthorizedError as exc:
            login = settings.login
            if not settings.access_token and "\\" not in login and "@" not in login:
                raise _server_checks.bare_username(login, str(exc)) from exc
            raise
        except TransportError as exc:
            if "Failed to get auth type" in str(exc) and self.endpoint is not None:
                offered = _server_checks.no_compatible_auth(self.endpoint, settings.timeout)
                if offered is not None:
                    raise offered from exc
            raise

    def _protocol_class(self) -> type[Any]:
        settings = self.settings
        cls = protocol_class(settings.ssl_context, settings.verify_tls)
        if settings.budget is None:
            return cls
        return budgeted_protocol(cls, settings.budget,
                                 f"ews:{self.endpoint}/{settings.address.casefold()}",
                                 settings.max_concurrent, settings.timeout)


def budgeted_protocol(base: type[Any], budget: Budget, key: str, limit: int,
                      timeout: float) -> type[Any]:
    """A subclass of exchangelib's Protocol class ``base`` whose sessions hold budget slots.

    Slots are interchangeable: each check-out takes one, each check-in gives one back.
    """
    lock = threading.Lock()

    class BudgetedProtocol(base):  # type: ignore[misc]
        """exchangelib's Protocol, with a budget slot per session in use."""

        def get_session(self) -> Any:
            permit = budget.slot(key, "requests", limit, timeout=timeout)
            permit.__enter__()
            try:
                session = super().get_session()
            except BaseException:
                permit.__exit__(None, None, None)
                raise
            with lock:
                self.__dict__.setdefault("_inboxlink_permits", []).append(permit)
            return session

        def release_session(self, session: Any) -> None:
            try:
                super().release_session(session)
            finally:
                with lock:
                    held: list[contextlib.AbstractContextManager[None]] = \
                        self.__dict__.get("_inboxlink_permits", [])
                    permit = held.pop() if held else None  # none: exchangelib filling its pool
                if permit is not None:
                    permit.__exit__(None, None, None)

    BudgetedProtocol.__name__ = f"Budgeted{base.__name__}"
    return BudgetedProtocol
