"""The one HTTP session msal and google-auth talk through: pinned trust and a timeout.

requests lets ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` override a session's ``verify``
(the environment wins whenever a request does not name ``verify`` itself, and msal's and
requests-oauthlib's requests do not), so a CA file given to inboxlink would be silently
ignored on machines that set those variables. `_TrustAdapter` applies the CA file
at the transport instead, where the environment cannot reach, and bounds every request
with a timeout (requests has none by default).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import requests
    import requests.adapters

__all__ = ["DEFAULT_TIMEOUT", "session", "trust"]

#: seconds a sign-in server may take to answer one request
DEFAULT_TIMEOUT = 30.0


def _adapter(ca_file: str | None) -> requests.adapters.HTTPAdapter:
    from requests.adapters import HTTPAdapter

    class _TrustAdapter(HTTPAdapter):
        def send(self, request: requests.PreparedRequest, stream: bool = False,
                 timeout: float | tuple[float | None, float | None] | None = None,
                 verify: bool | str = True, cert: str | tuple[str, str] | None = None,
                 proxies: dict[str, str] | None = None) -> requests.Response:
            return super().send(request, stream=stream,
                                timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
                                verify=ca_file or verify, cert=cert, proxies=proxies)

    return _TrustAdapter()


def trust(target: requests.Session, ca_file: str | None) -> requests.Session:
    """Make ``target`` verify HTTPS against ``ca_file`` (if given) and time out."""
    target.mount("https://", _adapter(ca_file))
    target.mount("http://", _adapter(None))
    return target


def session(ca_file: str | None) -> requests.Session:
    """A new requests session trusting ``ca_file`` (system CAs when ``None``)."""
    import requests

    return trust(requests.Session(), ca_file)
