"""The whole conformance suite through the async face (`inboxlink.aio`) on the Graph emulator:
every test class of `test_conformance` again (`conformance.aio.async_twins`); its calls run
natively on the proxy's event loop (`inboxlink.aio.native`), with the same results."""

from __future__ import annotations

from typing import Any

from inboxlink.testing.conformance.aio import async_twins

from . import test_conformance
from .test_conformance import GraphFixtures

globals().update(async_twins(test_conformance))


class TestGraphAsyncIsNative(GraphFixtures):
    """The twins check Graph's native face, not the threaded one."""

    def test_the_async_face_of_graph_is_native(self, reconnect: Any) -> None:
        from inboxlink import aio
        from inboxlink.aio.native import NativeAsyncMailbox

        face = aio.wrap(reconnect())
        assert isinstance(face, NativeAsyncMailbox)
        assert face.sync.async_native
