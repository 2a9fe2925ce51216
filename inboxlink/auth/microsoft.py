"""Microsoft sign-in through msal: authorization code + PKCE, device code, client credentials.

``PublicClientApplication`` runs the delegated flows (msal adds PKCE and the reserved
OpenID scopes itself) and keeps its ``SerializableTokenCache`` inside the account's cache
file; `MicrosoftCacheTokenProvider` redeems its refresh token silently.
``ConfidentialClientApplication`` gets app-only tokens (`MicrosoftAppTokenProvider`).
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs

from inboxlink import errors
from inboxlink.auth.cache import TokenCacheDir, write_document
from inboxlink.auth.errors import (
    NO_SAVED_SIGN_IN,
    OAuthFailure,
    graph_table,
    microsoft_extract,
    signing_in,
)
from inboxlink.auth.loopback import LoopbackListener, Prompt, PromptHandler, print_prompt
from inboxlink.auth.store import CacheTokenProvider, Issued, new_document
from inboxlink.auth.targets import APP_ONLY_SCOPES, SignInTarget
from inboxlink.translate import ErrorTable, Signal

if TYPE_CHECKING:
    import msal

__all__ = ["DEFAULT_AUTHORITY_HOST", "MicrosoftAppTokenProvider", "MicrosoftCacheTokenProvider",
           "MicrosoftSettings", "login_microsoft"]

DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
#: where the browser must come back within (seconds), unless the caller says otherwise
DEFAULT_TIMEOUT = 300.0


@attrs.frozen
class MicrosoftSettings:
    """The app registration a Microsoft sign-in uses (public settings only).

    Args:
        client_id: the app's Application (client) ID from Entra ID.
        tenant: ``organizations`` (work/school), ``consumers`` (personal),
            ``common`` (both) or a tenant id / domain.
        authority_host: the sign-in host (national clouds, or a test emulator).
        ca_file: a PEM file of CAs to trust for the sign-in host (corporate proxies, tests).
    """

    client_id: str
    tenant: str = "organizations"
    authority_host: str = DEFAULT_AUTHORITY_HOST
    ca_file: str | None = None

    @property
    def authority(self) -> str:
        """``https://login.microsoftonline.com/<tenant>``."""
        return f"{self.authority_host.rstrip('/')}/{self.tenant}"

    def to_json(self) -> dict[str, Any]:
        """What the cache file keeps to refresh later."""
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MicrosoftSettings:
        """Read back `to_json`."""
        fields = {f.name for f in attrs.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})

    def msal_options(self) -> dict[str, Any]:
        """Keyword arguments for msal's application classes."""
        from inboxlink.auth.http import session

        options: dict[str, Any] = {"authority": self.authority,
                                   "http_client": session(self.ca_file)}
        if urlsplit(self.authority_host).hostname != urlsplit(DEFAULT_AUTHORITY_HOST).hostname:
            # A host msal does not know (sovereign cloud mirror, emulator): skip the
            # instance-discovery call to the public cloud that would reject it.
            options["instance_discovery"] = False
        return options

    def consent_url(self, scopes: Sequence[str]) -> str:
        """The tenant's admin-consent link for this app and ``scopes``."""
        from inboxlink.adapters.graph import admin_consent_url

        tenant = None if self.tenant in ("common", "consumers") else self.tenant
        return admin_consent_url(tenant, self.client_id, scopes, authority=self.authority_host)


def _application(settings: MicrosoftSettings, cache: Any) -> msal.PublicClientApplication:
    import msal

    return msal.PublicClientApplication(settings.client_id, token_cache=cache,
                                        **settings.msal_options())


def _boundary(settings: MicrosoftSettings, target: SignInTarget
              ) -> AbstractContextManager[None]:
    return signing_in(graph_table(), microsoft_extract,
                      lambda: settings.consent_url(target.scopes), target.remedy)


def _check(result: dict[str, Any] | None) -> dict[str, Any]:
    if not result or "access_token" not in result:
        raise OAuthFailure.from_result("microsoft", result or {"error": "no_token"})
    return result


def _signed_in_as(result: dict[str, Any]) -> str | None:
    claims = result.get("id_token_claims") or {}
    name = claims.get("preferred_username") or claims.get("email")
    return str(name) if name else None


def login_microsoft(
    target: SignInTarget,
    settings: MicrosoftSettings,
    cache: TokenCacheDir,
    *,
    device_code: bool = False,
    prompt: PromptHandler = print_prompt,
    port: int = 0,
    timeout: float = DEFAULT_TIMEOUT,
) -> MicrosoftCacheTokenProvider:
    """Sign ``target``'s account in interactively and store the tokens in ``cache``.

    The browser flow (authorization code with PKCE) redirects to a loopback listener on
    ``port``; ``device_code=True`` shows a code to enter on any device instead (for
    machines without a browser). ``prompt`` tells the user where to go.
    """
    import msal

    token_cache = msal.SerializableTokenCache()
    with _boundary(settings, target):
        app = _application(settings, token_cache)
        if device_code:
            result = _device_flow(app, target, prompt, timeout)
        else:
            result = _browser_flow(app, target, prompt, port, timeout)
        _check(result)
    who = _signed_in_as(result)
    if who is not None and who.lower() != target.account.lower():
        raise errors.ConfigurationError(
            f"The sign-in was completed as {who}, not {target.account}.",
            provider="microsoft",
            remedy=f"Sign in with {target.account} (choose 'Use another account'), or use "
                   f"the URL of the account you signed in with.")
    document = new_document(target, settings.to_json())
    document["msal"] = json.loads(token_cache.serialize())
    cache.ensure()
    path = cache.path_for(target)
    with cache.locked(path):
        write_document(path, document)
    return MicrosoftCacheTokenProvider(target, path, cache)


def _browser_flow(app: msal.PublicClientApplication, target: SignInTarget,
                  prompt: PromptHandler, port: int, timeout: float) -> dict[str, Any]:
    with LoopbackListener(port) as listener:
        with warnings.catch_warnings():
            # msal recommends response_mode=form_post; a native app's loopback redirect
            # takes the code in the query (RFC 8252 §7.3), protected by PKCE and state.
            warnings.simplefilter("ignore", UserWarning)
            flow = app.initiate_auth_code_flow(list(target.scopes),
                                               redirect_uri=listener.redirect_uri,
                                               login_hint=target.account)
        if "auth_uri" not in flow:
            raise OAuthFailure.from_result("microsoft", flow)
        prompt(Prompt(kind="browser", url=flow["auth_uri"]))
        params = listener.wait(timeout)
    try:
        result: dict[str, Any] = app.acquire_token_by_auth_code_flow(flow, params)
    except ValueError as exc:
        # msal raises ValueError when the redirect's state is not the flow's.
        raise OAuthFailure("microsoft", "state_mismatch", str(exc)) from exc
    return result


def _device_flow(app: msal.PublicClientApplication, target: SignInTarget,
                 prompt: PromptHandler, timeout: float) -> dict[str, Any]:
    flow = app.initiate_device_flow(list(target.scopes))
    if "user_code" not in flow:
        raise OAuthFailure.from_result("microsoft", flow)
    prompt(Prompt(kind="device", url=str(flow.get("verification_uri", "")),
                  user_code=str(flow["user_code"]), message=flow.get("message")))
    # msal polls, honouring authorization_pending and slow_down (interval + 5 s, RFC 8628),
    # until the code's own expiry; ours bounds it as well.
    flow["expires_at"] = min(float(flow.get("expires_at", 0)), time.time() + timeout)
    result: dict[str, Any] = app.acquire_token_by_device_flow(flow)
    return result


class MicrosoftCacheTokenProvider(CacheTokenProvider):
    """Access tokens for one Microsoft account from its cache file (silent refresh)."""

    _app: Any = None
    _msal_cache: Any = None
    _seen_settings: MicrosoftSettings | None = None

    def _settings(self, document: dict[str, Any]) -> MicrosoftSettings:
        return MicrosoftSettings.from_json(dict(document.get("settings") or {}))

    def _extract(self, exc: BaseException, context: None) -> errors.InboxLinkError | Signal | None:
        return microsoft_extract(exc, self._consent_url)

    def _consent_url(self) -> str | None:
        # The settings are those of the document read under the lock in _obtain.
        seen = self._seen_settings
        return seen.consent_url(self.target.scopes) if seen is not None else None

    def _table(self) -> ErrorTable:
        return graph_table()

    def _obtain(self, document: dict[str, Any], rejected: str | None) -> tuple[Issued, bool]:
        import msal

        self._seen_settings = self._settings(document)
        if self._app is None:
            # One application per provider: msal fetches the authority's OpenID
            # configuration when it is built, so building it per token would cost a request.
            self._msal_cache = msal.SerializableTokenCache()
            self._app = _application(self._seen_settings, self._msal_cache)
        self._msal_cache.deserialize(json.dumps(document.get("msal") or {}))
        accounts = self._app.get_accounts(username=self.target.account)
        if not accounts:
            raise OAuthFailure("oauth", NO_SAVED_SIGN_IN,
                               f"no Microsoft account {self.target.account} in the cache")
        scopes = list(self.target.scopes)
        result = self._app.acquire_token_silent_with_error(scopes, accounts[0])
        if result and result.get("access_token") == rejected:
            result = self._app.acquire_token_silent_with_error(scopes, accounts[0],
                                                                force_refresh=True)
        if result is None:
            raise OAuthFailure("oauth", NO_SAVED_SIGN_IN,
                               "the cache holds no refresh token")
        if result.get("token_source") == "identity_provider" or "error" in result:
            self.requests += 1
        _check(result)
        changed = bool(self._msal_cache.has_state_changed)
        if changed:
            document["msal"] = json.loads(self._msal_cache.serialize())
        issued = Issued(result["access_token"], time.time() + float(result.get("expires_in", 0)))
        return issued, changed


class MicrosoftAppTokenProvider:
    """App-only (client-credentials) tokens for ``/users/{id}`` access, via msal.

    Args:
        settings: the app registration (``tenant`` must be the organization's id/domain).
        client_secret: the app's client secret (kept in memory only, never shown).
        scopes: default: Microsoft Graph's ``.default``.
    """

    def __init__(self, settings: MicrosoftSettings, client_secret: str,
                 scopes: Sequence[str] = APP_ONLY_SCOPES["graph"]) -> None:
        self.settings = settings
        self.scopes = list(scopes)
        self.__secret = client_secret
        self._app: Any = None
        self._last: str | None = None
        self.requests = 0

    def __repr__(self) -> str:
        return (f"MicrosoftAppTokenProvider(client_id={self.settings.client_id!r}, "
                f"tenant={self.settings.tenant!r})")

    @contextmanager
    def _boundary(self) -> Iterator[None]:
        remedy = ("Check the app's client id, secret and tenant, and that an administrator "
                  "granted its application permissions.")
        with signing_in(graph_table(), microsoft_extract,
                        lambda: self.settings.consent_url(self.scopes), remedy):
            yield

    def _acquire(self) -> str:
        import msal

        if self._app is None:
            self._app = msal.ConfidentialClientApplication(
                self.settings.client_id, client_credential=self.__secret,
                **self.settings.msal_options())
        result = self._app.acquire_token_for_client(self.scopes)
        if result.get("token_source") == "identity_provider" or "error" in result:
            self.requests += 1
        token = str(_check(result)["access_token"])
        self._last = token
        return token

    def token(self) -> str:
        """A valid app-only token (msal keeps it in memory until it is near expiry)."""
        with self._boundary():
            return self._acquire()

    def refresh(self) -> str:
        """Drop the cached app token and get a new one."""
        with self._boundary():
            if self._app is not None:
                self._app.remove_tokens_for_client()
            return self._acquire()
