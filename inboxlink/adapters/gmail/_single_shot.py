"""HTTP for Gmail requests that must go out at most once.

httplib2 repeats a request by itself when the server reads it and closes the connection
without answering: ``Http._conn_request`` treats a ``BadStatusLine`` (``RemoteDisconnected``)
on the first try as a stale keep-alive connection and sends the request again on a new one,
*regardless* of ``httplib2.RETRIES``. For ``messages.send`` that is a second message. No
setting turns it off, so sends do not go through httplib2 at all: `SingleShotHttp`
offers the same ``request()`` method on `http.client`, one connection per request,
exactly one attempt, and says which side of the hand-over a failure happened on:

- `RequestNotSent`: the connection or the writing of the request failed, so the server
  cannot have the whole request (safe to retry);
- `AnswerLost`: the whole request was written but no complete answer came back (the
  server may have acted on it: outcome unknown).

googleapiclient calls it through ``google_auth_httplib2.AuthorizedHttp``, which signs the
request (and repeats it only after a 401, which means the server refused it).
"""

from __future__ import annotations

import http.client
import ssl
from typing import Any
from urllib.parse import urlsplit

__all__ = ["MAX_ANSWER", "AnswerLost", "RequestNotSent", "SingleShotHttp"]

#: the largest answer a single-shot request reads (a send answer is a few hundred bytes)
MAX_ANSWER = 1 << 20


class RequestNotSent(ConnectionError):
    """The request never fully reached the server: it cannot have acted on it."""


class AnswerLost(ConnectionError):
    """The request was written in full, but its answer never came (or came incomplete)."""


class SingleShotHttp:
    """An ``httplib2.Http`` stand-in that sends each request exactly once.

    Args:
        timeout: seconds for the connection and for each read.
        ca_certs: CA bundle for ``https`` (httplib2's own default is used when ``None``).
    """

    def __init__(self, timeout: float, ca_certs: str | None = None) -> None:
        self.timeout = timeout
        self._ca_certs = ca_certs
        #: requests written in full (for tests and benchmarks)
        self.requests_sent = 0

    def _connection(self, uri: str) -> tuple[http.client.HTTPConnection, str]:
        parts = urlsplit(uri)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        host = parts.hostname or ""
        if parts.scheme == "https":
            import httplib2

            context = ssl.create_default_context(cafile=self._ca_certs or httplib2.CA_CERTS)
            return http.client.HTTPSConnection(host, parts.port, timeout=self.timeout,
                                               context=context), target
        return http.client.HTTPConnection(host, parts.port, timeout=self.timeout), target

    def request(self, uri: str, method: str = "GET", body: Any = None,
                headers: dict[str, str] | None = None, redirections: int = 0,
                connection_type: Any = None, **kwargs: Any) -> tuple[Any, bytes]:
        """Send once; returns ``(httplib2.Response, content)`` like ``httplib2.Http``."""
        import httplib2

        conn, target = self._connection(uri)
        try:
            try:
                conn.request(method, target, body=body, headers=dict(headers or {}))
            except (OSError, http.client.HTTPException) as exc:
                raise RequestNotSent(f"The request was not sent: {exc!r}") from exc
            self.requests_sent += 1
            try:
                response = conn.getresponse()
                content = response.read(MAX_ANSWER + 1)
            except (OSError, http.client.HTTPException) as exc:
                raise AnswerLost(f"The request was sent but its answer was lost: {exc!r}") \
                    from exc
            if len(content) > MAX_ANSWER:
                raise AnswerLost(f"The answer was larger than {MAX_ANSWER} bytes.")
            return httplib2.Response(response), content
        finally:
            conn.close()
