"""Checks only one kind of mailbox needs: Graph scopes and mailbox, Gmail API, EWS server.

Each provider has a `ProviderChecks`. It runs in three places of the diagnosis:

* `before_login()` — what the settings and the token tell before any
  request (Graph scopes from the token's claims, the ``outlook_…`` alias, the EWS URL's
  form). It may veto the login: credentials are never sent to an Outlook-on-the-web page.
* `failed()` — a typed error from the login that one of the provider's
  checks explains (``RestApiNotEnabled`` is the Graph "mailbox" check failing, not a bad
  password) is reported as that check; the checks after it are marked as not run.
* `passed()` — after a successful login, what the adapter learned
  (granted scopes, the EWS URL autodiscover found, the server version, the primary address).

Everything comes from the adapters' public APIs; client libraries are never imported here.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from inboxlink import errors
from inboxlink.doctor.report import Check, Status

if TYPE_CHECKING:
    from inboxlink.doctor.options import DoctorOptions

__all__ = ["ProviderChecks", "checks_for"]

#: ``add(stage, name, status, detail="", error=None, **data)`` → the check it recorded
Add = Callable[..., Check]


class ProviderChecks:
    """The provider's own checks; the base class has none (IMAP, plugins, the fake).

    ``owned`` maps error classes (most specific first) to the check that explains them;
    ``order`` lists the checks in the order they are reported.
    """

    provider: ClassVar[str] = ""
    owned: ClassVar[tuple[tuple[type[errors.InboxLinkError], str], ...]] = ()
    order: ClassVar[tuple[str, ...]] = ()

    def __init__(self, add: Add, address: str | None, resolver: Any = None) -> None:
        self._add = add
        self.address = address
        self.resolver = resolver
        self.reported: set[str] = set()
        self.failures: set[str] = set()

    def add(self, name: str, status: Status, detail: str = "",
            error: errors.InboxLinkError | None = None, **data: Any) -> None:
        """Report one check of this provider, once."""
        if name in self.reported:
            return
        self.reported.add(name)
        self._add(self.provider, name, status, detail, error, **data)

    def before_login(self, options: DoctorOptions, secret: str | None) -> bool:
        """Checks that need no request; ``False`` when the login must not be tried."""
        return True

    def watch(self) -> AbstractContextManager[list[warnings.WarningMessage]] | None:
        """A context recording the warnings the adapter gives while connecting, or None."""
        return None

    def reported_warnings(self) -> tuple[type[Warning], ...]:
        """Warning classes `passed()` turns into checks (not repeated on stderr)."""
        return ()

    def failed(self, error: errors.InboxLinkError) -> bool:
        """Report ``error`` as the check it belongs to; ``False`` when none owns it."""
        name = next((name for cls, name in self.owned if isinstance(error, cls)), None)
        if name is None:
            return False
        if name in self.reported and name not in self.failures:
            # Passed already: the check could not foresee this, so the login stage tells it.
            return False
        position = self.order.index(name)
        for earlier in self.order[:position]:
            if earlier not in self.reported:
                self.reached(earlier)
        # Failed already (the token lacked a scope and the server agreed): said once.
        self.failures.add(name)
        self.add(name, Status.FAIL, error.message, error, **self.error_data(error))
        self.explain(error)
        for later in self.order[position + 1:]:
            self.add(later, Status.SKIP, f"not checked: the {name} check failed")
        return True

    def error_data(self, error: errors.InboxLinkError) -> dict[str, Any]:
        """Machine-readable facts a failed check carries into ``--json``."""
        return {}

    def reached(self, name: str) -> None:
        """Report check ``name``, which a later check failing shows to have passed."""

    def explain(self, error: errors.InboxLinkError) -> None:
        """Further checks that explain an owned failure (Graph: where the MX points)."""

    def passed(self, mailbox: Any, seen: list[warnings.WarningMessage]) -> None:
        """Report what the connected ``mailbox`` tells."""


class GraphChecks(ProviderChecks):
    """Microsoft 365: granted scopes, mailbox and REST API, the primary alias."""

    provider = "graph"
    owned = ((errors.InsufficientScopes, "scopes"), (errors.RestApiNotEnabled, "mailbox"),
             (errors.MailboxNotFound, "mailbox"))
    order = ("scopes", "mailbox", "primary alias")

    def __init__(self, add: Add, address: str | None, resolver: Any = None) -> None:
        super().__init__(add, address, resolver)
        #: addresses the access token names for its user (JWTs only)
        self.claimed: list[str] = []

    def before_login(self, options: DoctorOptions, secret: str | None) -> bool:
        from inboxlink.adapters import graph as auth  # the package's public sign-in helpers

        claims = auth.token_claims(secret)
        self.claimed = [c for c in (claims.get(k) for k in ("preferred_username", "upn", "email"))
                        if isinstance(c, str)]
        for address in (self.address, *self.claimed):
            if auth.has_primary_alias_problem(address):
                self._alias(str(address))
        granted = auth.granted_permissions(claims)
        if granted is not None:
            self._scopes(granted)
        return True

    def watch(self) -> AbstractContextManager[list[warnings.WarningMessage]] | None:
        return _recording(self.reported_warnings())

    def reported_warnings(self) -> tuple[type[Warning], ...]:
        from inboxlink.adapters.graph import PrimaryAliasWarning

        return (PrimaryAliasWarning,)

    def _scopes(self, granted: tuple[set[str], bool] | tuple[frozenset[str], bool]) -> None:
        from inboxlink.adapters import graph as auth  # the package's public sign-in helpers

        names, app_only = granted
        required = auth.APPLICATION_ROLES if app_only else auth.REQUIRED_SCOPES
        missing = auth.missing_scopes(names, required)
        # openid/email/offline_access belong to the sign-in: an access token need not list them.
        needed = tuple(m for m in missing if m not in _SIGN_IN_SCOPES)
        kind = "application permissions" if app_only else "delegated scopes"
        data: dict[str, Any] = {"granted": sorted(names), "required": list(required),
                                "missing": list(missing), "app_only": app_only}
        if needed:
            error = errors.InsufficientScopes(
                f"The access token lacks {', '.join(needed)} ({kind} granted: "
                f"{', '.join(sorted(names)) or 'none'}).", provider="graph", missing=needed,
                code="scp" if not app_only else "roles")
            self.failures.add("scopes")
            self.add("scopes", Status.FAIL, error.message, error, **data)
            return
        detail = f"{kind} granted: {', '.join(r for r in required if r not in missing)}"
        if missing:
            detail += f" (sign-in scopes not listed in the token: {', '.join(missing)})"
        self.add("scopes", Status.PASS, detail, **data)

    def reached(self, name: str) -> None:
        # Only "scopes" comes before a failure, and only an opaque token leaves it unreported.
        self.add(name, Status.SKIP, _OPAQUE)

    def _alias(self, address: str) -> None:
        from inboxlink.adapters import graph as auth  # the package's public sign-in helpers

        error = errors.ConfigurationError(
            f"{address} is a Microsoft-generated alias (outlook_…@outlook.com), not the "
            "account's real address: mail is sent from the alias and replies do not thread.",
            provider="graph", code="outlook-alias", remedy=auth.PRIMARY_ALIAS_REMEDY)
        self.add("primary alias", Status.WARN, error.message, error, address=address)

    def error_data(self, error: errors.InboxLinkError) -> dict[str, Any]:
        if isinstance(error, errors.InsufficientScopes):
            return {"missing": list(error.missing)}
        return {}

    def explain(self, error: errors.InboxLinkError) -> None:
        if not isinstance(error, (errors.RestApiNotEnabled, errors.MailboxNotFound)):
            return
        if not self.address:
            return
        from inboxlink.adapters.graph import lookup_mail_hosting

        try:
            hosting = lookup_mail_hosting(self.address, resolver=self.resolver)
        except errors.InboxLinkError as exc:
            self._add("dns", "MX", Status.SKIP, f"the MX look-up failed: {exc.message}")
            return
        if hosting.in_microsoft_365:
            advice = ("Microsoft 365 receives the mail, so the mailbox is likely shared, "
                      "unlicensed or still migrating")
        else:
            advice = ("connect the mailbox where that server lives (IMAP, or EWS for "
                      "on-premises Exchange)")
        self._add("dns", "MX", Status.WARN, f"{hosting.describe()} {advice}.",
                  mx=list(hosting.hosts), hosted_by=hosting.provider)

    def passed(self, mailbox: Any, seen: list[warnings.WarningMessage]) -> None:
        from inboxlink.adapters import graph as auth  # the package's public sign-in helpers

        granted = getattr(mailbox, "granted_permissions", None)
        if "scopes" not in self.reported:
            if granted is not None:
                self._scopes(granted)
            else:
                self.add("scopes", Status.SKIP, _OPAQUE + "; the folder listing worked")
        self.add("mailbox", Status.PASS, "the account has an Exchange Online mailbox and its "
                 "REST API is enabled (folders listed)")
        aliased = [w for w in seen if issubclass(w.category, auth.PrimaryAliasWarning)]
        if aliased:
            found = str(aliased[0].message).partition(":")[0]
            self._alias(found)
        address = self.claimed[0] if self.claimed else getattr(mailbox, "address", self.address)
        self.add("primary alias", Status.PASS,
                 f"{address} is the account's own address, not a generated outlook_… alias",
                 address=address)


@contextlib.contextmanager
def _recording(categories: tuple[type[Warning], ...]) -> Iterator[list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as seen:
        for category in categories:
            # "always": one already shown in this process must still be seen here.
            warnings.simplefilter("always", category)
        yield seen


_OPAQUE = ("the access token is opaque (personal Microsoft account): its scopes cannot be "
           "read")
_SIGN_IN_SCOPES = frozenset({"openid", "email", "offline_access", "profile"})


class GmailChecks(ProviderChecks):
    """Gmail: the API is enabled for the app's project, the app is allowed, scopes suffice.

    All three are read from one cheap request (labels.list, done by the folder listing).
    """

    provider = "gmail"
    owned = ((errors.ApiNotEnabled, "API enabled"), (errors.AppBlocked, "app access"),
             (errors.InsufficientScopes, "scopes"))
    order = ("API enabled", "app access", "scopes")

    def error_data(self, error: errors.InboxLinkError) -> dict[str, Any]:
        if isinstance(error, errors.InsufficientScopes):
            return {"missing": list(error.missing)}
        return {"code": error.code} if error.code else {}

    #: what each check means when it passed
    PASSED: ClassVar[Mapping[str, str]] = {
        "API enabled": "the Gmail API is enabled for the app's Google Cloud project",
        "app access": "no Workspace admin or Advanced Protection policy blocks the app",
        "scopes": "reading is granted (labels listed); sending is checked only by sending: "
                  "use --send-test",
    }

    def reached(self, name: str) -> None:
        # Gmail answered with a later refusal, so the API is on (and the app allowed).
        self.add(name, Status.PASS, self.PASSED[name])

    def passed(self, mailbox: Any, seen: list[warnings.WarningMessage]) -> None:
        for name in self.order:
            self.add(name, Status.PASS, self.PASSED[name])


class EwsChecks(ProviderChecks):
    """Exchange: the EWS URL, the server version (2010 SP2+), the primary SMTP address."""

    provider = "ews"
    owned = ((errors.InvalidExchangeUrl, "EWS URL"),
             (errors.UnsupportedExchangeVersion, "server version"),
             (errors.MissingSmtpAddress, "primary SMTP address"))
    order = ("EWS URL", "server version", "primary SMTP address")
    #: how the EWS URL was found, for the report
    how = "as given"
    #: the EWS URL the adapter will use, when given
    endpoint: str | None = None

    def reached(self, name: str) -> None:
        # The server answered as EWS and a later check failed.
        if name == "server version":
            self.add(name, Status.PASS, "Exchange 2010 SP2 or newer (the version check passed)")
        elif self.endpoint:
            self.add(name, Status.PASS, f"{self.endpoint} ({self.how}) answers as EWS",
                     url=self.endpoint)
        else:
            self.add(name, Status.SKIP, "found by autodiscover; not known after the failure")

    def before_login(self, options: DoctorOptions, secret: str | None) -> bool:
        from inboxlink.adapters.ews.settings import endpoint_from

        given = options.ews_url or options.connect_options.get("url")
        if not given:
            self.how = "found by autodiscover"
            return True
        try:
            endpoint = endpoint_from(str(given))
        except errors.InvalidExchangeUrl as exc:
            self.failed(exc)
            return False
        self.endpoint = endpoint
        same = urlsplit(endpoint).path.rstrip("/") == urlsplit(str(given)).path.rstrip("/")
        self.how = "as given" if same else f"derived from {given}"
        return True

    def error_data(self, error: errors.InboxLinkError) -> dict[str, Any]:
        if isinstance(error, errors.InvalidExchangeUrl):
            return {"suggested_url": error.suggested_url}
        if isinstance(error, errors.UnsupportedExchangeVersion):
            return {"server_version": error.server_version}
        return {}

    def passed(self, mailbox: Any, seen: list[warnings.WarningMessage]) -> None:
        endpoint = getattr(mailbox, "endpoint", None)
        self.add("EWS URL", Status.PASS, f"{endpoint} ({self.how})", url=endpoint)
        version = getattr(mailbox, "server_version", None)
        self.add("server version", Status.PASS,
                 f"{version}, new enough (Exchange 2010 SP2 or newer is needed)",
                 server_version=version)
        smtp = getattr(mailbox, "primary_smtp_address", None)
        if smtp:
            self.add("primary SMTP address", Status.PASS, f"{smtp} (resolved by the server)",
                     address=smtp)
        else:
            self.add("primary SMTP address", Status.WARN,
                     "the server's address book does not list the mailbox: the SMTP address "
                     "could not be confirmed (sending may fail; try --send-test)")


_CHECKS: Mapping[str, type[ProviderChecks]] = {
    "graph": GraphChecks, "gmail": GmailChecks, "ews": EwsChecks,
}


def checks_for(provider: str, add: Add, address: str | None,
               resolver: Any = None) -> ProviderChecks:
    """The provider's checks (none for IMAP, plugins and the fake)."""
    return _CHECKS.get(provider, ProviderChecks)(add, address, resolver)
