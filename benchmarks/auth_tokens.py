"""Token caches: identity-provider requests and time to hand out access tokens.

Against the local Entra ID emulator of tests/auth (real msal over HTTPS on loopback):

1. 1,000 ``token()`` calls after one sign-in (the token stays valid): inboxlink's
   ``CacheTokenProvider`` next to raw msal used the two ways applications commonly do —
   msal's documented persisted-cache pattern (load the cache file, ``acquire_token_silent``,
   save it if changed) per call with one application object, and a new
   ``PublicClientApplication`` per call.
2. Two processes renewing tokens from one shared cache file at the same time (each 8
   renewals; Entra rotates refresh tokens): inboxlink (file lock) next to raw msal's
   persisted-cache pattern on a shared file without a lock. Counts failed renewals.

Run: python benchmarks/auth_tokens.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import httpx  # noqa: E402
import msal  # noqa: E402

from inboxlink import auth  # noqa: E402
from inboxlink.auth.http import session  # noqa: E402
from tests.auth.idp import IdentityProviders  # noqa: E402

URL = "graph://alice@contoso.com"
SCOPES = ["https://graph.microsoft.com/Mail.ReadWrite", "https://graph.microsoft.com/Mail.Send",
          "email"]
CALLS = 1000


def sign_in(idp: IdentityProviders, cache_dir: Path) -> auth.CacheTokenProvider:
    def click(prompt: auth.Prompt) -> None:
        def visit() -> None:
            import ssl

            trust = ssl.create_default_context(cafile=idp.ca_path)
            httpx.get(prompt.url, verify=trust, follow_redirects=True, timeout=10)

        threading.Thread(target=visit, daemon=True).start()

    return auth.login(URL, client_id=idp.client_id, authority_host=idp.base,
                      ca_file=idp.ca_path, cache_dir=cache_dir, prompt=click, timeout=20)


def raw_app(idp: IdentityProviders, cache: Any) -> msal.PublicClientApplication:
    return msal.PublicClientApplication(idp.client_id, authority=f"{idp.base}/organizations",
                                        token_cache=cache, instance_discovery=False,
                                        http_client=session(idp.ca_path))


def msal_file(path: Path, raw: Path) -> None:
    raw.write_text(json.dumps(json.loads(path.read_text())["msal"]))


def counted(idp: IdentityProviders, fn: Any) -> tuple[int, float]:
    before = len(idp.requests) + len(idp.gets)
    start = time.perf_counter()
    fn()
    return len(idp.requests) + len(idp.gets) - before, time.perf_counter() - start


def part_one(idp: IdentityProviders, work: Path) -> None:
    provider_path = sign_in(idp, work / "tokens").path
    raw = work / "raw-msal.json"
    msal_file(provider_path, raw)

    def inboxlink_calls() -> None:
        provider = auth.open_token_cache(URL, work / "tokens")
        for _ in range(CALLS):
            provider.token()

    def persisted_pattern() -> None:
        cache = msal.SerializableTokenCache()
        app = raw_app(idp, cache)
        for _ in range(CALLS):
            cache.deserialize(raw.read_text())
            account = app.get_accounts(username="alice@contoso.com")[0]
            assert app.acquire_token_silent(SCOPES, account)["access_token"]
            if cache.has_state_changed:
                raw.write_text(cache.serialize())

    def app_per_call() -> None:
        for _ in range(CALLS):
            cache = msal.SerializableTokenCache()
            cache.deserialize(raw.read_text())
            app = raw_app(idp, cache)
            account = app.get_accounts(username="alice@contoso.com")[0]
            assert app.acquire_token_silent(SCOPES, account)["access_token"]

    print(f"1. {CALLS} token() calls, token valid throughout")
    print(f"   {'':44} {'IdP requests':>12} {'time':>8}")
    for name, fn in [("inboxlink CacheTokenProvider", inboxlink_calls),
                     ("raw msal, persisted-cache pattern per call", persisted_pattern),
                     ("raw msal, new application per call", app_per_call)]:
        requests, seconds = counted(idp, fn)
        print(f"   {name:44} {requests:>12} {seconds:>7.3f}s")


_INBOXLINK_WORKER = """
import json, sys, time
from pathlib import Path
from inboxlink import auth, errors
url, cache, go, rounds = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
provider = auth.open_token_cache(url, cache)
while not go.exists():
    time.sleep(0.005)
failed = 0
for _ in range(rounds):
    try:
        provider.token()
    except errors.InboxLinkError:
        failed += 1
print(json.dumps({"failed": failed}))
"""

_RAW_WORKER = """
import json, sys, time
from pathlib import Path
import msal
from inboxlink.auth.http import session
raw, go, rounds, base, client_id, ca = (Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]),
                                        sys.argv[4], sys.argv[5], sys.argv[6])
scopes = ["https://graph.microsoft.com/Mail.ReadWrite", "https://graph.microsoft.com/Mail.Send",
          "email"]
cache = msal.SerializableTokenCache()
app = msal.PublicClientApplication(client_id, authority=base + "/organizations",
                                   token_cache=cache, instance_discovery=False,
                                   http_client=session(ca))
while not go.exists():
    time.sleep(0.005)
failed = 0
for _ in range(rounds):
    try:
        cache.deserialize(raw.read_text())
        account = app.get_accounts(username="alice@contoso.com")[0]
    except (ValueError, IndexError):   # read the file while the other process wrote it
        failed += 1
        continue
    result = app.acquire_token_silent_with_error(scopes, account)
    if not result or "access_token" not in result:
        failed += 1                    # invalid_grant: the other process rotated it
    if cache.has_state_changed:
        raw.write_text(cache.serialize())
print(json.dumps({"failed": failed}))
"""


def part_two(idp: IdentityProviders, work: Path, rounds: int = 8) -> None:
    idp.expires_in = 120          # shorter than both libraries' renewal margin (5 min)
    idp.refresh_delay = 0.02
    print(f"2. two processes x {rounds} renewals from one shared cache file (rotating "
          "refresh tokens)")
    print(f"   {'':44} {'refreshes':>9} {'failed':>7}")
    for name in ("inboxlink (file lock)", "raw msal, shared file, no lock"):
        cache_dir = work / name.split()[0] / "tokens"
        path = sign_in(idp, cache_dir).path
        raw = work / f"{name.split()[0]}-raw.json"
        msal_file(path, raw)
        go = work / f"go-{name.split()[0]}"
        if name.startswith("inboxlink"):
            argv = [sys.executable, "-c", _INBOXLINK_WORKER, URL, str(cache_dir), str(go),
                    str(rounds)]
        else:
            argv = [sys.executable, "-c", _RAW_WORKER, str(raw), str(go), str(rounds),
                    idp.base, idp.client_id, idp.ca_path]
        before = len(idp.grants("refresh_token"))
        workers = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=ROOT)
                   for _ in range(2)]
        time.sleep(1.5)
        go.touch()
        failed = sum(json.loads(w.communicate(timeout=120)[0])["failed"] for w in workers)
        refreshes = len(idp.grants("refresh_token")) - before
        print(f"   {name:44} {refreshes:>9} {failed:>7}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        idp = IdentityProviders(work).start()
        try:
            part_one(idp, work)
            part_two(idp, work)
        finally:
            idp.stop()


if __name__ == "__main__":
    main()
