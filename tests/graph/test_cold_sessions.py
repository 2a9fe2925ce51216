"""A cold Graph mailbox builds its per-loop session once, however many first calls race.

Found by benchmarks/aio_graph.py: `SessionHolder.get` looked for the loop's session, then
built one, and the build yielded (to the caller's loop on the native face, to the shared
loop on the synchronous one), so every call that arrived meanwhile built its own. Each
build makes an httpx client and with it a TLS context (loading the CA bundle, tens of ms of
CPU); on the native face that CPU runs on the caller's loop, so 4 racing first calls stall
every other task of the loop for 4 builds. The extra sessions were discarded unused."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import pytest

from inboxlink import aio
from inboxlink.adapters.graph import GraphMailbox, GraphSettings, connection
from inboxlink.aio.native import NativeAsyncMailbox
from inboxlink.testing.conformance import make_message

from .emulator import GraphEmulator

pytestmark = pytest.mark.anyio

@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The threads that built a `GraphSession` (inboxlink's own class, counted). The first
    build takes 0.2 s more, so the racing calls surely arrive while it runs."""
    names: list[str] = []

    class Counted(connection.GraphSession):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            names.append(threading.current_thread().name)
            if len(names) == 1:
                time.sleep(0.2)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(connection, "GraphSession", Counted)
    return names


def mailbox(emu: GraphEmulator) -> GraphMailbox:
    return GraphMailbox(GraphSettings(address=emu.address, access_token=emu.token,
                                      base_url=emu.base_url))


async def test_racing_first_calls_on_the_native_face_build_one_session(
        emulator: GraphEmulator, built: list[str]) -> None:
    ids = [emulator.deliver(make_message(n)) for n in range(4)]
    face = aio.wrap(mailbox(emulator))
    assert isinstance(face, NativeAsyncMailbox)
    try:
        async with anyio.create_task_group() as group:
            for mid in ids:
                group.start_soon(face.fetch, mid)
        assert emulator.count("POST", r"/\$batch$") == 4
        assert len(built) == 1
    finally:
        await face.aclose()


def test_racing_first_calls_on_the_sync_face_build_one_session(
        emulator: GraphEmulator, built: list[str]) -> None:
    ids = [emulator.deliver(make_message(n)) for n in range(4)]
    box = mailbox(emulator)
    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(box.fetch, ids))
        assert emulator.count("POST", r"/\$batch$") == 4
        assert len(built) == 1
    finally:
        box.close()
