"""Canaries: fail loudly when a client library changes what the Gmail shims rely on."""

from __future__ import annotations

import httplib2

from inboxlink.adapters.gmail import _httplib2_shim

from .emulator import GmailEmulator
from .support import make_mailbox


def test_httplib2_keeps_its_pool_in_connections(emulator: GmailEmulator) -> None:
    http = httplib2.Http(timeout=5)
    assert isinstance(http.connections, dict), "httplib2.Http.connections is gone"
    http.request(emulator.url + "oauth2/v1/certs")
    assert _httplib2_shim.pooled_connections(http) == 1, \
        "httplib2 no longer pools a keep-alive connection in Http.connections"
    _httplib2_shim.close_connections(http)
    assert http.connections == {}


def test_the_mailbox_pool_is_the_one_the_shim_drops(emulator: GmailEmulator) -> None:
    mailbox = make_mailbox(emulator)
    mailbox.folders()
    http = mailbox._conn.http
    assert _httplib2_shim.pooled_connections(http) == 1
    mailbox.close()
    assert _httplib2_shim.pooled_connections(http) == 0
