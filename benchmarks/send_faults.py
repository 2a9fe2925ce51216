"""Deliveries and requests per send under faults: inboxlink next to the raw client library.

Runs against the local emulators (tests/gmail, tests/graph) over real HTTP, through the fault
proxy of tests/faults. Each send meets one fault; the emulator counts what it received and
delivered. A raw client that repeats a send shows up as more than one delivery per send.

    python benchmarks/send_faults.py [--sends 20]

Faults:
  closed-unanswered  the server reads the request, acts on it and closes without answering
  503                the server refuses with 503 Service Unavailable (Retry-After: 0)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import pathlib
import sys
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))

from inboxlink import OutgoingMessage
from inboxlink.adapters.gmail import GmailMailbox, GmailSettings
from inboxlink.adapters.gmail.connection import authorized_http, build_service
from inboxlink.adapters.graph import GraphMailbox, GraphSettings
from inboxlink.retry import RetryPolicy
from tests.faults.proxy import Fault, FaultProxy
from tests.gmail.emulator import GmailEmulator
from tests.graph.emulator import GraphEmulator

RAW = (b"From: alice@example.com\r\nTo: bob@example.com\r\nSubject: bench\r\n"
       b"Message-ID: <bench@example.com>\r\n\r\nhello\r\n")


def _message() -> OutgoingMessage:
    return OutgoingMessage(to=["bob@example.com"], subject="bench", text="hello")


def gmail(sends: int) -> list[tuple[str, str, float, float]]:
    rows = []
    for who in ("raw google-api-python-client", "inboxlink"):
        emu = GmailEmulator().start()
        proxy = FaultProxy(("127.0.0.1", int(emu.url.rsplit(":", 1)[1].strip("/")))).start()
        settings = GmailSettings(address=emu.address, access_token="good-token",
                                 api_endpoint=proxy.url, timeout=5.0,
                                 retry=RetryPolicy(max_attempts=4))
        box = GmailMailbox(settings)
        raw_svc = build_service(settings, authorized_http(settings))
        for _ in range(sends):
            proxy.arm(Fault("cut", when=b"/messages/send"))
            try:
                if who == "inboxlink":
                    box.send(_message())
                else:
                    body = {"raw": base64.urlsafe_b64encode(RAW).decode()}
                    raw_svc.users().messages().send(userId="me", body=body).execute()
            except Exception:  # counting outcomes, not handling them
                pass
        rows.append(("gmail closed-unanswered", who, len(emu.outbox) / sends,
                     emu.calls.count("messages.send") / sends))
        box.close()
        proxy.stop()
        emu.stop()
    return rows


def _raw_graph_send(emu: GraphEmulator, base_url: str) -> None:
    """sendMail through msgraph-sdk's default middleware (its RetryHandler on)."""
    from kiota_abstractions.authentication import BaseBearerTokenAuthenticationProvider
    from kiota_abstractions.method import Method
    from kiota_abstractions.request_information import RequestInformation
    from msgraph.graph_request_adapter import GraphRequestAdapter
    from msgraph_core import GraphClientFactory  # type: ignore[import-untyped]

    from inboxlink.adapters.graph.connection import ERROR_MAP, TokenSource

    async def run() -> None:
        settings = GraphSettings(address=emu.address, access_token=emu.token, base_url=base_url)
        http = GraphClientFactory.create_with_default_middleware()
        adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(
            TokenSource(settings)), client=http)
        info = RequestInformation(Method.POST)
        info.url = base_url + "/me/sendMail"
        info.set_stream_content(base64.b64encode(RAW), "text/plain")
        try:
            await adapter.send_no_response_content_async(info, ERROR_MAP)
        finally:
            await http.aclose()

    asyncio.run(run())


def graph(sends: int) -> list[tuple[str, str, float, float]]:
    rows = []
    for fault in ("closed-unanswered", "503"):
        for who in ("raw msgraph-sdk", "inboxlink"):
            emu = GraphEmulator().start()
            proxy = FaultProxy(("127.0.0.1", emu.server.server_address[1])).start()
            base = f"http://127.0.0.1:{proxy.port}/v1.0"
            box = GraphMailbox(GraphSettings(address=emu.address, access_token=emu.token,
                                             base_url=base, timeout=10.0))
            for _ in range(sends):
                if fault == "503":
                    emu.fail(503, "ServiceUnavailable", "busy", path=r"/sendMail$", times=10,
                             headers={"Retry-After": "0"})
                else:
                    proxy.arm(Fault("cut", when=b"/sendMail"))
                try:
                    if who == "inboxlink":
                        box.send(_message())
                    else:
                        _raw_graph_send(emu, base)
                except Exception:  # counting outcomes, not handling them
                    pass
                emu.failures.clear()
            rows.append((f"graph {fault}", who, len(emu.outbox) / sends,
                         emu.count("POST", r"/sendMail$") / sends))
            box.close()
            proxy.stop()
            emu.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=20)
    args = parser.parse_args()
    rows: list[Any] = gmail(args.sends) + graph(args.sends)
    print(f"{'fault':28} {'client':30} {'deliveries/send':>16} {'requests/send':>14}")
    for fault, who, delivered, requests in rows:
        print(f"{fault:28} {who:30} {delivered:16.2f} {requests:14.2f}")


if __name__ == "__main__":
    main()
