"""The one place the Graph adapter relies on msgraph-sdk / kiota details beyond their
documented request-adapter API.

- `http_client`: msgraph's default middleware options live in the undocumented module
  attribute ``msgraph.graph_request_adapter.options`` (the URL-replace handler that turns
  ``/users/me-token-to-replace`` into ``/me``, and telemetry). The client is built with
  those and with kiota's RetryHandler switched off: inboxlink's one `RetryPolicy` retries
  reads, and ``sendMail`` must never be repeated behind its back.
  The client is inboxlink's own (the settings kiota's default client has: HTTP/2, its
  timeouts) with one TLS context for the whole process: building a context loads the CA
  bundle, tens of milliseconds of CPU that would otherwise run per mailbox and per event
  loop — on the application's loop, for the async face.
- `aclose`: msgraph-core wraps the client's connection pool in an ``AsyncGraphTransport``
  (the ``transport`` attribute) whose ``aclose`` is the base class's no-op, so closing the
  client leaves every connection open; the wrapped pool is closed here too.
- `native_request`: a streamed download needs the ``httpx.Request`` kiota would send;
  ``set_base_url_for_request_information`` is a method of kiota's httpx adapter, not of the
  `RequestAdapter` interface.

``tests/graph/test_shim_canary.py`` fails loudly when a new release changes any of this.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx
from kiota_abstractions.request_information import RequestInformation
from kiota_abstractions.request_option import RequestOption
from kiota_http.httpx_request_adapter import HttpxRequestAdapter
from kiota_http.middleware.options import RetryHandlerOption
from msgraph import graph_request_adapter
from msgraph_core import GraphClientFactory  # type: ignore[import-untyped]

__all__ = ["aclose", "http_client", "middleware_options", "native_request", "tls_context"]


def middleware_options() -> dict[str, RequestOption]:
    """msgraph's default middleware options, with kiota's RetryHandler switched off."""
    defaults: dict[str, RequestOption] = graph_request_adapter.options
    options = dict(defaults)
    options[RetryHandlerOption.get_key()] = RetryHandlerOption(max_retries=0,
                                                               should_retry=False)
    return options


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The process's TLS context for Graph (the system's CA bundle, as httpx builds it)."""
    return httpx.create_ssl_context()


def http_client(timeout: float) -> httpx.AsyncClient:
    """msgraph's middleware pipeline, with `middleware_options`, on an HTTP/2 client that
    shares `tls_context`."""
    own = httpx.AsyncClient(http2=True, verify=tls_context(),
                            timeout=httpx.Timeout(timeout, connect=min(30.0, timeout)))
    client: Any = GraphClientFactory.create_with_default_middleware(
        client=own, options=middleware_options())
    assert isinstance(client, httpx.AsyncClient)
    return client


async def aclose(client: httpx.AsyncClient) -> None:
    """Close ``client`` and the connection pool msgraph-core's transport wraps."""
    await client.aclose()
    inner = getattr(getattr(client, "_transport", None), "transport", None)
    if isinstance(inner, httpx.AsyncBaseTransport):
        await inner.aclose()


async def native_request(adapter: HttpxRequestAdapter,
                         info: RequestInformation) -> httpx.Request:
    """The ``httpx.Request`` ``adapter`` would send for ``info`` (base URL and headers set)."""
    adapter.set_base_url_for_request_information(info)
    native: httpx.Request = await adapter.convert_to_native_async(info)
    return native
