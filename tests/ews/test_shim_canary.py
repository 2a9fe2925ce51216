"""Canaries for ``inboxlink/adapters/ews/_exchangelib_shim.py``: each test pins one thing the
shim relies on in exchangelib's internals, so an exchangelib upgrade that changes it fails
here, by name, instead of somewhere deep in a listing or a send."""

from __future__ import annotations

import inspect
import io
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from exchangelib import Configuration, Credentials, services
from exchangelib import util as exchangelib_util
from exchangelib.credentials import OAuth2AuthorizationCodeCredentials
from exchangelib.items import Message as EwsMessage
from exchangelib.protocol import Protocol, RetryPolicy
from exchangelib.services.common import EWSAccountService, EWSService
from exchangelib.util import (
    TNS,
    DummyResponse,
    ElementNotFound,
    StreamingBase64Parser,
    StreamingContentHandler,
)
from exchangelib.version import Build, Version
from lxml import etree

from inboxlink.adapters.ews import _exchangelib_shim as shim
from inboxlink.adapters.ews.convert import FLAG_STATUS

SOAP = (b'<?xml version="1.0" encoding="utf-8"?>'
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
        b"<s:Header/><s:Body><m:GetItemResponse "
        b'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"/>'
        b"</s:Body></s:Envelope>")


def _params(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


# ---------------------------------------------------------------------------- private hooks
#: (class, hook, the parameters the shim's override or call passes)
HOOKS = [
    (EWSService, "_handle_backoff", ["self", "e"]),                  # CreateItemOnce
    (EWSService, "_update_api_version", ["self", "api_version", "header"]),  # streaming MIME
    (EWSService, "_get_soap_parts", ["response"]),                  # ChunkedParse (classmethod)
    (EWSService, "_get_soap_messages", ["self", "body"]),
    (EWSService, "_get_response_xml", ["self", "payload"]),
    (EWSService, "_get_elements_in_response", ["self", "response"]),
    (EWSService, "_get_element_container", ["self", "message", "name"]),  # SyncItemIds
    (EWSService, "stop_streaming", ["self"]),
    (EWSAccountService, "_get_element_container", ["self", "message", "name"]),
    (services.FindItem, "_elem_to_obj", ["self", "elem"]),          # FindItemRows
    (services.GetItem, "_elem_to_obj", ["self", "elem"]),           # GetItemRows, attachments
    (services.SyncFolderItems, "_elem_to_obj", ["self", "elem"]),   # SyncItemIds
    (services.FindItem, "_get_paging_values", ["elem"]),            # FindItemRows (static)
    (services.GetItem, "get_payload", ["self", "items", "additional_fields", "shape"]),
]


@pytest.mark.parametrize(("cls", "name", "params"), HOOKS,
                         ids=[f"{c.__name__}.{n}" for c, n, _ in HOOKS])
def test_private_hook_keeps_its_signature(cls: type, name: str, params: list[str]) -> None:
    hook = getattr(cls, name, None)
    assert hook is not None, f"exchangelib {cls.__name__} lost {name}: the EWS shim needs it"
    assert _params(hook) == params, f"exchangelib changed {cls.__name__}.{name}"


def test_every_resend_goes_through_handle_backoff() -> None:
    # CreateItemOnce stops exchangelib's re-sends by raising in _handle_backoff: that only
    # holds while the request loop calls it before every repetition.
    source = inspect.getsource(EWSService._get_elements)
    assert source.count("self._handle_backoff(") >= 2


def test_sync_folder_items_keeps_its_state_attributes() -> None:
    source = inspect.getsource(services.SyncFolderItems) + inspect.getsource(
        services.SyncFolderItems.__mro__[1])
    assert "self.sync_state" in source
    assert "includes_last_item_in_range" in source


# ---------------------------------------------------------------------------- chunked parsing
class _Recording(requests.Response):
    def __init__(self, body: bytes) -> None:
        super().__init__()
        self._content = body
        self._content_consumed = True
        self.status_code = 200
        self.sizes: list[int] = []

    def iter_content(self, chunk_size: int | None = 1,
                     decode_unicode: bool = False) -> Iterator[Any]:
        self.sizes.append(chunk_size or 0)
        return super().iter_content(chunk_size, decode_unicode)


def test_exchangelib_still_reads_responses_one_byte_at_a_time() -> None:
    # The reason ChunkedParse exists. If this fails, exchangelib reads in chunks itself and
    # ChunkedParse can go.
    response = _Recording(SOAP)
    _header, body = services.GetItem._get_soap_parts(response)
    assert body is not None
    assert response.sizes == [1]


def test_chunked_parse_feeds_exchangelibs_parser_64k_chunks() -> None:
    response = _Recording(SOAP)
    _header, body = shim.GetItemRows._get_soap_parts(response)
    assert body is not None
    assert body.tag.endswith("Body")
    assert response.sizes == [shim.CHUNK]


# ---------------------------------------------------------------------------- paging values
def test_paging_values_are_item_count_and_next_offset() -> None:
    elem = etree.fromstring(f'<m:RootFolder xmlns:m="{TNS}" IndexedPagingOffset="100" '
                            'TotalItemsInView="250" IncludesLastItemInRange="false"/>')
    assert services.FindItem._get_paging_values(elem) == (250, 100)


# ---------------------------------------------------------------------------- streaming MIME
class _Raw:
    """What the streaming parser reads: a response's ``raw`` stream."""

    def __init__(self, body: bytes) -> None:
        self.raw = io.BytesIO(body)


def test_streaming_base64_parser_decodes_one_element() -> None:
    doc = (f'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="{TNS}">'
           "<s:Body><t:MimeContent>aGVsbG8gd29ybGQ=</t:MimeContent></s:Body></s:Envelope>")
    parser = StreamingBase64Parser()
    parser.setContentHandler(
        StreamingContentHandler(parser=parser, ns=TNS, element_name="MimeContent"))
    decoded = b"".join(parser.parse(_Raw(doc.encode())))
    assert decoded == b"hello world"


def test_streaming_parser_reports_a_missing_element_with_the_document() -> None:
    doc = b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>'
    parser = StreamingBase64Parser()
    parser.setContentHandler(
        StreamingContentHandler(parser=parser, ns=TNS, element_name="MimeContent"))
    with pytest.raises(ElementNotFound) as info:
        list(parser.parse(_Raw(doc)))
    # StreamingMimeGetItem re-parses the document as an ordinary answer to raise its error
    assert DummyResponse(content=info.value.data).iter_content() == doc


# ---------------------------------------------------------------------------- schema subclasses
def test_extended_property_fields_go_into_subclasses_only() -> None:
    names = [f.name for f in shim.FlaggableMessage.FIELDS]
    assert names[names.index("has_attachments") + 1] == "flag_status"
    assert "message_flags" in [f.name for f in shim.SentCopyMessage.FIELDS]
    # exchangelib's own Message is untouched (no Message.register)
    assert "flag_status" not in [f.name for f in EwsMessage.FIELDS]
    assert "message_flags" not in [f.name for f in EwsMessage.FIELDS]


def test_schema_subclasses_serialise_their_property() -> None:
    version = Version(build=Build(15, 0))
    copy = shim.SentCopyMessage(mime_content=b"x", message_flags=shim.MSGFLAG_READ)
    xml = copy.to_xml(version=version)
    tags = [int(uri.get("PropertyTag"), 0) for uri in xml.iter(f"{{{TNS}}}ExtendedFieldURI")]
    assert tags == [0x0E07]
    path = shim.flag_path()
    assert int(path.to_xml().get("PropertyTag"), 0) == FLAG_STATUS


# ---------------------------------------------------------------------------- protocol cache
def test_protocol_cache_is_keyed_by_config_and_can_forget() -> None:
    config = Configuration(service_endpoint="https://127.0.0.1:9/EWS/Exchange.asmx",
                           credentials=Credentials("canary", "not-a-secret"),
                           auth_type="basic", version=Version(build=Build(15, 0)))
    with pytest.raises(KeyError):
        Protocol[config]
    protocol = Protocol(config=config)
    try:
        cached, _ = Protocol[config]
        assert cached is protocol
        shim.forget_protocol(config, only=object())  # another protocol: kept
        assert Protocol[config][0] is protocol
        shim.forget_protocol(config, only=protocol)
        with pytest.raises(KeyError):
            Protocol[config]
    finally:
        protocol.close()
        shim.forget_protocol(config)


# ---------------------------------------------------------------------------- streaming socket
def test_streaming_response_attribute_and_its_socket() -> None:
    # watch() wakes a blocked GetStreamingEvents reader by shutting down this socket.
    assert "self._streaming_response" in inspect.getsource(EWSService)

    class Slow(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # kept open, as Exchange's streaming connection is

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "10")
            self.end_headers()
            self.wfile.write(b"12345")
            self.wfile.flush()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        response = requests.get(f"http://127.0.0.1:{server.server_port}/", stream=True,
                                timeout=5)

        class Holder:
            _streaming_response = response

        sock = shim.streaming_socket(Holder())
        assert isinstance(sock, socket.socket)
        response.close()
        assert shim.streaming_socket(object()) is None
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------------------- other modules
#: exchangelib methods connection.py (budget) and _oauth.py override, with their parameters
OVERRIDDEN = [
    (Protocol, "get_session", ["self"]),
    (Protocol, "release_session", ["self", "session"]),
    (RetryPolicy, "raise_response_errors", ["self", "response"]),
    (OAuth2AuthorizationCodeCredentials, "refresh", ["self", "session"]),
]


@pytest.mark.parametrize(("cls", "name", "params"), OVERRIDDEN,
                         ids=[f"{c.__name__}.{n}" for c, n, _ in OVERRIDDEN])
def test_overridden_methods_keep_their_signature(cls: type, name: str,
                                                 params: list[str]) -> None:
    assert _params(getattr(cls, name)) == params


def test_an_expired_token_is_refreshed_through_the_credentials() -> None:
    # _oauth.refreshing turns a 401 into TokenExpiredError, which exchangelib answers by
    # refreshing the session's credentials and repeating the request.
    source = inspect.getsource(exchangelib_util.post_ratelimited)
    assert "TokenExpiredError" in source
    assert "refresh_credentials(session)" in source
    assert "credentials.refresh(" in inspect.getsource(Protocol.refresh_credentials)
