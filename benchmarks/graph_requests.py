"""Graph adapter: requests and wall time for listing and fetching 1,000 messages.

inboxlink (one $top=1000 page, $batch of 20 MIME downloads) against the naive use of the
same msgraph-sdk (default paging, one /$value request per message), both talking to the
local Graph emulator of tests/graph over real HTTP on loopback. Loopback hides latency, so
the table also estimates each run at a 50 ms round trip (requests x RTT).

Run: python benchmarks/graph_requests.py [N]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import _bench  # noqa: F401  (puts the repository and tests/ on sys.path)

os.environ.setdefault("INBOXLINK_NO_RETRY_WAIT", "1")

from inboxlink.adapters.graph import GraphMailbox, GraphSettings
from inboxlink.testing.conformance import make_message
from tests.graph.emulator import GraphEmulator

RTT = 0.050
RUNS = 3


def naive_client(emu: GraphEmulator) -> Any:
    from kiota_abstractions.authentication import (
        AccessTokenProvider,
        AllowedHostsValidator,
        BaseBearerTokenAuthenticationProvider,
    )
    from msgraph.graph_request_adapter import GraphRequestAdapter
    from msgraph.graph_service_client import GraphServiceClient

    class Static(AccessTokenProvider):
        async def get_authorization_token(self, uri: str, ctx: Any = None) -> str:
            return emu.token

        def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
            return AllowedHostsValidator(["127.0.0.1"])

    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(Static()))
    adapter.base_url = emu.base_url
    return GraphServiceClient(request_adapter=adapter)


async def naive_list(emu: GraphEmulator, folder_id: str, top: int | None = None) -> list[str]:
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.users.item.mail_folders.item.messages.messages_request_builder import (
        MessagesRequestBuilder,
    )

    client = naive_client(emu)
    builder = client.me.mail_folders.by_mail_folder_id(folder_id).messages
    query = MessagesRequestBuilder.MessagesRequestBuilderGetQueryParameters(top=top)
    page = await builder.get(RequestConfiguration(query_parameters=query) if top else None)
    ids = [m.id for m in page.value]
    while page.odata_next_link:
        page = await builder.with_url(page.odata_next_link).get()
        ids.extend(m.id for m in page.value)
    return ids


async def naive_fetch(emu: GraphEmulator, ids: list[str]) -> int:
    client = naive_client(emu)
    total = 0
    for mid in ids:
        total += len(await client.me.messages.by_message_id(mid).content.get())
    return total


def measure(emu: GraphEmulator, fn: Callable[[], Any]) -> tuple[int, float, Any]:
    times, requests, result = [], 0, None
    for _ in range(RUNS):
        before = emu.count()
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
        requests = emu.count() - before
    return requests, statistics.median(times), result


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    emu = GraphEmulator().start()
    for i in range(n):
        emu.deliver(make_message(i, body=f"Body {i}\n" + "lorem ipsum dolor sit amet " * 80))
    box = GraphMailbox(GraphSettings(address=emu.address, access_token=emu.token,
                                     base_url=emu.base_url))
    inbox = box.folder("inbox")
    rows = []
    req, secs, ids = measure(emu, lambda: [s.id for s in box.iter_messages(inbox, page_size=1000)])
    rows.append(("list", "inboxlink ($top=1000)", len(ids), req, secs))
    req, secs, naive_ids = measure(emu, lambda: asyncio.run(naive_list(emu, inbox.id)))
    rows.append(("list", "msgraph-sdk, default paging", len(naive_ids), req, secs))
    req, secs, naive_ids = measure(emu, lambda: asyncio.run(naive_list(emu, inbox.id, 1000)))
    rows.append(("list*", "msgraph-sdk, $top=1000, models", len(naive_ids), req, secs))
    req, secs, got = measure(emu, lambda: box.fetch_many(ids))
    rows.append(("fetch", "inboxlink ($batch x20)", len(got), req, secs))
    req, secs, _ = measure(emu, lambda: asyncio.run(naive_fetch(emu, ids)))
    rows.append(("fetch", "msgraph-sdk, 1 GET /$value each", n, req, secs))
    box.close()
    emu.stop()

    print(f"{'op':6} {'how':34} {'items':>6} {'requests':>9} {'wall s':>8} "
          f"{'@50ms RTT s':>12}")
    for op, how, items, req, secs in rows:
        print(f"{op:6} {how:34} {items:6d} {req:9d} {secs:8.3f} {secs + req * RTT:12.2f}")
    for op in ("list", "fetch"):
        mine, naive = [r for r in rows if r[0] == op][:2]
        print(f"{op}: requests {naive[3] / mine[3]:.0f}x fewer; loopback wall "
              f"{naive[4] / mine[4]:.2f}x; at 50 ms RTT "
              f"{(naive[4] + naive[3] * RTT) / (mine[4] + mine[3] * RTT):.1f}x")


if __name__ == "__main__":
    main()
