"""The threaded async face: the loop never blocks, the per-mailbox limit holds, a cancelled
call finishes in its thread, watch is cancellable, errors stay typed."""

from __future__ import annotations

import threading
import time
from typing import Any

import anyio
import pytest

from inboxlink import OutgoingMessage, aio, errors
from inboxlink.aio.threaded import ThreadedAsyncMailbox
from inboxlink.testing import FakeMailbox, FakeMailServer
from inboxlink.testing.conformance import make_message

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class SlowFake(FakeMailbox):
    """A fake whose reads block like a network call, counting calls in flight."""

    delay = 0.2

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inside = 0
        self.peak = 0
        self._count = threading.Lock()

    def _fetch_many(self, message_ids: list[str]) -> Any:
        with self._count:
            self.inside += 1
            self.peak = max(self.peak, self.inside)
        try:
            time.sleep(self.delay)
            return super()._fetch_many(message_ids)
        finally:
            with self._count:
                self.inside -= 1


async def test_calls_in_flight_are_capped_per_mailbox() -> None:
    sync = SlowFake("alice@example.com")
    one = sync.deliver(make_message(1))
    box = ThreadedAsyncMailbox(sync, concurrency=3)
    async with anyio.create_task_group() as group:
        for _ in range(9):
            group.start_soon(lambda: box.fetch_many([one]))
    assert sync.peak == 3


async def test_the_loop_stays_responsive_while_calls_block() -> None:
    sync = SlowFake("alice@example.com")
    one = sync.deliver(make_message(1))
    box = ThreadedAsyncMailbox(sync, concurrency=4)
    lags: list[float] = []

    async def ticker() -> None:
        for _ in range(20):
            before = time.monotonic()
            await anyio.sleep(0.01)
            lags.append(time.monotonic() - before - 0.01)

    async with anyio.create_task_group() as group:
        group.start_soon(ticker)
        for _ in range(8):
            group.start_soon(lambda: box.fetch_many([one]))
    assert max(lags) < 0.1


async def test_a_cancelled_send_still_finishes_in_its_thread() -> None:
    server = FakeMailServer()
    sync = FakeMailbox("alice@example.com", server=server)
    gate = threading.Event()
    original = sync._send

    def slow_send(prepared: Any, save_copy: bool) -> Any:
        gate.wait(5)
        return original(prepared, save_copy)

    sync._send = slow_send  # type: ignore[method-assign]
    box = ThreadedAsyncMailbox(sync)
    with anyio.move_on_after(0.1) as scope:
        threading.Timer(0.3, gate.set).start()
        await box.send(OutgoingMessage(to="bob@example.net", subject="once", text="x"))
    assert scope.cancel_called
    assert len(server.sent) == 1  # the thread completed before the cancellation landed


async def test_watch_is_cancellable_and_yields_on_delivery() -> None:
    sync = FakeMailbox("alice@example.com")
    box = aio.wrap(sync)
    watch = box.watch(timeout=30)
    threading.Timer(0.3, lambda: sync.deliver(make_message(1))).start()
    with anyio.fail_after(5):
        hint = await watch.__anext__()
    assert hint.folder_id == "INBOX"
    started = time.monotonic()
    with anyio.move_on_after(0.3):
        await watch.__anext__()
    assert time.monotonic() - started < 2


async def test_errors_are_the_same_typed_errors() -> None:
    sync = FakeMailbox("alice@example.com")
    sync.fail_next("list_messages", errors.AppBlocked())
    async with aio.wrap(sync) as box:
        with pytest.raises(errors.AppBlocked):
            await box.list_messages()
        with pytest.raises(errors.FolderNotFound):
            await box.folder("nope")


async def test_connect_opens_in_a_thread_and_shares_the_server() -> None:
    server = FakeMailServer()
    box = await aio.connect("fake://alice@example.com", server=server)
    server.deliver(make_message(1), to="alice@example.com")
    assert isinstance(box, aio.AsyncMailbox)
    assert [s.message_id async for s in box.iter_messages()] == ["<conformance1@example.net>"]
    token = await box.sync_token()
    server.deliver(make_message(2), to="alice@example.com")
    batch = await box.changes(token=token)
    assert [s.message_id for s in batch.added] == ["<conformance2@example.net>"]
    await box.aclose()


async def test_the_plugin_offers_an_async_fake_mailbox(async_fake_mailbox: aio.AsyncMailbox,
                                                       fake_mailbox: FakeMailbox) -> None:
    fake_mailbox.deliver(make_message(3))
    page = await async_fake_mailbox.list_messages()
    assert [s.message_id for s in page.items] == ["<conformance3@example.net>"]
    await async_fake_mailbox.set_read([page.items[0].id])
    assert fake_mailbox.list_messages().items[0].seen
