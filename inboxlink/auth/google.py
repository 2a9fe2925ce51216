"""Google sign-in through google-auth-oauthlib (installed-app flow) and refresh via google-auth.

The OAuth client comes from the ``client_secret.json`` downloaded from the Google Cloud
console ("Desktop app" client); ``InstalledAppFlow.run_local_server`` listens on a loopback
port, PKCE included. The cache file keeps google-auth's authorized-user JSON
(``Credentials.to_json()``), which ``Credentials.from_authorized_user_info`` reads back.

Service accounts with domain-wide delegation stay configured the one way the Gmail adapter
already takes them (``credentials=`` with a service-account ``Credentials``): they need no
sign-in and no cache.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import webbrowser
from typing import Any

from inboxlink import errors
from inboxlink.auth.cache import TokenCacheDir, write_document
from inboxlink.auth.errors import (
    NO_SAVED_SIGN_IN,
    OAuthFailure,
    gmail_table,
    google_extract,
    signing_in,
)
from inboxlink.auth.http import session, trust
from inboxlink.auth.loopback import Prompt, PromptHandler, print_prompt
from inboxlink.auth.store import CacheTokenProvider, Issued, new_document
from inboxlink.auth.targets import SignInTarget
from inboxlink.translate import ErrorTable, Signal

__all__ = ["GoogleCacheTokenProvider", "login_google"]

DEFAULT_TIMEOUT = 300.0
# run_local_server opens "the browser" through the webbrowser module; registering our own
# browser under this name is how the URL reaches a PromptHandler instead of a real window.
_BROWSER_NAME = "inboxlink-prompt"
_BROWSER_LOCK = threading.Lock()


class _PromptBrowser(webbrowser.BaseBrowser):
    def __init__(self, prompt: PromptHandler) -> None:
        super().__init__(_BROWSER_NAME)
        self._prompt = prompt

    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        self._prompt(Prompt(kind="browser", url=url))
        return True


def _email(id_token: str | None) -> str | None:
    # Read (not verified: it came straight from the token endpoint over TLS) to check that
    # the user signed in with the account the URL names.
    if not id_token or id_token.count(".") != 2:
        return None
    payload = id_token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    email = claims.get("email") if isinstance(claims, dict) else None
    return str(email) if email else None


def login_google(
    target: SignInTarget,
    client_secrets: str,
    cache: TokenCacheDir,
    *,
    prompt: PromptHandler = print_prompt,
    port: int = 0,
    timeout: float = DEFAULT_TIMEOUT,
    ca_file: str | None = None,
) -> GoogleCacheTokenProvider:
    """Sign ``target``'s Google account in with the installed-app flow; store the tokens.

    Args:
        client_secrets: the OAuth client's ``client_secret.json`` (type "Desktop app").
        prompt: shown the authorization URL (the browser step).
        port: the loopback port (0: any free one).
        ca_file: CAs to trust for Google's endpoints (corporate proxies, tests).
    """
    from google_auth_oauthlib.flow import InstalledAppFlow

    with signing_in(gmail_table(), google_extract, None, target.remedy):
        try:
            flow = InstalledAppFlow.from_client_secrets_file(client_secrets,
                                                             scopes=list(target.scopes))
        except (OSError, ValueError) as exc:
            raise errors.ConfigurationError(
                f"The OAuth client file cannot be used: {exc}", provider="google",
                remedy="Download the 'Desktop app' OAuth client JSON from the Google Cloud "
                       "console (APIs & Services > Credentials) and pass it with "
                       "--client-secrets.") from exc
        trust(flow.oauth2session, ca_file)
        with _BROWSER_LOCK:
            webbrowser.register(_BROWSER_NAME, None, _PromptBrowser(prompt))
            credentials = flow.run_local_server(
                host="localhost", bind_addr="127.0.0.1", port=port, open_browser=True,
                browser=_BROWSER_NAME, authorization_prompt_message="",
                timeout_seconds=int(timeout), login_hint=target.account,
                access_type="offline", prompt="consent")
    who = _email(getattr(credentials, "id_token", None))
    if who is not None and who.lower() != target.account.lower():
        raise errors.ConfigurationError(
            f"The sign-in was completed as {who}, not {target.account}.", provider="google",
            remedy=f"Sign in with {target.account}, or use the URL of the account you "
                   f"signed in with.")
    if not credentials.refresh_token:
        raise errors.ReauthorizationRequired(
            "Google issued no refresh token, so the sign-in could not be kept.",
            provider="google",
            remedy=f"Remove the app's access at myaccount.google.com/permissions. "
                   f"{target.remedy}")
    document = new_document(target, {"ca_file": ca_file})
    document["google"] = json.loads(credentials.to_json())
    path = cache.path_for(target)
    with cache.locked(path):
        write_document(path, document)
    return GoogleCacheTokenProvider(target, path, cache)


class GoogleCacheTokenProvider(CacheTokenProvider):
    """Access tokens for one Google account from its cache file (silent refresh)."""

    def _extract(self, exc: BaseException, context: None) -> errors.InboxLinkError | Signal | None:
        return google_extract(exc)

    def _table(self) -> ErrorTable:
        return gmail_table()

    def _obtain(self, document: dict[str, Any], rejected: str | None) -> tuple[Issued, bool]:
        from google.auth.transport.requests import Request
        from google.oauth2.credentials import Credentials

        info = document.get("google")
        if not isinstance(info, dict) or not info.get("refresh_token"):
            raise OAuthFailure("oauth", NO_SAVED_SIGN_IN,
                               f"no Google refresh token for {self.target.account}")
        credentials = Credentials.from_authorized_user_info(info)  # type: ignore[no-untyped-call]
        if info.get("token_uri") and info["token_uri"] != credentials.token_uri:
            # google-auth always resets token_uri to Google's; the file is the user's own
            # (0600) and keeps the endpoint the sign-in used (a private or test endpoint).
            # (with_token_uri's copy drops the expiry: carry it over.)
            expiry = credentials.expiry
            credentials = credentials.with_token_uri(info["token_uri"])
            credentials.expiry = expiry
        stored = Issued(credentials.token, _epoch(credentials.expiry)) if credentials.token \
            else None
        if stored is not None and stored.fresh() and stored.token != rejected:
            return stored, False
        self.requests += 1
        settings = document.get("settings") or {}
        credentials.refresh(Request(session(settings.get("ca_file"))))
        document["google"] = json.loads(credentials.to_json())
        return Issued(credentials.token, _epoch(credentials.expiry)), True


def _epoch(expiry: Any) -> float:
    # google-auth keeps expiry as a naive UTC datetime.
    if expiry is None:
        return time.time() + 3000.0
    import calendar

    return float(calendar.timegm(expiry.timetuple()))
