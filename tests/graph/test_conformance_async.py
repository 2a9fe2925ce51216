"""The conformance suite through the async face (`inboxlink.aio`) of the Graph fixtures:
calls run natively on the proxy's event loop (`inboxlink.aio.native`), with the same
results as the synchronous face."""

from __future__ import annotations

from typing import Any

from inboxlink.testing import conformance
from inboxlink.testing.conformance.aio import AsyncFace

from .test_conformance import GraphFixtures


class TestGraphAsyncList(conformance.ListTests, AsyncFace, GraphFixtures):
    pass


class TestGraphAsyncFetch(conformance.FetchTests, AsyncFace, GraphFixtures):
    pass


class TestGraphAsyncSend(conformance.SendTests, AsyncFace, GraphFixtures):
    pass


class TestGraphAsyncSync(conformance.SyncTests, AsyncFace, GraphFixtures):
    pass


class TestGraphAsyncActions(conformance.ActionTests, AsyncFace, GraphFixtures):
    pass


class TestGraphAsyncIsNative(GraphFixtures):
    """The classes above check Graph's native face, not the threaded one."""

    def test_the_async_face_of_graph_is_native(self, reconnect: Any) -> None:
        from inboxlink import aio
        from inboxlink.aio.native import NativeAsyncMailbox

        face = aio.wrap(reconnect())
        assert isinstance(face, NativeAsyncMailbox)
        assert face.sync.async_native
