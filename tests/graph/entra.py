"""A local Microsoft Entra ID token endpoint (HTTPS on 127.0.0.1, trustme certificate).

Enough of the v2.0 endpoint for azure-identity/MSAL's client-credentials flow: OpenID
discovery and ``/oauth2/v2.0/token``, answering tokens or the documented error body
(``error``, ``error_description`` with the AADSTS text, ``error_codes``, ``suberror``).
azure-identity accepts only https authorities, hence TLS.
"""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme


class EntraEmulator:
    """Token endpoint; ``fail_with`` sets the error body of the next token requests."""

    def __init__(self, ca_dir: Path, token: str) -> None:
        ca = trustme.CA()
        self.ca_path = str(ca_dir / "entra-ca.pem")
        ca.cert_pem.write_to_path(self.ca_path)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        self.token = token
        self.error: dict[str, Any] | None = None
        self.token_requests: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.server.entra = self  # type: ignore[attr-defined]
        self.authority = f"https://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.02}, daemon=True)

    def start(self) -> EntraEmulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_with(self, error: str, number: int, description: str,
                  suberror: str | None = None) -> None:
        """Answer token requests with Entra's error body for ``AADSTS<number>``."""
        self.error = {
            "error": error,
            "error_description": f"AADSTS{number}: {description} Trace ID: "
                                 "4e1a0b6c-0000-4000-8000-000000000000 Correlation ID: "
                                 "9f8e7d6c-0000-4000-8000-000000000000 Timestamp: "
                                 "2026-11-25 02:00:00Z",
            "error_codes": [number],
            "timestamp": "2026-11-25 02:00:00Z",
            "trace_id": "4e1a0b6c-0000-4000-8000-000000000000",
            "correlation_id": "9f8e7d6c-0000-4000-8000-000000000000",
            "error_uri": f"https://login.microsoftonline.com/error?code={number}",
            **({"suberror": suberror} if suberror else {}),
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        entra: EntraEmulator = self.server.entra  # type: ignore[attr-defined]
        tenant = self.path.split("/")[1]
        base = f"{entra.authority}/{tenant}"
        self._reply(200, {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "issuer": f"{base}/v2.0",
        })

    def do_POST(self) -> None:
        entra: EntraEmulator = self.server.entra  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        entra.token_requests.append(self.rfile.read(length).decode())
        if entra.error is not None:
            status = 429 if entra.error["error"] == "temporarily_unavailable" else 400
            self._reply(status, entra.error)
            return
        self._reply(200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                          "access_token": entra.token})
