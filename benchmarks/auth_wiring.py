"""Adapters signing in from a token cache: round trips when a token dies mid-session.

Against the local Entra ID emulator of tests/auth (real msal over HTTPS on loopback):

1. IMAP (a real Dovecot whose oauth2 passdb asks the identity provider about each token):
   after the access token expired at the identity provider, open a new connection and
   list INBOX. ``inboxlink.connect(imaps://…, token_cache=…)`` next to raw imapclient + msal
   doing the same by hand (``acquire_token_silent``, ``oauth2_login``, on refusal
   ``force_refresh`` and ``oauth2_login`` again). Counts AUTHENTICATE commands (the
   passdb's introspections) and identity-provider token requests.
2. EWS (the tests' EWS emulator over TLS, checking each bearer with the identity provider):
   20 listings with a valid token, then one listing after the server stopped accepting
   it. ``connect(ews://…, token_cache=…)`` next to raw exchangelib with
   ``OAuth2AuthorizationCodeCredentials`` holding the same token. Counts EWS requests and
   token requests.

Run: python benchmarks/auth_wiring.py   (Dovecot must be installed, as for tests/auth)
"""

from __future__ import annotations

import os
import ssl
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))
os.environ["INBOXLINK_NO_RETRY_WAIT"] = "1"

import httpx  # noqa: E402
import msal  # noqa: E402
import trustme  # noqa: E402

import inboxlink  # noqa: E402
from inboxlink import auth, errors  # noqa: E402
from inboxlink.auth.http import session  # noqa: E402
from inboxlink.retry import RetryPolicy  # noqa: E402
from tests.auth.dovecot_oauth import OAuthDovecot  # noqa: E402
from tests.auth.idp import IdentityProviders  # noqa: E402

IMAP_URL = "imaps://alice%40contoso.com@127.0.0.1"
EWS_URL = "ews://alice@contoso.com"
IMAP_SCOPES = ["https://outlook.office.com/IMAP.AccessAsUser.All",
               "https://outlook.office.com/SMTP.Send", "email"]


def sign_in(idp: IdentityProviders, url: str, cache_dir: Path) -> auth.CacheTokenProvider:
    def click(prompt: auth.Prompt) -> None:
        def visit() -> None:
            trust = ssl.create_default_context(cafile=idp.ca_path)
            httpx.get(prompt.url, verify=trust, follow_redirects=True, timeout=10)

        threading.Thread(target=visit, daemon=True).start()

    return auth.login(url, provider="microsoft", client_id=idp.client_id,
                      authority_host=idp.base, ca_file=idp.ca_path, cache_dir=cache_dir,
                      prompt=click, timeout=20)


def token_requests(idp: IdentityProviders) -> int:
    return len(idp.grants("refresh_token"))


def imap_part(idp: IdentityProviders, work: Path) -> None:
    import json

    import imapclient
    from imapclient.exceptions import LoginError

    dovecot = OAuthDovecot(idp.base, idp.ca_path)
    try:
        trust = ssl.create_default_context(cafile=dovecot.ca_path)
        url = IMAP_URL.replace("127.0.0.1", f"127.0.0.1:{dovecot.port}")

        def with_inboxlink(cache: Path) -> None:
            with inboxlink.connect(url, token_cache=cache, provider="microsoft",
                                   ssl_context=trust, retry=RetryPolicy(max_attempts=1)) as box:
                box.list_messages("INBOX")

        def by_hand(cache: Path) -> None:
            provider_file = next(cache.glob("*.json"))
            msal_cache = msal.SerializableTokenCache()
            msal_cache.deserialize(json.dumps(json.loads(provider_file.read_text())["msal"]))
            app = msal.PublicClientApplication(
                idp.client_id, authority=f"{idp.base}/organizations", token_cache=msal_cache,
                instance_discovery=False, http_client=session(idp.ca_path))
            account = app.get_accounts(username="alice@contoso.com")[0]
            token = app.acquire_token_silent(IMAP_SCOPES, account)["access_token"]
            client = imapclient.IMAPClient("127.0.0.1", port=dovecot.port, ssl=True,
                                           ssl_context=trust, timeout=10)
            try:
                client.oauth2_login("alice@contoso.com", token)
            except LoginError:
                token = app.acquire_token_silent(IMAP_SCOPES, account,
                                                 force_refresh=True)["access_token"]
                client.oauth2_login("alice@contoso.com", token)
            client.select_folder("INBOX", readonly=True)
            client.search("ALL")
            client.logout()

        print("1. IMAP: a new connection after the access token expired at the identity "
              "provider")
        print(f"   {'':40} {'AUTHENTICATE':>12} {'token requests':>14} {'time':>8}")
        for name, run in (("inboxlink connect(token_cache=)", with_inboxlink),
                          ("raw imapclient + msal, by hand", by_hand)):
            cache = work / name.split()[0] / "tokens"
            sign_in(idp, IMAP_URL, cache)
            idp.expire_access_tokens()
            logins, refreshes = idp.introspections, token_requests(idp)
            start = time.perf_counter()
            run(cache)
            print(f"   {name:40} {idp.introspections - logins:>12} "
                  f"{token_requests(idp) - refreshes:>14} {time.perf_counter() - start:>7.3f}s")
    finally:
        dovecot.stop()


class _LiveBearers(dict[str, str]):
    def __init__(self, idp: IdentityProviders) -> None:
        super().__init__()
        self.idp = idp

    def get(self, token: str, default: Any = None) -> Any:  # type: ignore[override]
        with self.idp.lock:
            live = self.idp.access_tokens.get(token, 0.0) > time.time()
        return self.idp.user if live else default


def ews_part(idp: IdentityProviders, work: Path) -> None:
    from exchangelib import DELEGATE, Account, Configuration, FailFast
    from exchangelib.credentials import OAuth2AuthorizationCodeCredentials

    from tests.ews.emulator import EwsEmulator

    ca = trustme.CA()
    bundle = work / "ews-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    os.environ["REQUESTS_CA_BUNDLE"] = str(bundle)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = EwsEmulator(ssl_context=context)
    server.start()
    server.add_user("alice@contoso.com", "unused")
    server.tokens = _LiveBearers(idp)
    try:
        cache = work / "ews" / "tokens"
        tokens = sign_in(idp, EWS_URL, cache)
        print("2. EWS: 20 listings with a valid token, then one after the server stopped "
              "accepting it")
        print(f"   {'':40} {'requests':>8} {'token requests':>14} {'last listing':>22}")

        def measure(name: str, connect: Any, listing: Any) -> None:
            handle = connect()
            before, refreshes = len(server.requests), token_requests(idp)
            for _ in range(20):
                listing(handle)
            valid = len(server.requests) - before
            idp.expire_access_tokens()
            before = len(server.requests)
            try:
                listing(handle)
                outcome = "ok"
            except (errors.InboxLinkError, Exception) as exc:  # raw exchangelib's own error
                outcome = type(exc).__name__
            print(f"   {name:40} {valid:>4} + {len(server.requests) - before:<3}"
                  f"{token_requests(idp) - refreshes:>14} {outcome:>22}")

        measure("inboxlink connect(token_cache=)",
                lambda: inboxlink.connect(EWS_URL, url=server.ews_url, token_cache=cache,
                                          retry=RetryPolicy(max_attempts=1)),
                lambda box: box.list_messages("inbox"))

        def raw_connect() -> Any:
            credentials = OAuth2AuthorizationCodeCredentials(
                access_token={"access_token": tokens.token(), "token_type": "Bearer"})
            config = Configuration(service_endpoint=server.ews_url, credentials=credentials,
                                   auth_type="OAuth 2.0", retry_policy=FailFast())
            return Account("alice@contoso.com", config=config, autodiscover=False,
                           access_type=DELEGATE)

        measure("raw exchangelib, static bearer", raw_connect,
                lambda account: list(account.inbox.all().order_by("-datetime_received")[:50]))
    finally:
        server.stop()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        idp = IdentityProviders(work).start()
        try:
            imap_part(idp, work)
            ews_part(idp, work)
        finally:
            idp.stop()


if __name__ == "__main__":
    main()
