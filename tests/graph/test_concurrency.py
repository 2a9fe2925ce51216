"""The per-mailbox cap on requests in flight, measured by the emulator, and fork safety."""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from typing import Any

import pytest
from _threads import in_thread
from kiota_abstractions.method import Method

from inboxlink import errors
from inboxlink.adapters.graph import GraphMailbox, GraphSettings
from inboxlink.adapters.graph._loop import LOOP
from inboxlink.adapters.graph.connection import GraphSession
from inboxlink.testing.conformance import make_message

from .conftest import make_mailbox
from .emulator import GraphEmulator

THREADS = 12
DELAY = 0.05  # long enough that unthrottled requests from 12 threads always overlap


def _hammer(emulator: GraphEmulator, boxes: list[GraphMailbox]) -> int:
    """12 threads list, fetch and stream at once; the most requests the emulator saw at once."""
    ids = [emulator.deliver(make_message(n)) for n in range(1, 5)]
    for box in boxes:
        box.folders()  # warm: the folder walk is not what is measured
    emulator.delay = DELAY
    emulator.peak.clear()
    start = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def work(n: int) -> None:
        box = boxes[n % len(boxes)]
        try:
            start.wait()
            assert len(box.list_messages("inbox", limit=2).items) == 2
            assert [m.id for m in box.fetch_many(ids[:3])] == ids[:3]
            assert box.fetch_to_file(ids[n % len(ids)], io.BytesIO()) > 0
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    assert not failures, failures
    assert emulator.in_flight[emulator.address] == 0
    return emulator.peak[emulator.address]


@pytest.mark.parametrize("cap", [4, 1])
def test_threads_sharing_one_mailbox_reach_the_cap_and_never_pass_it(
        emulator: GraphEmulator, cap: int) -> None:
    box = make_mailbox(emulator, max_concurrent=cap)
    try:
        assert _hammer(emulator, [box]) == cap
    finally:
        box.close()


def test_the_default_cap_is_four(emulator: GraphEmulator) -> None:
    box = make_mailbox(emulator)
    assert box.settings.max_concurrent == 4
    try:
        assert _hammer(emulator, [box]) == 4
    finally:
        box.close()


def test_mailbox_objects_for_the_same_mailbox_share_one_budget(
        emulator: GraphEmulator) -> None:
    # Same mailbox reached delegated (/me) and app-only (/users/<address>): one budget.
    boxes = [make_mailbox(emulator, max_concurrent=2),
             make_mailbox(emulator, max_concurrent=2),
             make_mailbox(emulator, max_concurrent=2, user_id=emulator.address)]
    try:
        assert _hammer(emulator, boxes) == 2
    finally:
        for box in boxes:
            box.close()


def test_a_lower_cap_is_honoured_by_the_object_that_asked_for_it(
        emulator: GraphEmulator) -> None:
    strict = make_mailbox(emulator, max_concurrent=1)
    loose = make_mailbox(emulator, max_concurrent=4)
    try:
        # The strict object's requests wait for the mailbox to drain, so 4 may not be reached
        # here; what matters is that the loose one never adds a 5th on top.
        assert 1 <= _hammer(emulator, [loose, strict]) <= 4
    finally:
        strict.close()
        loose.close()


def test_the_measurement_sees_overlap_when_the_cap_allows_it(emulator: GraphEmulator) -> None:
    # Guards the tests above: without a tight cap the emulator does observe > 4 at once.
    box = make_mailbox(emulator, max_concurrent=THREADS)
    try:
        assert _hammer(emulator, [box]) > 4
    finally:
        box.close()


def test_other_mailboxes_have_their_own_budget(emulator: GraphEmulator) -> None:
    emulator.deliver(make_message(1))
    alice = make_mailbox(emulator, max_concurrent=1)
    # The emulator serves /users/user-object-id too: to the adapter, carol's mailbox.
    carol = make_mailbox(emulator, max_concurrent=1, address="carol@contoso.com",
                         user_id="user-object-id")
    try:
        for box in (alice, carol):
            box.folders()
        # Each mailbox's first request is held until the other's has arrived too: with one
        # budget for both, the second could not be sent while the first is held.
        emulator.hold_together(2)
        emulator.peak.clear()
        threads = [threading.Thread(target=box.list_messages, args=("inbox",))
                   for box in (alice, carol)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not any(thread.is_alive() for thread in threads)
        assert emulator.met  # side by side, not in turn
        assert emulator.peak == {"alice@contoso.com": 1, "user-object-id": 1}
    finally:
        alice.close()
        carol.close()


def test_the_rest_not_enabled_follow_up_does_not_deadlock_under_cap_one(
        emulator: GraphEmulator) -> None:
    box = make_mailbox(emulator, max_concurrent=1, timeout=10.0)
    box.folders()
    emulator.user["assignedPlans"] = []
    emulator.fail(404, "MailboxNotEnabledForRESTAPI", "REST API is not yet supported for this "
                  "mailbox.", path=r"/messages$")
    # MailboxNotFound (not RestApiNotEnabled) proves the follow-up GET /me got its answer.
    with pytest.raises(errors.MailboxNotFound):
        in_thread(lambda: box.list_messages("inbox"), timeout=20)
    assert sum(1 for r in emulator.requests if r.path.endswith("/me")) == 1
    box.close()


def test_a_request_made_while_holding_a_slot_rides_on_it(emulator: GraphEmulator) -> None:
    mid = emulator.deliver(make_message(1))
    box = make_mailbox(emulator, max_concurrent=1)
    session = box._ensure_session()

    async def nested(session: GraphSession) -> tuple[int, Any]:
        info = session.user.messages.by_message_id(mid).content.to_get_request_information()
        async with session.stream(info) as response:
            # still holding the only slot: this look-up must not wait for a second one
            user = await session.send_json(session.request(Method.GET, session.user_path))
            body = await response.aread()
        return len(body), user

    size, user = in_thread(lambda: LOOP.run(nested(session), timeout=10), timeout=20)
    assert size > 0
    assert user["mail"] == emulator.address
    assert session.limiter.in_flight == 0
    box.close()


def test_a_timed_out_call_gives_its_slot_back(emulator: GraphEmulator) -> None:
    emulator.deliver(make_message(1))
    box = make_mailbox(emulator, max_concurrent=1, timeout=0.5)
    box.folders()
    emulator.stall = (r"/messages$", 1.5)
    with pytest.raises(errors.OperationTimeout):
        box.list_messages("inbox")
    emulator.stall = None
    # The only slot was released when the call was cancelled: the next call runs.
    assert len(in_thread(lambda: box.list_messages("inbox").items, timeout=20)) == 1
    box.close()


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "4"])
def test_max_concurrent_must_be_a_whole_number_of_at_least_one(
        emulator: GraphEmulator, bad: Any) -> None:
    with pytest.raises(errors.ConfigurationError, match="max_concurrent"):
        GraphSettings(address=emulator.address, access_token="t", max_concurrent=bad)
    with pytest.raises(errors.ConfigurationError, match="max_concurrent"):
        GraphMailbox.from_url(f"graph://{emulator.address}", access_token="t",
                              max_concurrent=bad)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_mid_request_and_mid_session_build_is_not_stuck(
        emulator: GraphEmulator) -> None:
    emulator.deliver(make_message(1))
    emulator.deliver(make_message(2), folder="archive")
    box = make_mailbox(emulator, max_concurrent=1)
    box.folders()
    # At the fork the parent holds the only slot (a slow listing in flight) and the
    # mailbox's session lock (as a thread building its session would): the child must
    # inherit neither.
    archive = emulator.wellknown["archive"]
    emulator.stall = (archive + "/messages$", 1.5)
    slow = threading.Thread(target=box.list_messages, args=("archive",))
    slow.start()
    deadline = time.monotonic() + 10
    while emulator.count("GET", archive + "/messages$") == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert box._sessions._lock.acquire(timeout=5)
    try:
        pid = os.fork()
        if pid == 0:  # child
            code = 1
            try:
                code = 0 if len(box.list_messages("inbox").items) == 1 else 2
            finally:
                os._exit(code)
    finally:
        box._sessions._lock.release()
    status = None
    deadline = time.monotonic() + 20
    while status is None and time.monotonic() < deadline:
        done, raw = os.waitpid(pid, os.WNOHANG)
        status = raw if done else None
        time.sleep(0.05)
    if status is None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung on state inherited from the parent")
    assert os.waitstatus_to_exitcode(status) == 0
    slow.join(10)
    assert len(box.list_messages("inbox").items) == 1  # the parent is unaffected
    box.close()
