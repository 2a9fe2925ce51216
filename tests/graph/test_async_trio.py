"""Under trio (through anyio) the async face works too: Graph's native face needs asyncio,
so there its calls fall back to worker threads; the fake runs inline as under asyncio."""

from __future__ import annotations

import threading

import anyio
import pytest

from inboxlink import FolderRole, OutgoingMessage, aio, errors
from inboxlink.testing import FakeMailServer
from inboxlink.testing.conformance import make_message

from .conftest import make_mailbox
from .emulator import GraphEmulator

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "trio"


async def test_graph_under_trio_runs_in_threads_with_the_same_results(
        emulator: GraphEmulator) -> None:
    mid = emulator.deliver(make_message(1))
    box = make_mailbox(emulator, max_concurrent=2)
    face = aio.wrap(box)
    loop_thread = threading.current_thread()
    async with face:
        page = await face.list_messages(FolderRole.INBOX)
        assert [s.id for s in page.items] == [mid]
        emulator.delay = 0.05
        emulator.peak.clear()
        async with anyio.create_task_group() as group:
            for _ in range(6):
                group.start_soon(face.fetch, mid)
        assert emulator.peak[emulator.address] == 2  # the one cap, in threads too
        emulator.delay = 0.0
        result = await face.send(OutgoingMessage(to="bob@example.com", subject="t",
                                                 text="x\n"))
        assert result.message_id
        with pytest.raises(errors.MessageNotFound):
            await face.fetch("AAMkAGI2TG93AAA999999AAA=")
    assert len(emulator.outbox) == 1
    assert threading.current_thread() is loop_thread


async def test_the_fake_under_trio() -> None:
    server = FakeMailServer()
    async with await aio.connect("fake://alice@example.com", server=server) as mailbox:
        token = await mailbox.sync_token(FolderRole.INBOX)
        sent = await mailbox.send(OutgoingMessage(to="alice@example.com", subject="hi",
                                                  text="x\n"))
        batch = await mailbox.changes(FolderRole.INBOX, token)
        assert [s.message_id for s in batch.added] == [sent.message_id]
