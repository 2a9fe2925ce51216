"""Which identity provider a mailbox URL signs in with, for which account, with which scopes.

Data only (no msal, no google-auth): the CLI, the token cache and the adapters' helper all
derive the same `SignInTarget` from a URL, so ``inboxlink login URL`` stores the file
that ``connect(URL, token_cache=…)`` later reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal
from urllib.parse import unquote, urlsplit

import attrs

from inboxlink import errors

__all__ = ["APP_ONLY_SCOPES", "SCOPES", "IdentityProvider", "SignInTarget", "login_command",
           "target_for"]

IdentityProvider = Literal["microsoft", "google"]

#: the identity provider each scheme implies; IMAP and EWS need ``provider=`` to choose
_SCHEME_PROVIDER: Mapping[str, IdentityProvider] = {"graph": "microsoft", "gmail": "google"}
#: the protocol family a scheme's tokens are for (one token cannot span two resources)
_SCHEME_PROTOCOL: Mapping[str, str] = {
    "graph": "graph", "gmail": "gmail", "imap": "imap", "imaps": "imap", "ews": "ews",
}

#: delegated scopes per (identity provider, protocol). Microsoft's reserved OpenID scopes
#: (``openid``, ``offline_access``, ``profile``) are added by msal itself on every request,
#: so DESIGN §1's Graph list appears here without them.
SCOPES: Mapping[tuple[IdentityProvider, str], tuple[str, ...]] = {
    ("microsoft", "graph"): ("https://graph.microsoft.com/Mail.ReadWrite",
                             "https://graph.microsoft.com/Mail.Send", "email"),
    # IMAP and SMTP share one resource, so one token serves both connections.
    ("microsoft", "imap"): ("https://outlook.office.com/IMAP.AccessAsUser.All",
                            "https://outlook.office.com/SMTP.Send", "email"),
    ("microsoft", "ews"): ("https://outlook.office365.com/EWS.AccessAsUser.All", "email"),
    ("google", "gmail"): ("https://www.googleapis.com/auth/gmail.modify",
                          "https://www.googleapis.com/auth/gmail.send", "openid",
                          "https://www.googleapis.com/auth/userinfo.email"),
    # Google's IMAP/SMTP accept only the full-mail scope.
    ("google", "imap"): ("https://mail.google.com/", "openid",
                         "https://www.googleapis.com/auth/userinfo.email"),
}

#: application (client-credentials) scopes per protocol: the resource's ``.default``
APP_ONLY_SCOPES: Mapping[str, tuple[str, ...]] = {
    "graph": ("https://graph.microsoft.com/.default",),
    "imap": ("https://outlook.office365.com/.default",),
    "ews": ("https://outlook.office365.com/.default",),
}


def login_command(url: str) -> str:
    """The shell command that signs ``url``'s account in again."""
    return f"inboxlink login {url}"


@attrs.frozen
class SignInTarget:
    """One account's sign-in: who, at which identity provider, for which protocol.

    Args:
        url: the mailbox URL without any password (what ``inboxlink login`` was given).
        provider: ``"microsoft"`` or ``"google"``.
        protocol: ``"graph"``, ``"gmail"``, ``"imap"`` or ``"ews"``.
        account: the e-mail address signed in.
    """

    url: str
    provider: IdentityProvider
    protocol: str
    account: str

    @property
    def scopes(self) -> tuple[str, ...]:
        """The delegated scopes this target asks for."""
        return SCOPES[(self.provider, self.protocol)]

    @property
    def key(self) -> str:
        """A file-name-safe key for the token cache: one file per account and protocol."""
        safe = "".join(c if c.isalnum() or c in "@.-_+" else "_" for c in self.account.lower())
        return f"{self.provider}-{self.protocol}-{safe}"

    @property
    def remedy(self) -> str:
        """The sentence every sign-in error ends with: the command that fixes it."""
        return f"Sign in again with: {login_command(self.url)}"


def target_for(url: str, provider: str | None = None) -> SignInTarget:
    """The `SignInTarget` for a mailbox URL.

    ``graph://`` and ``gmail://`` imply their provider; ``imaps://``/``imap://``/``ews://``
    need ``provider`` (``"microsoft"`` or ``"google"``). Raises
    `ConfigurationError` for anything else.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    protocol = _SCHEME_PROTOCOL.get(scheme)
    if protocol is None:
        raise errors.ConfigurationError(
            f"Signing in with OAuth is not available for {scheme or 'this'}:// URLs.",
            remedy="Use a graph://, gmail://, imaps:// or ews:// URL.")
    implied = _SCHEME_PROVIDER.get(scheme)
    chosen = (provider or implied or "").lower()
    if implied is not None and provider is not None and chosen != implied:
        raise errors.ConfigurationError(
            f"{scheme}:// accounts sign in with {implied}, not {provider}.",
            remedy=f"Leave out --provider, or use --provider {implied}.")
    if chosen not in ("microsoft", "google"):
        raise errors.ConfigurationError(
            f"Say which identity provider the {scheme}:// account signs in with.",
            remedy="Add --provider microsoft or --provider google (provider= in Python).")
    if (chosen, protocol) not in SCOPES:
        raise errors.ConfigurationError(
            f"{chosen} accounts cannot be signed in for {scheme}://.",
            remedy="Google has no EWS: use gmail:// or imaps:// for a Google account.")
    account = unquote(parts.username or "")
    if account and "@" not in account and parts.hostname:
        # graph://alice@contoso.com names the address as user@host, like the adapters read
        # it; imaps://alice%40contoso.com@outlook.office365.com carries it whole.
        account = f"{account}@{parts.hostname}"
    if "@" not in account:
        raise errors.ConfigurationError(
            "The URL does not name the account (expected scheme://alice@example.com).",
            remedy="Put the e-mail address in the URL, e.g. graph://alice@contoso.com.")
    netloc = parts.netloc.rsplit("@", 1)[1] if "@" in parts.netloc else parts.netloc
    user = parts.username or ""
    clean = parts._replace(netloc=f"{user}@{netloc}").geturl()
    return SignInTarget(url=clean, provider=chosen,  # type: ignore[arg-type]
                        protocol=protocol, account=account)
