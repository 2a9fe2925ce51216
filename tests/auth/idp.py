"""Local identity providers on loopback TLS: Microsoft Entra ID (v2.0) and Google OAuth.

One HTTPS server (trustme certificate, like ``tests/graph/entra.py``) answering the wire
formats msal and google-auth-oauthlib speak:

Microsoft (``/<tenant>/…``): OpenID discovery, ``oauth2/v2.0/authorize`` (the user "signs
in" at once and is redirected with a code, or with ``?error=``), ``oauth2/v2.0/devicecode``,
and ``oauth2/v2.0/token`` for ``authorization_code`` (the PKCE ``code_verifier`` is checked
against the S256 ``code_challenge``), ``device_code`` (``authorization_pending`` /
``slow_down`` / ``expired_token`` scripted), ``refresh_token`` (rotated: a redeemed refresh
token is revoked, as Entra may do; a revoked one gets ``invalid_grant`` AADSTS70008) and
``client_credentials``. Errors carry Entra's body (``error``, ``error_description`` with
the AADSTS text, ``error_codes``, ``suberror``, trace ids).

Google (``/o/oauth2/auth``, ``/token``): the installed-app flow with PKCE and refresh;
``invalid_grant`` "Token has been expired or revoked." for a revoked refresh token.

``/resource/me`` is a protected resource answering 200 for a live access token and
Graph's 401 ``InvalidAuthenticationToken`` body otherwise (for the token-provider tests).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import ssl
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import trustme

TRACE = ("Trace ID: 4e1a0b6c-0000-4000-8000-000000000000 Correlation ID: "
         "9f8e7d6c-0000-4000-8000-000000000000 Timestamp: 2026-11-29 23:00:00Z")
TENANT_ID = "72f988bf-0000-4000-8000-000000000000"


def entra_error(error: str, number: int, description: str,
                suberror: str | None = None) -> dict[str, Any]:
    """Entra ID's token-endpoint error body for ``AADSTS<number>``."""
    return {
        "error": error,
        "error_description": f"AADSTS{number}: {description} {TRACE}",
        "error_codes": [number],
        "timestamp": "2026-11-29 23:00:00Z",
        "trace_id": "4e1a0b6c-0000-4000-8000-000000000000",
        "correlation_id": "9f8e7d6c-0000-4000-8000-000000000000",
        "error_uri": f"https://login.microsoftonline.com/error?code={number}",
        **({"suberror": suberror} if suberror else {}),
    }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(claims: dict[str, Any]) -> str:
    # Unsigned ("alg": "none") is enough: neither client verifies id tokens.
    return ".".join((_b64(b'{"alg":"none","typ":"JWT"}'), _b64(json.dumps(claims).encode()),
                     ""))


def _resource_scopes(scope: str) -> str:
    # Entra's token response lists the granted scopes without the reserved OpenID ones.
    return " ".join(s for s in scope.split() if s not in ("offline_access", "openid", "profile"))


def s256(verifier: str) -> str:
    """RFC 7636 S256 code challenge of ``verifier``."""
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


class IdentityProviders:
    """The server; ``user`` is who signs in at the authorize endpoints."""

    def __init__(self, ca_dir: Path, user: str = "alice@contoso.com",
                 client_id: str = "11111111-2222-4333-8444-555555555555",
                 client_secret: str = "app-secret-value") -> None:
        ca = trustme.CA()
        self.ca_path = str(ca_dir / "idp-ca.pem")
        ca.cert_pem.write_to_path(self.ca_path)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self.user = user
        self.client_id = client_id
        self.client_secret = client_secret
        self.lock = threading.Lock()
        self.expires_in = 3599
        self.rotate_refresh_tokens = True
        #: delay before answering a refresh (widens the window two processes race in)
        self.refresh_delay = 0.0
        self.codes: dict[str, dict[str, str]] = {}
        self.refresh_tokens: dict[str, bool] = {}          # token -> still valid
        self.access_tokens: dict[str, float] = {}          # token -> expires at
        self.device_codes: dict[str, dict[str, Any]] = {}
        #: answers for device-code polls, consumed in order; then success
        self.device_script: deque[str] = deque()
        self.device_polls: list[float] = []
        #: errors for the next token requests (any grant), consumed in order
        self.token_errors: deque[dict[str, Any]] = deque()
        #: an ``?error=`` the authorize endpoint redirects with instead of a code
        self.authorize_error: dict[str, str] | None = None
        #: redirect with another state than the client sent (a forged / crossed redirect)
        self.forge_state = False
        self.requests: list[tuple[str, str, dict[str, str]]] = []   # (path, grant, form)
        self.gets: list[str] = []                                     # GET paths
        self.introspections = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.server.idp = self  # type: ignore[attr-defined]
        self.base = f"https://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.02}, daemon=True)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> IdentityProviders:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------ test controls
    def grants(self, grant: str) -> list[dict[str, str]]:
        """Token requests of one grant type, oldest first."""
        return [form for _, g, form in self.requests if g == grant]

    def revoke_refresh_tokens(self) -> None:
        """What a password change or "revoke sessions" does."""
        with self.lock:
            for token in self.refresh_tokens:
                self.refresh_tokens[token] = False

    def expire_access_tokens(self) -> None:
        """Every access token issued so far stops working (a token expiring mid-session)."""
        with self.lock:
            for token in self.access_tokens:
                self.access_tokens[token] = 0.0

    def fail_token(self, body: dict[str, Any]) -> None:
        """Answer the next token request with this error body."""
        self.token_errors.append(body)

    def google_client_secrets(self, path: Path) -> Path:
        """A ``client_secret.json`` ("installed" app) pointing at this server."""
        path.write_text(json.dumps({"installed": {
            "client_id": "123456789012-abc.apps.googleusercontent.com",
            "project_id": "inboxlink-test",
            "auth_uri": f"{self.base}/o/oauth2/auth",
            "token_uri": f"{self.base}/token",
            "auth_provider_x509_cert_url": f"{self.base}/oauth2/v1/certs",
            "client_secret": "GOCSPX-test-client-secret",
            "redirect_uris": ["http://localhost"],
        }}))
        return path

    # ------------------------------------------------------------------ issuing
    def issue(self, scope: str, *, refresh: bool = True, google: bool = False,
              nonce: str | None = None) -> dict[str, Any]:
        access = "at-" + secrets.token_urlsafe(16)
        self.access_tokens[access] = time.time() + self.expires_in
        body: dict[str, Any] = {"token_type": "Bearer", "scope": scope,
                                "expires_in": self.expires_in, "access_token": access}
        if refresh:
            token = "rt-" + secrets.token_urlsafe(16)
            self.refresh_tokens[token] = True
            body["refresh_token"] = token
        if google:
            body["id_token"] = _jwt({"iss": "https://accounts.google.com", "email": self.user,
                                     "sub": "1001", "aud": "client", "exp": time.time() + 3600})
        else:
            body["ext_expires_in"] = self.expires_in
            claims = {"iss": f"{self.base}/{TENANT_ID}/v2.0", "aud": self.client_id,
                      "preferred_username": self.user, "oid": "00000000-0000-0000-0000-00000000a11c",
                      "sub": "sub-alice", "tid": TENANT_ID, "iat": int(time.time()),
                      "exp": int(time.time()) + 3600, "name": "Alice"}
            if nonce:
                claims["nonce"] = nonce
            body["id_token"] = _jwt(claims)
            body["client_info"] = _b64(json.dumps(
                {"uid": "00000000-0000-0000-0000-00000000a11c", "utid": TENANT_ID}).encode())
        return body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def idp(self) -> IdentityProviders:
        return self.server.idp  # type: ignore[attr-defined, no-any-return]

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    # ------------------------------------------------------------------ GET
    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        segments = parts.path.strip("/").split("/")
        with self.idp.lock:
            self.idp.gets.append(parts.path)
        if parts.path == "/resource/me":
            self._resource()
        elif parts.path == "/o/oauth2/auth":
            self._authorize(query, google=True)
        elif parts.path.endswith("/.well-known/openid-configuration"):
            tenant = segments[0]
            base = f"{self.idp.base}/{tenant}"
            self._reply(200, {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "issuer": f"{self.idp.base}/{TENANT_ID}/v2.0",
                "response_types_supported": ["code", "id_token", "code id_token"],
            })
        elif parts.path.endswith("/oauth2/v2.0/authorize"):
            self._authorize(query, google=False)
        else:
            self._reply(404, {"error": "not_found"})

    def _resource(self) -> None:
        auth = self.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ")
        with self.idp.lock:
            alive = self.idp.access_tokens.get(token, 0.0) > time.time()
        if alive:
            self._reply(200, {"mail": self.idp.user})
            return
        self._reply(401, {"error": {
            "code": "InvalidAuthenticationToken",
            "message": "Lifetime validation failed, the token is expired.",
            "innerError": {"date": "2026-11-29T23:00:00", "request-id": "0000-req"}}})

    def _authorize(self, query: dict[str, str], *, google: bool) -> None:
        idp = self.idp
        redirect = query["redirect_uri"]
        state = query.get("state", "")
        if idp.authorize_error is not None:
            self._redirect(f"{redirect}?{urlencode({**idp.authorize_error, 'state': state})}")
            return
        if query.get("response_type") != "code" or query.get("code_challenge_method") != "S256":
            self._reply(400, {"error": "invalid_request",
                              "error_description": "PKCE with S256 is required"})
            return
        code = "code-" + secrets.token_urlsafe(12)
        with idp.lock:
            idp.codes[code] = {"client_id": query["client_id"], "redirect_uri": redirect,
                               "challenge": query["code_challenge"],
                               "scope": query.get("scope", ""), "nonce": query.get("nonce", ""),
                               "google": "1" if google else ""}
        if idp.forge_state:
            state = "forged-" + state
        self._redirect(f"{redirect}?{urlencode({'code': code, 'state': state})}")

    # ------------------------------------------------------------------ POST
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        path = urlsplit(self.path).path
        idp = self.idp
        grant = form.get("grant_type", "devicecode" if path.endswith("/devicecode") else "")
        with idp.lock:
            idp.requests.append((path, grant, form))
        if path.endswith("/devicecode"):
            self._devicecode(form)
            return
        if path == "/introspect":
            self._introspect(form)
            return
        with idp.lock:
            scripted = idp.token_errors.popleft() if idp.token_errors else None
        if scripted is not None:
            self._reply(400, scripted)
            return
        handler = {
            "authorization_code": self._code_grant,
            "refresh_token": self._refresh_grant,
            "urn:ietf:params:oauth:grant-type:device_code": self._device_grant,
            "client_credentials": self._client_grant,
        }.get(grant)
        if handler is None:
            self._reply(400, entra_error("unsupported_grant_type", 70003,
                                         "The app requested an unsupported grant type."))
            return
        handler(form, google=path == "/token")

    def _code_grant(self, form: dict[str, str], *, google: bool) -> None:
        idp = self.idp
        with idp.lock:
            issued = idp.codes.pop(form.get("code", ""), None)
        if issued is None or issued["redirect_uri"] != form.get("redirect_uri"):
            self._error(google, "invalid_grant", 70000,
                        "The provided value for the 'code' parameter is not valid.")
            return
        if s256(form.get("code_verifier", "")) != issued["challenge"]:
            self._error(google, "invalid_grant", 501481,
                        "The Code_Verifier does not match the code_challenge supplied in the "
                        "authorization request.")
            return
        if google and self._client_secret(form) != "GOCSPX-test-client-secret":
            self._reply(401, {"error": "invalid_client", "error_description": "Unauthorized"})
            return
        scope = issued["scope"] if google else _resource_scopes(issued["scope"])
        with idp.lock:
            body = idp.issue(scope, google=google, nonce=issued["nonce"] or None)
        self._reply(200, body)

    def _client_secret(self, form: dict[str, str]) -> str | None:
        # RFC 6749 §2.3.1: HTTP Basic (requests-oauthlib) or the form (google-auth).
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            return base64.b64decode(auth[6:]).decode().partition(":")[2]
        return form.get("client_secret")

    def _refresh_grant(self, form: dict[str, str], *, google: bool) -> None:
        idp = self.idp
        if idp.refresh_delay:
            time.sleep(idp.refresh_delay)
        token = form.get("refresh_token", "")
        if google and self._client_secret(form) != "GOCSPX-test-client-secret":
            self._reply(401, {"error": "invalid_client", "error_description": "Unauthorized"})
            return
        with idp.lock:
            valid = idp.refresh_tokens.get(token, False)
            if valid and not google and idp.rotate_refresh_tokens:
                idp.refresh_tokens[token] = False
        if not valid:
            if google:
                self._reply(400, {"error": "invalid_grant",
                                  "error_description": "Token has been expired or revoked."})
            else:
                self._reply(400, entra_error(
                    "invalid_grant", 70008, "The provided authorization code or refresh token "
                    "has expired due to inactivity. Send a new interactive authorization "
                    "request for this user and resource."))
            return
        scope = form.get("scope", "") if google else _resource_scopes(form.get("scope", ""))
        with idp.lock:
            body = idp.issue(scope, refresh=not google, google=False)
        if google:
            body.pop("id_token", None)
            body.pop("client_info", None)
            body.pop("ext_expires_in", None)
        self._reply(200, body)

    def _introspect(self, form: dict[str, str]) -> None:
        # RFC 7662 token introspection, as Dovecot's oauth2 passdb asks it.
        idp = self.idp
        with idp.lock:
            alive = idp.access_tokens.get(form.get("token", ""), 0.0) > time.time()
            idp.introspections += 1
        self._reply(200, {"active": True, "email": idp.user, "scope": "IMAP.AccessAsUser.All"}
                    if alive else {"active": False})

    def _devicecode(self, form: dict[str, str]) -> None:
        idp = self.idp
        device = "dc-" + secrets.token_urlsafe(12)
        user_code = secrets.token_hex(4).upper()
        with idp.lock:
            idp.device_codes[device] = {"scope": form.get("scope", ""), "user_code": user_code}
        self._reply(200, {
            "device_code": device, "user_code": user_code,
            "verification_uri": "https://microsoft.com/devicelogin",
            "expires_in": 900, "interval": 1,
            "message": f"To sign in, use a web browser to open the page "
                       f"https://microsoft.com/devicelogin and enter the code {user_code} to "
                       f"authenticate.",
        })

    def _device_grant(self, form: dict[str, str], *, google: bool) -> None:
        idp = self.idp
        with idp.lock:
            idp.device_polls.append(time.monotonic())
            known = idp.device_codes.get(form.get("device_code", ""))
            step = idp.device_script.popleft() if idp.device_script else "ok"
        if known is None:
            self._reply(400, entra_error("invalid_grant", 70000, "The device code is invalid."))
            return
        descriptions = {
            "authorization_pending": (70016, "OAuth 2.0 device flow error. Authorization is "
                                             "pending. Continue polling."),
            "slow_down": (70016, "OAuth 2.0 device flow error. Polling too fast, slow down."),
            "expired_token": (70020, "The provided value for the input parameter "
                                     "'device_code' is not valid. Device codes are valid for "
                                     "15 minutes."),
        }
        if step != "ok":
            number, text = descriptions[step]
            self._reply(400, entra_error(step, number, text))
            return
        scope = _resource_scopes(known["scope"])
        with idp.lock:
            body = idp.issue(scope)
        self._reply(200, body)

    def _client_grant(self, form: dict[str, str], *, google: bool) -> None:
        idp = self.idp
        if form.get("client_secret") != idp.client_secret:
            self._reply(401, entra_error(
                "invalid_client", 7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request "
                "is the client secret value, not the client secret ID."))
            return
        with idp.lock:
            body = idp.issue(form.get("scope", ""), refresh=False)
        for key in ("id_token", "client_info"):
            body.pop(key, None)
        self._reply(200, body)

    def _error(self, google: bool, error: str, number: int, text: str) -> None:
        if google:
            self._reply(400, {"error": error, "error_description": text})
        else:
            self._reply(400, entra_error(error, number, text))
