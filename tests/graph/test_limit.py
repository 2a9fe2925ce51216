"""`MailboxLimiter` shared by event loops in several threads: cap, order, cancellation.

Slots are held with events, never with sleeps: a holder keeps its slot until the test
releases it, so what is asserted is the limiter's state, not a timing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inboxlink.adapters.graph._limit import MailboxLimiter, limiter_for

WAIT = 5.0  # generous bound for something that should happen within a few loop turns


class _LoopThread:
    """An event loop running forever in its own thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the loop's thread and wait for it."""
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def target() -> None:
            try:
                done.set_result(fn())
            except BaseException as exc:
                done.set_exception(exc)

        self.loop.call_soon_threadsafe(target)
        return done.result(WAIT)

    def block(self) -> threading.Event:
        """Keep the loop's thread busy until the returned event is set."""
        unblock, blocked = threading.Event(), threading.Event()

        def hog() -> None:
            blocked.set()
            unblock.wait(WAIT)

        self.loop.call_soon_threadsafe(hog)
        assert blocked.wait(WAIT)
        return unblock

    def stop(self, *, cancel: bool = True) -> None:
        """Stop the loop (first cancelling what still runs there, unless told not to)."""
        if self.loop.is_closed():
            return
        if cancel and self.thread.is_alive():
            async def cancel_all() -> None:
                tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

            asyncio.run_coroutine_threadsafe(cancel_all(), self.loop).result(WAIT)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT)
        assert not self.thread.is_alive()
        self.loop.close()


@pytest.fixture
def loops() -> Iterator[list[_LoopThread]]:
    started = [_LoopThread(), _LoopThread(), _LoopThread()]
    yield started
    for each in started:
        each.stop()


class _Holders:
    """Tasks that take a slot of one limiter and hold it until released; the shared record."""

    def __init__(self, limiter: MailboxLimiter) -> None:
        self.limiter = limiter
        self.lock = threading.Lock()
        self.live = 0
        self.peak = 0
        self.granted: list[str] = []  # in the order the bodies started
        self.over_cap: list[str] = []
        self.caps: list[int] = []  # of the holders inside

    def start(self, name: str, cap: int, loop: asyncio.AbstractEventLoop) -> _Holder:
        return _Holder(self, name, cap, loop)


class _Holder:
    def __init__(self, record: _Holders, name: str, cap: int,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.record, self.name, self.cap, self.loop = record, name, cap, loop
        self.inside = threading.Event()
        self._release = asyncio.Event()  # bound to its loop when first waited on
        self.future = asyncio.run_coroutine_threadsafe(self._hold(), loop)

    async def _hold(self) -> str:
        record = self.record
        async with record.limiter.slot(self.cap):
            with record.lock:
                record.live += 1
                record.caps.append(self.cap)
                record.peak = max(record.peak, record.live)
                record.granted.append(self.name)
                # Each cap is checked when its slot is granted; a later grant under a higher
                # cap may follow, so no more than the highest cap may ever run at once.
                if record.live > max(record.caps):
                    record.over_cap.append(f"{self.name} started with {record.live} running")
            self.inside.set()
            try:
                await self._release.wait()
            finally:
                with record.lock:
                    record.live -= 1
                    record.caps.remove(self.cap)
        return self.name

    def release(self) -> None:
        self.loop.call_soon_threadsafe(self._release.set)

    def cancel(self) -> None:
        self.future.cancel()  # cancels the task on its loop

    def finished(self) -> bool:
        return self.future.done()


def _until(condition: Callable[[], bool], what: str) -> None:
    end = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < end, f"timed out waiting until {what}"
        time.sleep(0.001)


def _queued(limiter: MailboxLimiter) -> int:
    return len(limiter._waiters)


def _enqueue(record: _Holders, name: str, cap: int, loop: asyncio.AbstractEventLoop) -> _Holder:
    """Start a holder and wait until it either got its slot or stands in the queue, so the
    arrival order across loops is the order of these calls."""
    before = _queued(record.limiter)
    holder = record.start(name, cap, loop)
    _until(lambda: holder.inside.is_set() or _queued(record.limiter) > before,
           f"{name} arrived")
    return holder


def _settled(limiter: MailboxLimiter) -> None:
    _until(lambda: limiter.in_flight == 0 and not limiter._waiters, "every slot came back")


def _acquires_at_once(limiter: MailboxLimiter, loop: _LoopThread) -> None:
    """A following request gets its slot without waiting (so nothing leaked)."""
    async def probe() -> bool:
        async with limiter.slot(1):
            return limiter.in_flight == 1

    assert asyncio.run_coroutine_threadsafe(probe(), loop.loop).result(WAIT)
    assert limiter.in_flight == 0


# --- cap and order ---------------------------------------------------------------------


def test_three_loops_share_one_cap_exactly_and_are_served_in_arrival_order(
        loops: list[_LoopThread]) -> None:
    limiter = MailboxLimiter()
    record = _Holders(limiter)
    cap = 3

    async def main() -> None:
        here = asyncio.get_running_loop()
        where = [here, loops[0].loop, loops[1].loop]
        holders = []
        for n in range(9):
            # _enqueue polls with time.sleep, so it must not run on this loop's thread
            holders.append(await asyncio.to_thread(_enqueue, record, f"h{n}", cap,
                                                   where[n % 3]))
        assert limiter.in_flight == cap
        assert _queued(limiter) == 6
        assert record.granted == ["h0", "h1", "h2"]
        for n in range(9):
            holders[n].release()
            await asyncio.wrap_future(holders[n].future)
            expect = [f"h{m}" for m in range(min(9, n + 1 + cap))]

            def caught_up(expect: list[str] = expect) -> bool:
                return record.granted == expect
            await asyncio.to_thread(_until, caught_up, f"{expect[-1]} started")
            assert limiter.in_flight == min(cap, 8 - n)

    asyncio.run(main())
    assert record.peak == cap
    assert not record.over_cap
    _settled(limiter)
    _acquires_at_once(limiter, loops[2])


def test_a_head_with_a_lower_cap_holds_the_ones_behind_it(loops: list[_LoopThread]) -> None:
    limiter = MailboxLimiter()
    record = _Holders(limiter)
    first = _enqueue(record, "first", 4, loops[0].loop)
    second = _enqueue(record, "second", 4, loops[1].loop)
    low = _enqueue(record, "low", 2, loops[2].loop)  # 2 running: must wait
    high = _enqueue(record, "high", 4, loops[0].loop)  # room under its own cap, yet behind low
    time.sleep(0.05)  # a wrongly granted slot would show up within this
    assert record.granted == ["first", "second"]
    assert _queued(limiter) == 2
    first.release()
    # granted together, on two loops: their bodies may start in either order
    _until(lambda: sorted(record.granted[2:]) == ["high", "low"], "both started")
    assert limiter.in_flight == 3
    assert not record.over_cap
    for holder in (second, low, high):
        holder.release()
    _settled(limiter)


def test_nobody_passes_the_cap_when_many_loops_rush_at_once(loops: list[_LoopThread]) -> None:
    limiter = MailboxLimiter()
    cap = 2
    live = [0]
    peak = [0]
    lock = threading.Lock()

    async def request() -> None:
        async with limiter.slot(cap):
            with lock:
                live[0] += 1
                peak[0] = max(peak[0], live[0])
            await asyncio.sleep(0)
            with lock:
                live[0] -= 1

    async def burst() -> None:
        await asyncio.gather(*(request() for _ in range(50)))

    futures = [asyncio.run_coroutine_threadsafe(burst(), each.loop) for each in loops]
    for future in futures:
        future.result(WAIT * 4)
    assert peak[0] == cap
    _settled(limiter)


# --- cancellation ----------------------------------------------------------------------


def test_cancelling_a_waiter_before_its_grant_loses_no_slot(loops: list[_LoopThread]) -> None:
    limiter = MailboxLimiter()
    record = _Holders(limiter)
    holder = _enqueue(record, "holder", 1, loops[0].loop)
    waiter = _enqueue(record, "waiter", 1, loops[1].loop)
    waiter.cancel()
    _until(lambda: _queued(limiter) == 0, "the cancelled waiter left the queue")
    assert limiter.in_flight == 1
    holder.release()
    _settled(limiter)
    assert record.granted == ["holder"]
    _acquires_at_once(limiter, loops[2])


def test_cancelling_the_head_lets_the_ones_behind_it_through(loops: list[_LoopThread]) -> None:
    limiter = MailboxLimiter()
    record = _Holders(limiter)
    holder = _enqueue(record, "holder", 2, loops[0].loop)
    head = _enqueue(record, "head", 1, loops[1].loop)  # 1 running, cap 1: waits
    behind = _enqueue(record, "behind", 2, loops[2].loop)  # room, but behind the head
    time.sleep(0.05)
    assert record.granted == ["holder"]
    head.cancel()
    _until(lambda: record.granted == ["holder", "behind"], "the one behind started")
    holder.release()
    behind.release()
    _settled(limiter)


@pytest.mark.parametrize("cancel_first", [True, False], ids=["cancel-then-grant",
                                                              "grant-then-cancel"])
def test_a_cancel_racing_the_grant_neither_loses_nor_leaks_the_slot(
        loops: list[_LoopThread], cancel_first: bool) -> None:
    limiter = MailboxLimiter()
    record = _Holders(limiter)
    holder = _enqueue(record, "holder", 1, loops[0].loop)
    waiter = _enqueue(record, "waiter", 1, loops[1].loop)
    # With the waiter's loop busy, both the grant's wake-up and the cancellation are queued
    # there before either runs, in the order chosen.
    unblock = loops[1].block()
    if cancel_first:
        waiter.cancel()
        holder.release()
    else:
        holder.release()
        _until(lambda: limiter.in_flight == 1 and _queued(limiter) == 0, "granted")
        waiter.cancel()
    unblock.set()
    _until(waiter.finished, "the waiter finished")
    assert waiter.future.cancelled()
    _settled(limiter)
    assert record.granted == ["holder"]
    _acquires_at_once(limiter, loops[2])


def test_cancelling_a_holder_gives_its_slot_to_the_next(loops: list[_LoopThread]) -> None:
    limiter = MailboxLimiter()
    record = _Holders(limiter)
    holder = _enqueue(record, "holder", 1, loops[0].loop)
    waiter = _enqueue(record, "waiter", 1, loops[1].loop)
    holder.cancel()
    _until(lambda: record.granted == ["holder", "waiter"], "the next started")
    waiter.release()
    _settled(limiter)


# --- loops that go away ----------------------------------------------------------------


def test_a_waiter_whose_loop_was_closed_before_its_turn_does_not_eat_a_slot(
        loops: list[_LoopThread]) -> None:
    limiter = MailboxLimiter()
    record = _Holders(limiter)
    holder = _enqueue(record, "holder", 1, loops[0].loop)
    _enqueue(record, "orphan", 1, loops[1].loop)
    loops[1].stop(cancel=False)  # closed with the waiter still queued, never cancelled
    behind = _enqueue(record, "behind", 1, loops[2].loop)
    holder.release()
    _until(lambda: record.granted == ["holder", "behind"], "the one behind started")
    behind.release()
    _settled(limiter)
    _acquires_at_once(limiter, loops[2])


def test_a_waiter_granted_while_its_loop_was_stopped_and_then_closed_does_not_eat_a_slot(
        loops: list[_LoopThread]) -> None:
    limiter = MailboxLimiter()
    record = _Holders(limiter)
    holder = _enqueue(record, "holder", 1, loops[0].loop)
    orphan = _enqueue(record, "orphan", 1, loops[1].loop)
    # Stop the orphan's loop (its task stays pending, as after run_until_complete of
    # another task), grant it the slot meanwhile, then close the loop for good.
    loops[1].loop.call_soon_threadsafe(loops[1].loop.stop)
    loops[1].thread.join(WAIT)
    holder.release()
    _until(lambda: _queued(limiter) == 0, "the orphan was granted")
    loops[1].loop.close()
    assert not orphan.finished()
    behind = _enqueue(record, "behind", 1, loops[2].loop)
    _until(behind.inside.is_set, "the next request got the orphan's slot")
    behind.release()
    _settled(limiter)


# --- re-entrancy -----------------------------------------------------------------------


def test_a_task_holding_a_slot_rides_on_it_while_another_loop_waits(
        loops: list[_LoopThread]) -> None:
    limiter = MailboxLimiter()
    record = _Holders(limiter)
    inner_in = threading.Event()
    go_on = asyncio.Event()

    async def nested() -> int:
        async with limiter.slot(1):
            await asyncio.sleep(0)  # a follow-up made later by the same task
            async with limiter.slot(1):  # would wait forever without _HELD
                inner_in.set()
                seen = limiter.in_flight
                await go_on.wait()
        return seen

    outer = asyncio.run_coroutine_threadsafe(nested(), loops[0].loop)
    assert inner_in.wait(WAIT)
    other = _enqueue(record, "other", 1, loops[1].loop)  # another task: no ride
    time.sleep(0.05)
    assert not other.inside.is_set()
    loops[0].loop.call_soon_threadsafe(go_on.set)
    assert outer.result(WAIT) == 1
    _until(other.inside.is_set, "the other task started")
    other.release()
    _settled(limiter)


def test_the_limiters_of_one_mailbox_are_one_object_for_every_thread() -> None:
    got: list[MailboxLimiter] = []
    threads = [threading.Thread(target=lambda: got.append(
        limiter_for("https://GRAPH.example", "Alice@Contoso.com"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    mine = limiter_for("https://graph.example", "alice@contoso.com")
    assert all(each is mine for each in got)
    assert limiter_for("https://graph.example", "bob@contoso.com") is not mine


# --- random schedules ------------------------------------------------------------------

_op = st.one_of(
    st.tuples(st.just("acquire"), st.integers(0, 2), st.integers(1, 3)),  # loop, cap
    st.tuples(st.just("release"), st.integers(0, 20)),  # the n-th holder (mod count)
    st.tuples(st.just("cancel"), st.integers(0, 20)),  # the n-th live task (mod count)
)


class _Model:
    """What the limiter should do: strict arrival order, each waiter its own cap."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.queue: list[tuple[str, int]] = []
        self.holding: list[str] = []

    def acquire(self, name: str, cap: int) -> None:
        self.queue.append((name, cap))
        self._wake()

    def leave(self, name: str) -> None:
        if name in self.holding:
            self.holding.remove(name)
            self.in_flight -= 1
        else:
            self.queue = [entry for entry in self.queue if entry[0] != name]
        self._wake()

    def _wake(self) -> None:
        while self.queue and self.in_flight < self.queue[0][1]:
            name, _ = self.queue.pop(0)
            self.holding.append(name)
            self.in_flight += 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(_op, max_size=14), loop_count=st.integers(2, 3))
def test_random_schedules_across_loops_match_the_model_and_end_empty(
        ops: list[tuple[Any, ...]], loop_count: int) -> None:
    started = [_LoopThread() for _ in range(loop_count)]
    try:
        limiter = MailboxLimiter()
        record = _Holders(limiter)
        model = _Model()
        live: dict[str, _Holder] = {}

        def matches() -> bool:
            granted = {name for name, h in live.items() if h.inside.is_set()}
            return (granted == set(model.holding) and limiter.in_flight == model.in_flight
                    and [w.cap for w in limiter._waiters] == [c for _, c in model.queue])

        for number, op in enumerate(ops):
            if op[0] == "acquire":
                name = f"t{number}"
                model.acquire(name, op[2])
                live[name] = _enqueue(record, name, op[2], started[op[1] % loop_count].loop)
            elif op[0] == "release" and model.holding:
                name = model.holding[op[1] % len(model.holding)]
                model.leave(name)
                live.pop(name).release()
            elif op[0] == "cancel" and live:
                name = sorted(live)[op[1] % len(live)]
                model.leave(name)
                live.pop(name).cancel()
            _until(matches, f"the limiter matches the model after {op}")
        assert not record.over_cap
        for name in list(live):
            model.leave(name)
            live.pop(name).cancel()
        _settled(limiter)
    finally:
        for each in started:
            each.stop()
