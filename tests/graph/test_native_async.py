"""The async face of Graph runs msgraph-sdk on the caller's loop (`inboxlink.aio.native`).

Through the real msgraph-sdk over real HTTP against the emulator: the requests are made
from the calling loop and thread, the per-mailbox cap holds across the sync and async faces
of one process, cancellation frees slots (reads) or lets a write finish, the deadline and
the typed errors are the synchronous face's, and nothing the one implementation waits on
(folder lock, retry back-off, watch polling) blocks the loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from inboxlink import FolderRole, OutgoingMessage, aio, errors
from inboxlink.adapters.graph import GraphMailbox, GraphSettings
from inboxlink.aio.native import NativeAsyncMailbox
from inboxlink.mailbox_sync import PollPolicy
from inboxlink.retry import RetryPolicy
from inboxlink.testing.conformance import make_message

from .conftest import make_mailbox
from .emulator import GraphEmulator

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class _Ticker:
    """Counts how often the loop got to run a 10 ms sleep: a blocked loop does not tick."""

    def __init__(self) -> None:
        self.ticks = 0
        self._done = False

    async def run(self) -> None:
        while not self._done:
            await asyncio.sleep(0.01)
            self.ticks += 1

    def stop(self) -> None:
        self._done = True


class _LoopRecordingCredential:
    """An async azure-style credential that notes the loop and thread asking for a token."""

    def __init__(self, token: str) -> None:
        self._token = token
        self.asked_from: list[tuple[asyncio.AbstractEventLoop, threading.Thread]] = []

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        self.asked_from.append((asyncio.get_running_loop(), threading.current_thread()))

        class Token:
            token = self._token
            expires_on = int(time.time()) + 3600

        return Token()


@pytest.fixture
def sync_box(emulator: GraphEmulator) -> Iterator[GraphMailbox]:
    box = make_mailbox(emulator)
    yield box
    box.close()


async def test_requests_are_made_from_the_callers_loop_and_thread(
        emulator: GraphEmulator) -> None:
    credential = _LoopRecordingCredential(emulator.token)
    box = GraphMailbox(GraphSettings(address=emulator.address, credential=credential,
                                     base_url=emulator.base_url))
    emulator.deliver(make_message(1))
    face = aio.wrap(box)
    assert isinstance(face, NativeAsyncMailbox)
    async with face:
        page = await face.list_messages(FolderRole.INBOX)
        assert len(page.items) == 1
        assert (await face.fetch(page.items[0].id)).raw
    here = (asyncio.get_running_loop(), threading.current_thread())
    assert credential.asked_from
    assert set(credential.asked_from) == {here}


@pytest.mark.parametrize("cap", [4, 1])
async def test_the_cap_holds_across_the_sync_and_async_faces(emulator: GraphEmulator,
                                                             cap: int) -> None:
    box = make_mailbox(emulator, max_concurrent=cap)
    ids = [emulator.deliver(make_message(n)) for n in range(1, 4)]
    face = aio.wrap(box)
    await face.folders()  # the folder walk is not what is measured
    emulator.delay = 0.05
    emulator.peak.clear()
    failures: list[BaseException] = []

    def sync_worker() -> None:
        try:
            for _ in range(3):
                assert [m.id for m in box.fetch_many(ids)] == ids
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=sync_worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    async with anyio.create_task_group() as group:
        for n in range(12):
            group.start_soon(face.fetch, ids[n % 3])
    for thread in threads:
        await anyio.to_thread.run_sync(thread.join, 60)
    assert not failures, failures
    assert emulator.peak[emulator.address] == cap
    assert emulator.in_flight[emulator.address] == 0
    box.close()


async def test_concurrent_first_calls_walk_the_folders_once(emulator: GraphEmulator) -> None:
    emulator.deliver(make_message(1))
    one = make_mailbox(emulator)
    one.list_messages(FolderRole.INBOX)
    walk = len(emulator.requests) - 1  # one listing after the folder walk
    one.close()

    emulator.requests.clear()
    emulator.delay = 0.02
    face = aio.wrap(make_mailbox(emulator))
    async with face, anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(face.list_messages, FolderRole.INBOX)
    assert len(emulator.requests) == walk + 20


async def test_a_cancelled_read_gives_its_slot_back(emulator: GraphEmulator) -> None:
    box = make_mailbox(emulator, max_concurrent=1)
    mid = emulator.deliver(make_message(1))
    face = aio.wrap(box)
    await face.folders()
    emulator.delay = 2.0
    with anyio.move_on_after(0.3) as scope:
        await face.fetch(mid)
    assert scope.cancel_called
    session = box._ensure_session()  # the limiter is what is checked
    assert session.limiter.in_flight == 0
    emulator.delay = 0.0
    with anyio.fail_after(5):  # the one slot is free again: no wait for the 2 s request
        assert (await face.fetch(mid)).id == mid
    await face.aclose()


async def test_a_cancelled_send_finishes_before_the_cancellation(
        emulator: GraphEmulator, sync_box: GraphMailbox) -> None:
    face = aio.wrap(sync_box)
    await face.folders()
    emulator.delay = 0.6
    started = time.monotonic()
    with anyio.move_on_after(0.1) as scope:
        await face.send(OutgoingMessage(to="bob@example.com", subject="once", text="x\n"))
    assert scope.cancel_called
    assert time.monotonic() - started >= 0.6  # it waited for the send, not just the cancel
    assert len(emulator.outbox) == 1


async def test_the_deadline_holds_on_the_callers_loop(emulator: GraphEmulator) -> None:
    box = make_mailbox(emulator, timeout=0.5, retry=RetryPolicy(max_attempts=1))
    face = aio.wrap(box)
    await face.folders()
    emulator.delay = 3.0
    started = time.monotonic()
    with pytest.raises(errors.OperationTimeout):
        await face.list_messages(FolderRole.INBOX)
    assert time.monotonic() - started < 2.5
    await face.aclose()


async def test_errors_are_the_same_types_as_the_sync_face(
        emulator: GraphEmulator, sync_box: GraphMailbox) -> None:
    face = aio.wrap(sync_box)
    emulator.fail(403, "ErrorAccessDenied", "Access is denied.", path=r"mailFolders",
                  times=1)
    with pytest.raises(errors.InboxLinkError) as in_sync:
        await anyio.to_thread.run_sync(lambda: sync_box.folders(refresh=True))
    emulator.fail(403, "ErrorAccessDenied", "Access is denied.", path=r"mailFolders",
                  times=1)
    with pytest.raises(errors.InboxLinkError) as in_async:
        await face.folders(refresh=True)
    assert type(in_async.value) is type(in_sync.value)
    assert type(in_async.value) is not errors.InboxLinkError
    assert in_async.value.remedy == in_sync.value.remedy


async def test_retry_back_off_does_not_block_the_loop(
        emulator: GraphEmulator, sync_box: GraphMailbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INBOXLINK_NO_RETRY_WAIT")
    face = aio.wrap(sync_box)
    await face.folders()
    emulator.deliver(make_message(1))
    emulator.fail(429, "ApplicationThrottled", "Too many requests.", path=r"/messages",
                  headers={"Retry-After": "1"}, times=1)
    ticker = _Ticker()
    async with anyio.create_task_group() as group:
        group.start_soon(ticker.run)
        started = time.monotonic()
        page = await face.list_messages(FolderRole.INBOX)
        waited = time.monotonic() - started
        ticker.stop()
    assert len(page.items) == 1
    assert waited >= 0.95  # the Retry-After was honoured …
    assert ticker.ticks >= 30  # … while the loop kept running (a blocked loop ticks ~0)


async def test_watch_polls_on_the_loop_and_ends_when_cancelled(
        emulator: GraphEmulator, sync_box: GraphMailbox) -> None:
    sync_box.poll_policy = PollPolicy(initial=0.1, factor=1.0, maximum=0.1)
    face = aio.wrap(sync_box)
    watch = face.watch(FolderRole.INBOX, timeout=20)
    threading.Timer(0.5, lambda: emulator.deliver(make_message(7))).start()
    ticker = _Ticker()
    async with anyio.create_task_group() as group:
        group.start_soon(ticker.run)
        with anyio.fail_after(10):
            hint = await watch.__anext__()
        assert hint.reason == "poll"
        with anyio.move_on_after(0.3) as scope:
            await watch.__anext__()  # nothing more arrives: cancelled while it polls
        ticker.stop()
    assert scope.cancel_called
    assert ticker.ticks >= 30
    with pytest.raises(StopAsyncIteration):  # cancelling ended the watch for good
        await watch.__anext__()


async def test_both_faces_share_state_and_aclose_closes_for_good(
        emulator: GraphEmulator, sync_box: GraphMailbox) -> None:
    face = aio.wrap(sync_box)
    folders = await face.folders()
    assert [f.id for f in sync_box.folders()] == [f.id for f in folders]
    walks = len(emulator.requests)
    sync_box.folder(FolderRole.SENT)  # cached by the async call: no request
    assert len(emulator.requests) == walks
    await face.aclose()
    with pytest.raises(errors.MailboxClosed):
        await face.list_messages(FolderRole.INBOX)
    with pytest.raises(errors.MailboxClosed):
        sync_box.list_messages(FolderRole.INBOX)


def test_a_session_per_asyncio_run_is_let_go_when_its_loop_closes(
        emulator: GraphEmulator, sync_box: GraphMailbox) -> None:
    mid = emulator.deliver(make_message(1))
    face = aio.wrap(sync_box)
    for _ in range(5):  # the way a script or a task queue often drives async code
        assert asyncio.run(face.fetch(mid)).id == mid
    held = sync_box._sessions._sessions
    assert len(held) == 1  # only the last run's; the four closed loops were let go
