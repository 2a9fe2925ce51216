"""Graph bulk actions: marking N messages read and moving N, in requests and wall time.

inboxlink (PATCH / POST move, 20 per JSON $batch, up to 4 batches in flight per mailbox)
against a per-message loop with the raw msgraph-sdk doing the same work (one PATCH or one
POST .../move per message), both over real HTTP to the local Graph emulator. Loopback hides
latency, so the table also estimates each run at a 50 ms round trip; for the batched path
that estimate is pessimistic (it ignores the 4 batches in flight).

Run: python benchmarks/graph_actions.py [N]
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import _bench  # noqa: F401  (puts the repository and tests/ on sys.path)

os.environ.setdefault("INBOXLINK_NO_RETRY_WAIT", "1")

from benchmarks.graph_requests import naive_client
from inboxlink import FolderRole
from inboxlink.adapters.graph import GraphMailbox, GraphSettings
from inboxlink.testing.conformance import make_message
from tests.graph.emulator import GraphEmulator

RTT = 0.050


def timed(emu: GraphEmulator, fn: Callable[[], Any]) -> tuple[int, float, Any]:
    before = emu.count()
    started = time.perf_counter()
    result = fn()
    return emu.count() - before, time.perf_counter() - started, result


async def naive_read(emu: GraphEmulator, ids: list[str]) -> None:
    from msgraph.generated.models.message import Message

    client = naive_client(emu)
    for mid in ids:
        await client.me.messages.by_message_id(mid).patch(Message(is_read=False))


async def naive_move(emu: GraphEmulator, ids: list[str], destination: str) -> list[str]:
    from msgraph.generated.users.item.messages.item.move.move_post_request_body import (
        MovePostRequestBody,
    )

    client = naive_client(emu)
    out = []
    for mid in ids:
        moved = await client.me.messages.by_message_id(mid).move.post(
            MovePostRequestBody(destination_id=destination))
        out.append(moved.id)
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    emu = GraphEmulator().start()
    ids = [emu.deliver(make_message(i)) for i in range(n)]
    box = GraphMailbox(GraphSettings(address=emu.address, access_token=emu.token,
                                     base_url=emu.base_url))
    box.folders()
    rows = []
    req, secs, _ = timed(emu, lambda: box.set_read(ids))
    assert all(emu.messages[i]["json"]["isRead"] for i in ids)
    rows.append(("read", "inboxlink set_read ($batch x20)", req, secs))
    req, secs, _ = timed(emu, lambda: asyncio.run(naive_read(emu, ids)))
    assert not any(emu.messages[i]["json"]["isRead"] for i in ids)
    rows.append(("read", "msgraph-sdk, 1 PATCH each", req, secs))
    req, secs, moved = timed(emu, lambda: box.move(ids, FolderRole.ARCHIVE))
    assert len(moved) == n
    rows.append(("move", "inboxlink move ($batch x20)", req, secs))
    archived = [v for v in moved.values() if v]
    req, secs, back = timed(emu, lambda: asyncio.run(naive_move(emu, archived, "inbox")))
    assert len(back) == n
    rows.append(("move", "msgraph-sdk, 1 POST move each", req, secs))
    box.close()
    emu.stop()

    print(f"{'op':5} {'how':34} {'items':>6} {'requests':>9} {'wall s':>8} {'@50ms RTT s':>12}")
    for op, how, req, secs in rows:
        print(f"{op:5} {how:34} {n:6d} {req:9d} {secs:8.3f} {secs + req * RTT:12.2f}")
    for op in ("read", "move"):
        mine, naive = [r for r in rows if r[0] == op]
        print(f"{op}: requests {naive[2] / mine[2]:.0f}x fewer; loopback wall "
              f"{naive[3] / mine[3]:.2f}x; at 50 ms RTT "
              f"{(naive[3] + naive[2] * RTT) / (mine[3] + mine[2] * RTT):.1f}x")


if __name__ == "__main__":
    main()
