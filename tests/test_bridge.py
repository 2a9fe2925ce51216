"""`inboxlink._bridge`: synchronous code run in a greenlet on the caller's event loop.

What these tests establish about context variables (the bridge's documented behaviour):

* the synchronous code runs in a copy of the calling task's context, so it sees what the
  task set before `run`, and what it sets itself never leaks back into the task;
* a coroutine handed to `wait` is awaited by the task, in the task's context: it sees what
  the task set before `run`, but NOT what the synchronous code set since — the retry budget
  and deadline reach it only when the code wraps it in `inboxlink.retry.carried`.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import inspect
import threading
import time
import warnings
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from _threads import in_thread
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inboxlink import _bridge, deadline, retry

_VAR: contextvars.ContextVar[str] = contextvars.ContextVar("test_bridge_var", default="unset")


async def _value_later(value: Any, turns: int = 1) -> Any:
    for _ in range(turns):
        await asyncio.sleep(0)
    return value


async def _fail_later(exc: BaseException) -> None:
    await asyncio.sleep(0)
    raise exc


async def _ticker(ticks: list[int], stop: asyncio.Event, every: float = 0.01) -> None:
    while not stop.is_set():
        ticks[0] += 1
        await asyncio.sleep(every)


def _run(main: Callable[[], Coroutine[Any, Any, Any]], timeout: float = 10.0) -> Any:
    """``asyncio.run(main())`` in a thread, so a loop stalled by a bug fails instead of hanging."""
    return in_thread(lambda: asyncio.run(main()), timeout)


# --- results and exceptions ------------------------------------------------------------


def test_results_of_several_waits_in_nested_frames_come_back_in_order() -> None:
    seen: list[Any] = []

    def inner(n: int) -> int:
        got: int = _bridge.wait(_value_later(n, turns=n))
        seen.append(got)
        return got * 10

    def outer(first: int, *, then: int) -> list[int]:
        a = inner(first)
        b = inner(then)
        c = _bridge.wait(_value_later("plain"))
        seen.append(c)
        return [a, b]

    async def main() -> list[int]:
        return await _bridge.run(outer, 2, then=3)

    assert _run(main) == [20, 30]
    assert seen == [2, 3, "plain"]


def test_an_exception_of_the_awaited_coroutine_arrives_in_the_sync_code_and_can_be_caught(
        ) -> None:
    marker = ValueError("from the coroutine")

    def code() -> tuple[BaseException, str]:
        try:
            _bridge.wait(_fail_later(marker))
        except ValueError as exc:
            caught: BaseException = exc
        # the bridge still works after a caught failure
        return caught, _bridge.wait(_value_later("after"))

    async def main() -> tuple[BaseException, str]:
        return await _bridge.run(code)

    caught, after = _run(main)
    assert caught is marker
    assert after == "after"


def test_an_uncaught_exception_leaves_run_unchanged_with_the_sync_frames_in_its_traceback(
        ) -> None:
    marker = KeyError("deep")

    def deepest() -> None:
        _bridge.wait(_fail_later(marker))

    def code() -> None:
        deepest()

    async def main() -> BaseException:
        try:
            await _bridge.run(code)
        except KeyError as exc:
            return exc
        raise AssertionError("run returned")

    exc = _run(main)
    assert exc is marker
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert "deepest" in frames


def test_an_exception_before_any_wait_leaves_run() -> None:
    def code() -> None:
        raise LookupError("at once")

    async def main() -> None:
        await _bridge.run(code)

    with pytest.raises(LookupError, match="at once"):
        _run(main)


def test_a_future_can_be_waited_for_too() -> None:
    async def main() -> str:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.01, future.set_result, "resolved")
        return await _bridge.run(_bridge.wait, future)

    assert _run(main) == "resolved"


def test_many_tasks_each_get_their_own_results() -> None:
    # every greenlet hands its coroutine to its own task and gets back exactly its answers
    def code(n: int) -> list[int]:
        return [_bridge.wait(_value_later(n * 100 + step, turns=(n + step) % 4))
                for step in range(5)]

    async def main() -> list[list[int]]:
        return list(await asyncio.gather(*(_bridge.run(code, n) for n in range(100))))

    assert _run(main) == [[n * 100 + step for step in range(5)] for n in range(100)]


def test_bridged_code_may_wait_for_another_bridged_run() -> None:
    def inner(x: int) -> tuple[int, bool]:
        return _bridge.wait(_value_later(x + 1)), _bridge.active()

    def outer() -> tuple[tuple[int, bool], bool]:
        nested = _bridge.wait(_bridge.run(inner, 41))
        return nested, _bridge.active()

    async def main() -> tuple[tuple[int, bool], bool]:
        return await _bridge.run(outer)

    assert _run(main) == ((42, True), True)


# --- context variables -----------------------------------------------------------------


def test_the_sync_code_sees_the_tasks_context_and_keeps_its_own_changes_to_itself() -> None:
    async def read_var() -> str:
        return _VAR.get()

    def code() -> tuple[str, str, str, str]:
        before = _VAR.get()
        _VAR.set("set inside")
        inside_after_a_wait = (_bridge.wait(_value_later(None)), _VAR.get())[1]
        # the awaited coroutine runs in the task's context: the change above is not there
        seen_by_coroutine = _bridge.wait(read_var())
        return before, inside_after_a_wait, seen_by_coroutine, _VAR.get()

    async def main() -> tuple[tuple[str, str, str, str], str]:
        _VAR.set("set by the task")
        got = await _bridge.run(code)
        return got, _VAR.get()

    (before, kept, seen_by_coroutine, at_end), caller_after = _run(main)
    assert before == "set by the task"
    assert kept == "set inside"  # the greenlet keeps its context across waits
    assert seen_by_coroutine == "set by the task"
    assert at_end == "set inside"
    assert caller_after == "set by the task"  # nothing leaks back out of run


def test_the_deadline_set_in_the_sync_code_reaches_a_coroutine_only_through_carried() -> None:
    async def remaining_end() -> float | None:
        return deadline.current_end()

    def code() -> tuple[float | None, float | None, float | None]:
        with deadline.scope(30.0):
            mine = deadline.current_end()
            bare = _bridge.wait(remaining_end())
            carried = _bridge.wait(retry.carried(remaining_end()))
        return mine, bare, carried

    async def main() -> tuple[float | None, float | None, float | None]:
        return await _bridge.run(code)

    mine, bare, carried = _run(main)
    assert mine is not None
    assert bare is None
    assert carried == mine


def test_the_retry_budget_set_in_the_sync_code_reaches_a_coroutine_only_through_carried(
        ) -> None:
    async def budget() -> object:
        return retry._BUDGET.get()

    def code() -> tuple[object, object, object]:
        mine = retry._Budget(limit=3)
        token = retry._BUDGET.set(mine)
        try:
            return mine, _bridge.wait(budget()), _bridge.wait(retry.carried(budget()))
        finally:
            retry._BUDGET.reset(token)

    async def main() -> tuple[object, object, object]:
        return await _bridge.run(code)

    mine, bare, carried = _run(main)
    assert bare is None
    assert carried is mine


# --- cancellation ----------------------------------------------------------------------


def test_cancelling_the_task_raises_in_the_sync_code_runs_its_finally_and_cancels_the_task(
        ) -> None:
    log: list[str] = []

    def code() -> None:
        try:
            log.append("waiting")
            _bridge.wait(asyncio.sleep(30))
            log.append("woke")  # must not happen
        except asyncio.CancelledError:
            log.append("cancelled inside")
            raise
        finally:
            # cleanup may itself await: the bridge keeps serving the greenlet
            log.append(_bridge.wait(_value_later("cleanup awaited")))

    async def main() -> tuple[bool, list[str]]:
        task = asyncio.create_task(_bridge.run(code))
        while log != ["waiting"]:
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return task.cancelled(), log

    cancelled, got = _run(main)
    assert cancelled
    assert got == ["waiting", "cancelled inside", "cleanup awaited"]


def test_cancelling_during_a_bridged_sleep_stops_it_at_once() -> None:
    finished: list[str] = []

    def code() -> None:
        try:
            _bridge.sleep(30)
        finally:
            finished.append("finally")

    async def main() -> float:
        task = asyncio.create_task(_bridge.run(code))
        await asyncio.sleep(0.05)
        start = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - start

    assert _run(main) < 5
    assert finished == ["finally"]


# --- misuse ----------------------------------------------------------------------------


def _no_never_awaited_warning(action: Callable[[], None]) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
        gc.collect()
    assert not [w for w in caught if "never awaited" in str(w.message)], \
        [str(w.message) for w in caught]


def test_wait_outside_run_raises_and_closes_the_coroutine() -> None:
    coros: list[Coroutine[Any, Any, Any]] = []

    def misuse() -> None:
        coro = _value_later(1)
        coros.append(coro)
        with pytest.raises(RuntimeError, match="outside"):
            _bridge.wait(coro)

    _no_never_awaited_warning(misuse)
    assert inspect.getcoroutinestate(coros[0]) == inspect.CORO_CLOSED


def test_wait_in_a_plain_coroutine_is_outside_run_too() -> None:
    coros: list[Coroutine[Any, Any, Any]] = []

    async def plain() -> None:
        coro = _value_later(1)
        coros.append(coro)
        with pytest.raises(RuntimeError, match="outside"):
            _bridge.wait(coro)

    _no_never_awaited_warning(lambda: _run(plain))
    assert inspect.getcoroutinestate(coros[0]) == inspect.CORO_CLOSED


def test_the_warning_check_itself_can_fail() -> None:
    # guards the two tests above: an abandoned coroutine is reported by that very check
    def abandon() -> None:
        _value_later(1)

    with pytest.raises(AssertionError):
        _no_never_awaited_warning(abandon)


# --- active() --------------------------------------------------------------------------


def test_active_only_inside_run() -> None:
    async def plain() -> bool:
        return _bridge.active()

    def code() -> tuple[bool, bool]:
        return _bridge.active(), _bridge.wait(plain())

    async def main() -> tuple[bool, tuple[bool, bool], bool]:
        before = _bridge.active()
        inside = await _bridge.run(code)
        return before, inside, _bridge.active()

    assert in_thread(_bridge.active) is False
    before, (inside, awaited_coroutine), after = _run(main)
    assert before is False
    assert inside is True
    assert awaited_coroutine is False  # the awaited coroutine runs in the task, not bridged
    assert after is False


# --- sleep and wait_event do not block the loop -----------------------------------------


def test_a_bridged_sleep_lets_other_tasks_run() -> None:
    async def main() -> tuple[int, float]:
        ticks = [0]
        stop = asyncio.Event()
        ticker = asyncio.create_task(_ticker(ticks, stop))
        start = time.monotonic()
        await _bridge.run(_bridge.sleep, 0.3)
        elapsed = time.monotonic() - start
        stop.set()
        await ticker
        return ticks[0], elapsed

    ticks, elapsed = _run(main)
    assert ticks >= 5  # ~30 at 10 ms; a blocking sleep would allow at most 1
    assert 0.25 <= elapsed < 5


def test_the_same_sleep_unbridged_blocks_its_thread() -> None:
    # the contrast that makes the test above meaningful
    async def main() -> int:
        ticks = [0]
        stop = asyncio.Event()
        ticker = asyncio.create_task(_ticker(ticks, stop))
        await asyncio.sleep(0)
        _bridge.sleep(0.2)
        stop.set()
        await ticker
        return ticks[0]

    assert _run(main) <= 2


def test_a_negative_sleep_is_no_sleep_on_both_faces() -> None:
    # the same code runs bridged and in a thread: a wait computed as "end - now" that came
    # out negative must not fail on one face only
    async def main() -> None:
        await _bridge.run(_bridge.sleep, -0.5)

    _run(main)
    in_thread(lambda: _bridge.sleep(-0.5))


def test_wait_event_returns_true_when_another_thread_sets_it_without_blocking_the_loop(
        ) -> None:
    event = threading.Event()

    async def main() -> tuple[bool, int]:
        ticks = [0]
        stop = asyncio.Event()
        ticker = asyncio.create_task(_ticker(ticks, stop))
        threading.Timer(0.3, event.set).start()
        got = await _bridge.run(_bridge.wait_event, event, 10.0)
        stop.set()
        await ticker
        return got, ticks[0]

    got, ticks = _run(main)
    assert got is True
    assert ticks >= 5


def test_wait_event_returns_false_on_timeout_without_blocking_the_loop() -> None:
    async def main() -> tuple[bool, int, float]:
        ticks = [0]
        stop = asyncio.Event()
        ticker = asyncio.create_task(_ticker(ticks, stop))
        start = time.monotonic()
        got = await _bridge.run(_bridge.wait_event, threading.Event(), 0.3)
        elapsed = time.monotonic() - start
        stop.set()
        await ticker
        return got, ticks[0], elapsed

    got, ticks, elapsed = _run(main)
    assert got is False
    assert ticks >= 5
    assert 0.25 <= elapsed < 5


def test_wait_event_unbridged_is_event_wait() -> None:
    event = threading.Event()
    assert _bridge.wait_event(event, 0.05) is False
    threading.Timer(0.05, event.set).start()
    assert _bridge.wait_event(event, 10.0) is True
    assert _bridge.wait_event(event, 0) is True  # already set, even with no time left


def test_wait_event_bridged_with_no_time_left_still_reports_a_set_event() -> None:
    event = threading.Event()
    event.set()

    async def main() -> tuple[bool, bool]:
        return (await _bridge.run(_bridge.wait_event, event, 0.0),
                await _bridge.run(_bridge.wait_event, threading.Event(), 0.0))

    assert _run(main) == (True, False)


# --- Lock ------------------------------------------------------------------------------


def test_two_bridged_tasks_contending_while_the_holder_awaits_do_not_deadlock() -> None:
    lock = _bridge.Lock()
    inside: list[str] = []
    peak = [0]
    order: list[str] = []

    def section(name: str, port: int) -> bytes:
        with lock:
            inside.append(name)
            peak[0] = max(peak[0], len(inside))
            order.append(f"{name} in")
            # the holder waits for a socket that only this loop can serve
            reader, writer = _bridge.wait(asyncio.open_connection("127.0.0.1", port))
            try:
                writer.write(name.encode() + b"\n")
                answer: bytes = _bridge.wait(reader.readline())
            finally:
                writer.close()
                _bridge.wait(writer.wait_closed())
            order.append(f"{name} out")
            inside.remove(name)
        return answer

    async def main() -> list[bytes]:
        go = asyncio.Event()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            line = await reader.readline()
            await go.wait()  # the first answer is held until the second is contending
            writer.write(b"echo " + line)
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            first = asyncio.create_task(_bridge.run(section, "first", port))
            while not lock.locked():
                await asyncio.sleep(0)
            second = asyncio.create_task(_bridge.run(section, "second", port))
            await asyncio.sleep(0.05)  # second is polling the lock; the loop must still run
            assert order == ["first in"]
            go.set()
            return list(await asyncio.gather(first, second))

    assert _run(main) == [b"echo first\n", b"echo second\n"]
    assert order == ["first in", "first out", "second in", "second out"]
    assert peak[0] == 1
    assert not lock.locked()


def test_a_thread_waits_for_a_bridged_holder() -> None:
    lock = _bridge.Lock()
    order: list[str] = []
    thread_done = threading.Event()

    def holder() -> None:
        with lock:
            order.append("task in")
            _bridge.sleep(0.2)  # the thread is blocked meanwhile, the loop is not
            order.append("task out")

    def other_thread() -> None:
        with lock:
            order.append("thread in")
        thread_done.set()

    async def main() -> int:
        ticks = [0]
        stop = asyncio.Event()
        ticker = asyncio.create_task(_ticker(ticks, stop))
        task = asyncio.create_task(_bridge.run(holder))
        while not lock.locked():
            await asyncio.sleep(0)
        threading.Thread(target=other_thread, daemon=True).start()
        await task
        stop.set()
        await ticker
        return ticks[0]

    ticks = _run(main)
    assert thread_done.wait(5)
    assert order == ["task in", "task out", "thread in"]
    assert ticks >= 5


def test_a_bridged_task_waits_for_a_thread_holder_without_blocking_the_loop() -> None:
    lock = _bridge.Lock()
    order: list[str] = []
    held = threading.Event()
    release = threading.Event()

    def thread_holder() -> None:
        with lock:
            order.append("thread in")
            held.set()
            release.wait(10)
            order.append("thread out")

    def bridged() -> None:
        with lock:
            order.append("task in")

    async def main() -> int:
        ticks = [0]
        stop = asyncio.Event()
        ticker = asyncio.create_task(_ticker(ticks, stop))
        threading.Thread(target=thread_holder, daemon=True).start()
        assert held.wait(5)
        task = asyncio.create_task(_bridge.run(bridged))
        await asyncio.sleep(0.2)
        assert order == ["thread in"]  # still waiting
        release.set()
        await task
        stop.set()
        await ticker
        return ticks[0]

    assert _run(main) >= 5
    assert order == ["thread in", "thread out", "task in"]


def test_a_cancelled_waiter_on_the_lock_neither_takes_nor_breaks_it() -> None:
    lock = _bridge.Lock()
    release = asyncio.Event()

    def holder() -> None:
        with lock:
            _bridge.wait(release.wait())

    def waiter() -> None:
        with lock:
            raise AssertionError("a cancelled waiter got the lock")

    async def main() -> bool:
        first = asyncio.create_task(_bridge.run(holder))
        while not lock.locked():
            await asyncio.sleep(0)
        second = asyncio.create_task(_bridge.run(waiter))
        await asyncio.sleep(0.03)
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second
        release.set()
        await first
        return lock.locked()

    assert _run(main) is False


# --- random interleavings --------------------------------------------------------------

#: one step of a task's synchronous code
_step = st.one_of(
    st.tuples(st.just("wait"), st.integers(0, 3)),  # wait for a value after n loop turns
    st.tuples(st.just("sleep"), st.sampled_from([0.0, 0.001, 0.003])),
    st.tuples(st.just("lock"), st.integers(0, 3)),  # a lock section with n waits inside
    st.tuples(st.just("raise"), st.integers(0, 2)),  # a failing wait, caught
)
_program = st.tuples(st.lists(_step, max_size=6), st.booleans())  # steps, fail at the end


class _Boom(Exception):
    pass


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(programs=st.lists(_program, min_size=1, max_size=5))
def test_random_interleavings_keep_results_and_mutual_exclusion(
        programs: list[tuple[list[tuple[str, Any]], bool]]) -> None:
    lock = _bridge.Lock()
    holders: list[int] = []
    violations: list[str] = []

    def expected(index: int, steps: list[tuple[str, Any]]) -> list[Any]:
        out: list[Any] = []
        for position, (kind, arg) in enumerate(steps):
            tag = (index, position)
            out.append({"wait": (tag, arg), "sleep": (tag, "slept"), "lock": (tag, "locked"),
                        "raise": (tag, "caught")}[kind])
        return out

    def program(index: int, steps: list[tuple[str, Any]], fail: bool) -> list[Any]:
        out: list[Any] = []
        for position, (kind, arg) in enumerate(steps):
            tag = (index, position)
            if kind == "wait":
                out.append(_bridge.wait(_value_later((tag, arg), turns=arg)))
            elif kind == "sleep":
                _bridge.sleep(arg)
                out.append((tag, "slept"))
            elif kind == "lock":
                with lock:
                    holders.append(index)
                    if len(holders) != 1:
                        violations.append(f"{holders} inside together")
                    for turn in range(arg):
                        _bridge.wait(_value_later(None, turns=turn + 1))
                    holders.remove(index)
                out.append((tag, "locked"))
            else:
                try:
                    _bridge.wait(_fail_later(_Boom(tag)))
                except _Boom as exc:
                    # the failure of this very wait, not another task's
                    out.append((tag, "caught") if exc.args == (tag,) else (tag, exc.args))
        if fail:
            raise _Boom(index)
        return out

    async def main() -> list[Any]:
        return list(await asyncio.gather(
            *(_bridge.run(program, i, steps, fail) for i, (steps, fail) in enumerate(programs)),
            return_exceptions=True))

    results = _run(main)
    assert not violations
    assert not lock.locked()
    for index, ((steps, fail), result) in enumerate(zip(programs, results, strict=True)):
        if fail:
            assert isinstance(result, _Boom)
            assert result.args == (index,)
        else:
            assert result == expected(index, steps)
