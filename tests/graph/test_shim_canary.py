"""Canaries: what the Graph adapter relies on in msgraph-sdk, kiota, azure-identity and httpx.

Each test names the assumption and where it is used, so an upgrade that breaks one fails
here, loudly, rather than as a quiet change of behaviour (a retry repeating ``sendMail``, an
error table that no longer matches). `._msgraph_shim` holds the undocumented parts.
"""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
from kiota_abstractions.authentication import AnonymousAuthenticationProvider
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from kiota_http.middleware.options import RetryHandlerOption
from msgraph.graph_request_adapter import GraphRequestAdapter

from inboxlink.adapters.graph import _msgraph_shim
from inboxlink.adapters.graph.errors import _TRANSPORT_CODES


def _fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_msgraph_still_keeps_its_default_middleware_options_in_the_module() -> None:
    # _msgraph_shim.middleware_options copies them; without UrlReplaceHandlerOption every
    # delegated request would go to /users/me-token-to-replace instead of /me.
    options = _msgraph_shim.middleware_options()
    assert "UrlReplaceHandlerOption" in options, (
        "msgraph.graph_request_adapter.options no longer holds the URL-replace option: "
        "update inboxlink/adapters/graph/_msgraph_shim.py")
    retry = options[RetryHandlerOption.get_key()]
    assert isinstance(retry, RetryHandlerOption)
    assert retry.max_retry == 0
    assert retry.should_retry is False


def test_the_client_is_httpx_with_the_timeout_given() -> None:
    client = _msgraph_shim.http_client(7.0)
    try:
        assert isinstance(client, httpx.AsyncClient)
        assert client.timeout.read == 7.0
    finally:
        asyncio.run(client.aclose())


def test_kiota_still_builds_the_native_request_for_a_stream() -> None:
    # GraphSession.stream sends this request itself to read the body in chunks.
    async def build() -> httpx.Request:
        client = _msgraph_shim.http_client(5.0)
        try:
            adapter = GraphRequestAdapter(AnonymousAuthenticationProvider(), client=client)
            adapter.base_url = "https://graph.example/v1.0"
            info = RequestInformation(Method.GET)
            info.url = "https://graph.example/v1.0/me/messages/AAM%3D/$value"
            return await _msgraph_shim.native_request(adapter, info)
        finally:
            await client.aclose()

    request = asyncio.run(build())
    assert isinstance(request, httpx.Request)
    assert request.method == "GET"
    assert str(request.url) == "https://graph.example/v1.0/me/messages/AAM%3D/$value"


def test_kiota_errors_still_carry_what_extract_reads() -> None:
    # errors._signal_from_exception reads these by name, so msgraph need not be imported.
    from kiota_abstractions.api_error import APIError
    from msgraph.generated.models.o_data_errors.inner_error import InnerError
    from msgraph.generated.models.o_data_errors.main_error import MainError
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError

    assert {"message", "response_status_code", "response_headers"} <= _fields(APIError)
    assert "APIError" in {cls.__name__ for cls in ODataError.__mro__}
    assert "error" in _fields(ODataError)
    assert {"code", "message", "inner_error"} <= _fields(MainError)
    assert "request_id" in _fields(InnerError)


def test_azure_identity_errors_still_have_the_names_extract_matches() -> None:
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import AuthenticationRequiredError, CredentialUnavailableError

    for cls in (AuthenticationRequiredError, CredentialUnavailableError):
        assert issubclass(cls, ClientAuthenticationError)
        assert cls.__name__ in {"AuthenticationRequiredError", "CredentialUnavailableError"}


def test_every_transport_row_names_an_httpx_exception() -> None:
    # A renamed httpx class would leave its row dead and its failures on a parent's row.
    for code in _TRANSPORT_CODES:
        cls = getattr(httpx, code, None)
        assert isinstance(cls, type), f"httpx.{code} is gone: update the Graph table"
        assert issubclass(cls, httpx.HTTPError)


def test_msgraph_core_still_wraps_the_pool_where_aclose_looks_for_it() -> None:
    # If msgraph-core moves the pool, `_msgraph_shim.aclose` would silently close nothing.
    client = _msgraph_shim.http_client(5.0)
    pool = client._transport.transport  # type: ignore[attr-defined]
    assert isinstance(pool, httpx.AsyncHTTPTransport)
    assert client._transport is not pool
    asyncio.run(_msgraph_shim.aclose(client))
    assert client.is_closed  # (that open connections close: tests/aio/test_graph_close_…)


def test_every_client_shares_the_one_tls_context() -> None:
    one, two = _msgraph_shim.http_client(5.0), _msgraph_shim.http_client(5.0)
    contexts = {id(c._transport.transport._pool._ssl_context)  # type: ignore[attr-defined]
                for c in (one, two)}
    assert contexts == {id(_msgraph_shim.tls_context())}
