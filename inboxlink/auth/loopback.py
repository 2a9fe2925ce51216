"""The loopback redirect listener and how a sign-in shows the user where to go.

Microsoft's authorization-code flow ends with the browser being redirected to
``http://localhost:<port>/?code=…&state=…``; `LoopbackListener` binds that port on
127.0.0.1 before the sign-in starts (so the redirect URI names a port that is really ours),
serves exactly the redirect, answers the browser with a short page, and hands the query
parameters to msal. Google's flow uses google-auth-oauthlib's own listener
(``run_local_server``); both show the user the sign-in through a `PromptHandler`.
"""

from __future__ import annotations

import sys
import threading
import webbrowser
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import attrs

from inboxlink import errors

__all__ = ["LoopbackListener", "Prompt", "PromptHandler", "browser_prompt", "print_prompt"]

_PAGE = (b"<!doctype html><meta charset=utf-8><title>inboxlink</title>"
         b"<p>Sign-in finished. You can close this window and return to the application.")


@attrs.frozen
class Prompt:
    """What the user must do to sign in.

    Args:
        kind: ``"browser"`` (open ``url``) or ``"device"`` (open ``url`` on any device and
            enter ``user_code``).
        url: the authorization URL, or the device-code verification URL.
        user_code: the code to type (device flow only).
        message: the identity provider's own instructions, when it sent some.
    """

    kind: Literal["browser", "device"]
    url: str
    user_code: str | None = None
    message: str | None = None


#: called once a sign-in needs the user; a test "clicks" the URL with an HTTP client
PromptHandler = Callable[[Prompt], None]


def print_prompt(prompt: Prompt) -> None:
    """Tell the user where to sign in, on stderr (stdout stays free for data)."""
    if prompt.kind == "device":
        text = prompt.message or (f"To sign in, open {prompt.url} and enter the code "
                                  f"{prompt.user_code}.")
    else:
        text = f"To sign in, open this address in a browser:\n  {prompt.url}"
    print(text, file=sys.stderr, flush=True)


def browser_prompt(prompt: Prompt) -> None:
    """Print the prompt and open a browser window for a browser sign-in."""
    print_prompt(prompt)
    if prompt.kind == "browser":
        webbrowser.open(prompt.url, new=1)


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        # The request line carries the authorization code: never log it.
        pass

    def do_GET(self) -> None:
        listener: LoopbackListener = self.server.listener  # type: ignore[attr-defined]
        params = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        if not ({"code", "error"} & params.keys()):
            # A browser's favicon or a stray request: not the redirect.
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(_PAGE)))
        self.end_headers()
        self.wfile.write(_PAGE)
        listener.params = params


class LoopbackListener:
    """One-shot HTTP listener for the authorization redirect on 127.0.0.1.

    Args:
        port: the port to bind (0: any free port; the redirect URI names it).
        host_name: the host written in the redirect URI (``localhost`` is what Entra ID
            and Google accept for any port).
    """

    def __init__(self, port: int = 0, host_name: str = "localhost") -> None:
        try:
            self._server = HTTPServer(("127.0.0.1", port), _Handler)
        except OSError as exc:
            raise errors.ConfigurationError(
                f"Port {port} on 127.0.0.1 is not free for the sign-in redirect.",
                remedy="Choose another port, or leave it out to use any free one.") from exc
        self._server.listener = self  # type: ignore[attr-defined]
        self.params: dict[str, str] | None = None
        self.redirect_uri = f"http://{host_name}:{self._server.server_address[1]}"

    def wait(self, timeout: float) -> dict[str, str]:
        """Serve until the redirect arrives; its query parameters. Bounded by ``timeout``."""
        deadline = threading.Event()
        timer = threading.Timer(timeout, deadline.set)
        timer.daemon = True
        timer.start()
        self._server.timeout = 0.2
        try:
            while self.params is None and not deadline.is_set():
                self._server.handle_request()
        finally:
            timer.cancel()
        if self.params is None:
            raise errors.InteractionRequired(
                f"The browser sign-in did not come back within {timeout:.0f} s.",
                code="timeout",
                remedy="Open the sign-in address in a browser on this machine and finish "
                       "the sign-in, or use --device-code on a machine without a browser.")
        return self.params

    def close(self) -> None:
        """Release the port."""
        self._server.server_close()

    def __enter__(self) -> LoopbackListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
