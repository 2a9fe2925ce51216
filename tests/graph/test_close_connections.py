"""Closing a Graph mailbox closes its HTTP connections (both faces).

Found by benchmarks/aio_graph.py under ``python -X dev``: after ``close()``/``aclose()`` every
connection the mailbox opened was left open, and garbage collection later finds them
(``ResourceWarning: unclosed <socket.socket …>`` / ``unclosed transport``), one per
connection. `GraphSession.aclose` closes the httpx client, whose transport msgraph-core
(1.5.2) replaced with its ``AsyncGraphTransport``; that class defines no ``aclose``, so the
call stops there and the real connection pool it wraps is never closed (kiota-python had the
same bug in ``AsyncKiotaTransport``, microsoft/kiota-python#494, fixed there).
`_msgraph_shim.aclose` closes the wrapped pool too (its canary is in
``tests/graph/test_shim_canary.py``).
"""

from __future__ import annotations

import gc
import warnings

import pytest

from inboxlink import aio
from inboxlink.adapters.graph import GraphMailbox, GraphSettings
from inboxlink.testing.conformance import make_message

from .emulator import GraphEmulator


def mailbox(emu: GraphEmulator) -> GraphMailbox:
    return GraphMailbox(GraphSettings(address=emu.address, access_token=emu.token,
                                      base_url=emu.base_url))


def unclosed_found() -> list[str]:
    """The ResourceWarnings of what garbage collection finds left open."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    return [str(w.message) for w in seen if issubclass(w.category, ResourceWarning)]


def test_closing_the_sync_face_closes_its_connections(emulator: GraphEmulator) -> None:
    box = mailbox(emulator)
    box.fetch(emulator.deliver(make_message(1)))
    assert emulator.count("POST", r"/\$batch$") == 1
    gc.collect()  # nothing of before the close is counted
    box.close()
    assert unclosed_found() == []


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_closing_the_native_face_closes_its_connections(
        emulator: GraphEmulator, anyio_backend: str) -> None:
    face = aio.wrap(mailbox(emulator))
    await face.fetch(emulator.deliver(make_message(1)))
    assert emulator.count("POST", r"/\$batch$") == 1
    gc.collect()
    await face.aclose()
    assert unclosed_found() == []
