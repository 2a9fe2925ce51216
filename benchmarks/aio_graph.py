"""The async face over a real network: 200 concurrent Graph fetches across 50 mailboxes on one
event loop, against the synchronous API in a thread pool; and the loop's responsiveness while
IMAP calls and an IDLE ``watch()`` run in worker threads.

Graph (issue 18). The Graph emulator of the tests runs in a child process (its server threads
do not share our GIL or our thread count) and holds every HTTP request for a simulated 20 ms
round trip. 50 ``GraphMailbox`` objects, 50 addresses (app-only ``/users/<address>`` paths, so
50 limiters at the default ``max_concurrent=4``), fetch 200 distinct messages, 4 per mailbox,
all at once, from one asyncio loop:

* sync API in a thread pool of 8 / 40 threads (``loop.run_in_executor``); the requests run on
  inboxlink's shared Graph loop thread;
* the native async face (``aio.wrap``: msgraph-sdk on the caller's loop, no thread);
* the threaded async face forced (``ThreadedAsyncMailbox``: a worker thread per call, which
  then waits on the shared Graph loop).

Each side gets fresh mailboxes: "cold" opens their connections (and, for the sync API, starts
the shared loop thread once); "warm" is the median of 3 more runs on the same objects. Per run:
wall time; max loop lag (a ticker task sleeping 5 ms, how much later than 5 ms it woke); new
threads (seen during the run, not before it: the threads a side starts show in its cold run);
the requests the emulator got (outer ``$batch`` POSTs, items inside them, anything else) and
the most requests one mailbox had in flight at once. The run stops with an AssertionError if
a fetch returns the wrong message, the counts differ from 200 / 200 / 0 on any side, or any
mailbox had more than 4 requests in flight.

Cold start of the native face: the first call of a mailbox on a loop builds that loop's session
(an httpx client, with its TLS context) on the loop; the lag of 1 and of 50 cold mailboxes.

IMAP. A loopback Dovecot over TLS (needs root, like benchmarks/imap_fetch.py) with one
account: 40 concurrent calls (20 ``fetch`` + 20 ``list_messages``) through ``aio.wrap`` (worker
threads, 4 connections) while an IDLE ``watch()`` without a timeout runs on the same loop; the
ticker's max lag idle, during the calls, and the delivery → hint latency of the watch (Dovecot
itself waits 0.5 s after a change before it tells IDLE clients).

Run: ``python benchmarks/aio_graph.py`` (about a minute; it starts its own emulator and Dovecot).
benchmarks/aio_fetch.py is the same shape over in-memory fakes with a simulated blocking call.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import re
import statistics
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

import _bench  # noqa: F401  (puts the repository and tests/ on sys.path)

from inboxlink import aio
from inboxlink.adapters.graph import GraphMailbox, GraphSettings
from inboxlink.aio.native import NativeAsyncMailbox
from inboxlink.aio.threaded import ThreadedAsyncMailbox
from inboxlink.models import Message
from inboxlink.testing.conformance import make_message

MAILBOXES, PER_MAILBOX, RTT, TICK = 50, 4, 0.020, 0.005
CALLS = MAILBOXES * PER_MAILBOX
WARM_RUNS = 3
IMAP_CALLS, IMAP_MESSAGES = 40, 200


# ---------------------------------------------------------------------- the emulator process
def _emulator_process(pipe: Connection) -> None:
    """Serve the Graph emulator in this (child) process; answer the parent's commands."""
    from tests.graph.emulator import GraphEmulator

    class ManyUsers(GraphEmulator):
        """One store, any number of users: ``/users/<address>`` is served as the emulator's one
        user. The handler counts requests in flight per address before `dispatch` (from the
        raw path, or a ``$batch``'s first item), so the per-mailbox peaks stay per address."""

        def dispatch(self, method: str, raw_path: str, headers: dict[str, str], body: bytes,
                     *, in_batch: bool = False) -> tuple[int, dict[str, str], Any]:
            raw_path = re.sub(r"^/v1\.0/users/[^/?]+", "/v1.0/users/user-object-id", raw_path)
            return super().dispatch(method, raw_path, headers, body, in_batch=in_batch)

    emu = ManyUsers().start()
    # socketserver listens with a backlog of 5; 200 clients connecting at once would overflow
    # it and wait out TCP's 1 s SYN retransmit, which no real Graph front end makes anyone do.
    emu.server.socket.listen(1024)
    pipe.send((emu.base_url, emu.token))
    while True:
        command, arg = pipe.recv()
        if command == "deliver":
            pipe.send([emu.deliver(make_message(n)) for n in range(arg)])
        elif command == "delay":
            emu.delay = arg
            pipe.send(None)
        elif command == "reset":
            with emu.lock:
                emu.requests.clear()
                emu.peak.clear()
            pipe.send(None)
        elif command == "stats":
            with emu.lock:
                batches = emu.count("POST", r"/\$batch$")
                pipe.send({"batch": batches, "items": emu.count(in_batch=True),
                           "other": emu.count() - batches,
                           "peak": max(emu.peak.values(), default=0),
                           "mailboxes": len(emu.peak)})
        else:
            emu.stop()
            pipe.send(None)
            return


class Emulator:
    """The parent's handle on the emulator process."""

    def __init__(self) -> None:
        # Forked before this process starts any thread of its own.
        context = multiprocessing.get_context("fork")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_emulator_process, args=(child,), daemon=True)
        self._process.start()
        self.base_url, self.token = self._pipe.recv()

    def call(self, command: str, arg: Any = None) -> Any:
        self._pipe.send((command, arg))
        return self._pipe.recv()

    def stop(self) -> None:
        self.call("stop")
        self._process.join(5)


# ---------------------------------------------------------------------- measuring
class Probe:
    """While running: the loop's max lag (a task sleeping `TICK`), and the threads seen (at
    every tick and at the end: threads that start and end between two ticks go unseen, but
    pool and worker threads live on)."""

    def __init__(self) -> None:
        self.lag = 0.0
        self.before = {t.ident for t in threading.enumerate()}
        self.seen: set[int | None] = set(self.before)
        self._task: asyncio.Task[None] | None = None

    def _sample(self) -> None:
        self.seen.update(t.ident for t in threading.enumerate())

    async def _tick(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(TICK)
            self.lag = max(self.lag, time.perf_counter() - before - TICK)
            self._sample()

    def __enter__(self) -> Probe:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self._sample()

    @property
    def new_threads(self) -> int:
        return len(self.seen - self.before)


Row = dict[str, Any]


async def measured(emu: Emulator, run: Runner, ids: list[str]) -> Row:
    """One run of ``run`` (fetching ``ids``): wall time, lag, threads and the emulator's
    counts, checked."""
    emu.call("reset")
    await asyncio.sleep(0.05)  # let the ticker's first sleep start from a quiet loop
    with Probe() as probe:
        started = time.perf_counter()
        messages = await run()
        wall = time.perf_counter() - started
        await asyncio.sleep(TICK * 2)  # one more tick after the last result
    assert [m.id for m in messages] == ids, "a fetch returned another message"
    assert all(m.raw for m in messages)
    stats = emu.call("stats")
    calls = len(ids)
    assert (stats["batch"], stats["items"], stats["other"]) == (calls, calls, 0), stats
    assert stats["mailboxes"] == min(calls, MAILBOXES), stats
    assert stats["peak"] <= PER_MAILBOX, f"max_concurrent exceeded: {stats}"
    return {"wall": wall, "lag": probe.lag, "new_threads": probe.new_threads, **stats}


def make_mailboxes(emu: Emulator) -> list[GraphMailbox]:
    boxes = []
    for n in range(MAILBOXES):
        address = f"user{n:02d}@contoso.com"
        boxes.append(GraphMailbox(GraphSettings(address=address, user_id=address,
                                                access_token=emu.token,
                                                base_url=emu.base_url)))
    return boxes


def assignment(ids: list[str]) -> Iterator[tuple[int, str]]:
    """Call n fetches message n through mailbox n % 50 (so 4 calls per mailbox)."""
    return ((n % MAILBOXES, mid) for n, mid in enumerate(ids))


Runner = Callable[[], Awaitable[list[Message]]]
Closer = Callable[[], Awaitable[None]]
Setup = Callable[[list[GraphMailbox], list[str]], tuple[Runner, Closer]]


def sync_pool(threads: int) -> Setup:
    """The synchronous API, each call in a pool thread (what ``asyncio.to_thread`` does)."""
    def setup(boxes: list[GraphMailbox], ids: list[str]) -> tuple[Runner, Closer]:
        pool = ThreadPoolExecutor(threads, thread_name_prefix="bench-pool")
        loop = asyncio.get_running_loop()

        async def run() -> list[Message]:
            return list(await asyncio.gather(*(loop.run_in_executor(pool, boxes[n].fetch, mid)
                                               for n, mid in assignment(ids))))

        async def close() -> None:
            await loop.run_in_executor(pool, lambda: [box.close() for box in boxes])
            pool.shutdown()

        return run, close
    return setup


def faces(make: Callable[[GraphMailbox], ThreadedAsyncMailbox]) -> Setup:
    """An async face per mailbox, ``make(mailbox)``; every call a task of this loop."""
    def setup(boxes: list[GraphMailbox], ids: list[str]) -> tuple[Runner, Closer]:
        wrapped = [make(box) for box in boxes]

        async def run() -> list[Message]:
            return list(await asyncio.gather(*(wrapped[n].fetch(mid)
                                               for n, mid in assignment(ids))))

        async def close() -> None:
            for face in wrapped:
                await face.aclose()

        return run, close
    return setup


def native(box: GraphMailbox) -> ThreadedAsyncMailbox:
    face = aio.wrap(box)
    assert isinstance(face, NativeAsyncMailbox), face
    return face


def threaded(box: GraphMailbox) -> ThreadedAsyncMailbox:
    # The cap of the native face's limiter, so both faces allow 4 calls per mailbox.
    return ThreadedAsyncMailbox(box, concurrency=PER_MAILBOX)


async def graph_part(emu: Emulator) -> list[tuple[str, Row, Row]]:
    ids = emu.call("deliver", CALLS)
    # Imports msgraph/kiota's lazily loaded modules once, so no side's cold run pays for them.
    # Natively: the shared Graph loop thread is then started by the first side that needs it.
    warm_up = native(GraphMailbox(GraphSettings(
        address="warmup@contoso.com", user_id="warmup@contoso.com", access_token=emu.token,
        base_url=emu.base_url)))
    await warm_up.fetch(ids[0])
    await warm_up.aclose()
    emu.call("delay", RTT)
    sides = [
        ("async face, native on this loop (aio.wrap)", faces(native)),
        ("async face, threaded (ThreadedAsyncMailbox)", faces(threaded)),
        ("sync API, thread pool of  8", sync_pool(8)),
        ("sync API, thread pool of 40", sync_pool(40)),
    ]
    results = []
    for label, setup in sides:
        boxes = make_mailboxes(emu)
        run, close = setup(boxes, ids)
        cold = await measured(emu, run, ids)
        warm = [await measured(emu, run, ids) for _ in range(WARM_RUNS)]
        await close()
        results.append((label, cold, median_row(warm)))
    return results


async def cold_native_part(emu: Emulator) -> list[tuple[str, Row]]:
    """What the first calls of cold mailboxes cost the native face's loop: each mailbox builds
    its session for this loop then (an httpx client with its TLS context) on the loop."""
    ids = emu.call("deliver", CALLS)
    rows = []
    for label, count in (("1 cold mailbox, 1 fetch", 1),
                         (f"{MAILBOXES} cold mailboxes, 1 fetch each", MAILBOXES),
                         (f"{MAILBOXES} cold mailboxes, {PER_MAILBOX} fetches each", CALLS)):
        boxes = make_mailboxes(emu)
        run, close = faces(native)(boxes, ids[:count])
        rows.append((label, await measured(emu, run, ids[:count])))
        await close()
    return rows


def print_cold(rows: list[tuple[str, Row]]) -> None:
    print("\nCold start of the native face (fresh mailboxes, first calls), same emulator")
    print(f"{'what':<45} {'wall s':>6} {'lag ms':>6}")
    for what, row in rows:
        print(f"{what:<45} {row['wall']:6.3f} {row['lag'] * 1000:6.1f}")


def median_row(rows: list[Row]) -> Row:
    return {key: statistics.median(row[key] for row in rows) for key in rows[0]}


def print_graph(rows: list[tuple[str, Row, Row]]) -> None:
    print(f"\nGraph: {CALLS} concurrent fetch across {MAILBOXES} mailboxes "
          f"({PER_MAILBOX} each, max_concurrent=4), {RTT * 1000:.0f} ms per HTTP request; "
          f"warm = median of {WARM_RUNS}")
    print(f"{'side':<45} {'run':<4} {'wall s':>6} {'lag ms':>6} {'new threads':>11} "
          f"{'$batch':>6} {'items':>5} {'other':>5} {'peak/mbx':>8}")
    for label, cold, warm in rows:
        for name, row in (("cold", cold), ("warm", warm)):
            print(f"{label:<45} {name:<4} {row['wall']:6.3f} {row['lag'] * 1000:6.1f} "
                  f"{row['new_threads']:11.0f} {row['batch']:6.0f} "
                  f"{row['items']:5.0f} {row['other']:5.0f} {row['peak']:8.0f}")
            label = ""
    print("new threads: the first side needing inboxlink's shared Graph loop thread starts it "
          "(+1);\nthe threaded face runs each call in an anyio worker (≤ 4 per mailbox).")


# ---------------------------------------------------------------------- IMAP in threads
async def imap_part() -> list[tuple[str, float, float]]:
    from _imap_peer import Peer

    from inboxlink.adapters.imap import ImapMailbox

    peer = await asyncio.to_thread(Peer, IMAP_MESSAGES, name="aiograph")
    rows: list[tuple[str, float, float]] = []
    try:
        box = ImapMailbox(peer.settings())
        face = aio.wrap(box)
        assert isinstance(face, ThreadedAsyncMailbox)
        assert not isinstance(face, NativeAsyncMailbox)
        hints: asyncio.Queue[float] = asyncio.Queue()

        async def watching() -> None:
            async for _ in face.watch():  # no timeout: IDLE until cancelled
                hints.put_nowait(time.perf_counter())

        with Probe() as probe:  # the machine's own noise, for reference
            await asyncio.sleep(1.0)
        rows.append(("1 s of an idle loop, no watch", 1.0, probe.lag))
        watcher = asyncio.get_running_loop().create_task(watching())
        for what in ("watch() starting (connect, log in, IDLE)", "watch() in IDLE, nothing else"):
            with Probe() as probe:
                await asyncio.sleep(1.0)
            rows.append((f"1 s of an idle loop, {what}", 1.0, probe.lag))
        ids = [s.id for s in (await face.list_messages(limit=IMAP_MESSAGES)).items]

        async def calls() -> None:
            await asyncio.gather(*(face.fetch(ids[n]) if n % 2 else face.list_messages(limit=50)
                                   for n in range(IMAP_CALLS)))

        for name in ("cold", "warm", "warm"):
            with Probe() as probe:
                started = time.perf_counter()
                await calls()
                wall = time.perf_counter() - started
            rows.append((f"{IMAP_CALLS} calls (fetch + list_messages), {name}", wall, probe.lag))
        other = await asyncio.to_thread(peer.raw_client)
        with Probe() as probe:
            started = time.perf_counter()
            await asyncio.to_thread(other.append, "INBOX", make_message(10_000))
            seen = await asyncio.wait_for(hints.get(), 30)
        rows.append(("a delivery → the watch's hint (Dovecot waits 0.5 s)", seen - started,
                     probe.lag))
        await asyncio.to_thread(other.logout)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await face.aclose()
    finally:
        await asyncio.to_thread(peer.stop)
    return rows


def print_imap(rows: list[tuple[str, float, float]]) -> None:
    print("\nIMAP through aio.wrap (worker threads, max_connections=4), loopback Dovecot over TLS,"
          "\nwith an IDLE watch() (no timeout) on the same loop")
    print(f"{'what':<64} {'wall s':>6} {'max loop lag ms':>15}")
    for what, wall, lag in rows:
        print(f"{what:<64} {wall:6.3f} {lag * 1000:15.1f}")


async def main(emu: Emulator) -> None:
    print_graph(await graph_part(emu))
    print_cold(await cold_native_part(emu))
    if os.geteuid() == 0:
        print_imap(await imap_part())
    else:
        print("\nIMAP part left out: Dovecot needs root")


if __name__ == "__main__":
    emulator = Emulator()
    try:
        asyncio.run(main(emulator))
    finally:
        emulator.stop()
