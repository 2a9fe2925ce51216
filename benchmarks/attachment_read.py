"""Saving a 75 MB attachment from a 100 MB message on Graph, Gmail and EWS, side by side.

Two ways per adapter, each in a fresh child process against the emulators of the test suite
(started once, in this parent process):

- ``native``: ``mailbox.save_attachment`` — Graph ``/attachments/{id}/$value`` streamed,
  Gmail ``attachments.get`` decoded into the file, EWS ``GetAttachment`` streamed;
- ``raw``: the client library used directly, the way its documentation shows — msgraph-sdk
  ``attachments.by_attachment_id(id).get()`` (``contentBytes`` in JSON), googleapiclient
  ``messages.get(format=full)`` + ``attachments.get().execute()`` then ``urlsafe_b64decode``,
  exchangelib ``account.fetch(only_fields=["attachments"])`` then ``attachment.content``;
- ``whole``: the round-1 way, ``BaseMailbox.save_attachment`` — download the whole message,
  parse it, write the part (what every adapter did before native reads).

Reported per run: bytes on the wire from server to client (counted by a TCP relay in this
process that the child connects through), requests (counted by the emulators), the child's
peak RSS growth during the call (Linux ``clear_refs`` / ``VmHWM``, the helper of
``imap_attachment.py``; the mailbox has already made one request, so library start-up is
not counted), seconds, and whether the file is byte-exact.

    python benchmarks/attachment_read.py [--megabytes 75]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import _bench  # noqa: F401  (puts the repository and tests/ on sys.path)

ADDRESS = "alice@example.com"
MODES = ("native", "raw", "whole")
ADAPTERS = ("graph", "gmail", "ews")


class Relay:
    """A loopback TCP relay in front of one emulator, counting the bytes it hands back."""

    def __init__(self, port: int) -> None:
        import socket
        import threading

        self.target = port
        self.down = 0  #: bytes server → client
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            client, _ = self._listener.accept()
            server = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pipe, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, True), daemon=True).start()

    def _pipe(self, source: Any, sink: Any, count: bool) -> None:
        try:
            while data := source.recv(1 << 20):
                sink.sendall(data)
                if count:
                    with self._lock:
                        self.down += len(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(2)


def _via(url: str, relay: Relay) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"127.0.0.1:{relay.port}"))


def _message(payload: bytes) -> bytes:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "Lab <lab@example.net>"
    msg["To"] = ADDRESS
    msg["Subject"] = "The archive"
    msg["Message-ID"] = "<archive-75mb@example.net>"
    msg.set_content("The archive is attached.\n")
    msg.add_attachment(payload, maintype="application", subtype="zip", filename="archive.zip")
    return msg.as_bytes()


def _open(adapter: str, config: dict[str, Any]) -> Any:
    from inboxlink.retry import RetryPolicy

    retry = RetryPolicy(max_attempts=1)
    if adapter == "graph":
        from inboxlink.adapters.graph import GraphMailbox, GraphSettings

        return GraphMailbox(GraphSettings(address=ADDRESS, access_token=config["graph_token"],
                                          base_url=config["graph_url"], retry=retry,
                                          timeout=600))
    if adapter == "gmail":
        from inboxlink.adapters.gmail import GmailMailbox, GmailSettings

        return GmailMailbox(GmailSettings(address="alice@gmail.com", access_token="good-token",
                                          api_endpoint=config["gmail_url"], retry=retry,
                                          timeout=600))
    from inboxlink.adapters.ews import EwsMailbox, EwsSettings

    return EwsMailbox(EwsSettings(address=ADDRESS, url=config["ews_url"], password="pw",
                                  retry=retry, timeout=600))


def _raw_graph(config: dict[str, Any], message_id: str, part: str) -> bytes:
    import asyncio

    from benchmarks.graph_requests import naive_client

    class Emulator:  # what naive_client reads
        token, base_url = config["graph_token"], config["graph_url"]

    async def get() -> bytes:
        client = naive_client(Emulator)
        found = await (client.me.messages.by_message_id(message_id).attachments
                       .by_attachment_id(part).get())
        return bytes(getattr(found, "content_bytes", b"") or b"")

    return asyncio.run(get())


def _raw_gmail(config: dict[str, Any], message_id: str, part: str) -> bytes:
    import base64

    import google_auth_httplib2
    import httplib2
    from google.oauth2.credentials import Credentials
    from googleapiclient.discovery import build_from_document
    from googleapiclient.discovery_cache import get_static_doc

    http = google_auth_httplib2.AuthorizedHttp(Credentials(token="good-token"),
                                               http=httplib2.Http(timeout=600))
    service = build_from_document(get_static_doc("gmail", "v1"), http=http,
                                  client_options={"api_endpoint": config["gmail_url"]})
    messages = service.users().messages()
    full = messages.get(userId="me", id=message_id, format="full").execute()
    stack, attachment_id = [full["payload"]], None
    while stack:
        node = stack.pop()
        if node.get("partId") == part:
            attachment_id = node["body"]["attachmentId"]
        stack.extend(node.get("parts") or ())
    found = messages.attachments().get(userId="me", messageId=message_id,
                                       id=attachment_id).execute()
    return base64.urlsafe_b64decode(found["data"])


def _raw_ews(mailbox: Any, message_id: str, part: str) -> bytes:
    (item,) = mailbox.account.fetch(ids=[(message_id, None)], only_fields=["attachments"])
    (attachment,) = [a for a in item.attachments if a.attachment_id.id == part]
    return bytes(attachment.content)


def child(adapter: str, mode: str, config: dict[str, Any]) -> None:
    """Save the attachment one way, in this fresh process; print one JSON line."""
    from _bench import peak_kb, reset_peak

    from inboxlink.mailbox import BaseMailbox

    mailbox = _open(adapter, config)
    message_id, part = config[f"{adapter}_id"], config[f"{adapter}_part"]
    with tempfile.NamedTemporaryFile(delete=False) as target:
        pass
    mailbox.list_attachments(message_id)  # the client is built and connected before measuring
    from inboxlink import mime  # noqa: F401  (the parser's import is not the download's cost)

    before, start = reset_peak(), time.perf_counter()
    if mode == "connect":
        written = 0  # connecting and the warm-up listing only: the requests to subtract
    elif mode == "native":
        written = mailbox.save_attachment(message_id, part, target.name)
    elif mode == "raw":
        data = (_raw_ews(mailbox, message_id, part) if adapter == "ews" else
                {"graph": _raw_graph, "gmail": _raw_gmail}[adapter](config, message_id, part))
        with open(target.name, "wb") as fh:
            written = fh.write(data)
        del data
    else:
        # The round-1 default every adapter inherited: fetch, parse, write one part.
        written = BaseMailbox.save_attachment(mailbox, message_id, "0", target.name)
    seconds = time.perf_counter() - start
    delta_mb = (peak_kb() - before) / 1024
    with open(target.name, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    os.unlink(target.name)
    mailbox.close()
    print(json.dumps({"delta_mb": round(delta_mb, 1), "seconds": round(seconds, 2),
                      "bytes": written, "sha256": digest}))


def _emulators(raw: bytes) -> tuple[list[Any], dict[str, Any]]:
    from ews.emulator import EwsEmulator
    from gmail.emulator import GmailEmulator
    from graph.emulator import GraphEmulator

    graph = GraphEmulator(address=ADDRESS).start()
    gmail = GmailEmulator().start()
    ews = EwsEmulator()
    ews.start()
    ews.add_user(ADDRESS, "pw")
    relays = {name: Relay(int(url.split(":")[2].split("/")[0])) for name, url in
              (("graph", graph.base_url), ("gmail", gmail.url), ("ews", ews.ews_url))}
    config: dict[str, Any] = {
        "graph_url": _via(graph.base_url, relays["graph"]), "graph_token": graph.token,
        "gmail_url": _via(gmail.url, relays["gmail"]), "ews_url": _via(ews.ews_url, relays["ews"]),
        "graph_id": graph.deliver(raw), "gmail_id": gmail.deliver(raw),
        "ews_id": ews.deliver(ADDRESS, raw),
    }
    config["relays"] = relays
    return [graph, gmail, ews], config


def _requests(emulators: list[Any]) -> list[int]:
    graph, gmail, ews = emulators
    return [len(graph.requests), len(gmail.requests), len(ews.requests)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=75)
    parser.add_argument("--child", nargs=3, metavar=("ADAPTER", "MODE", "CONFIG"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], json.loads(args.child[2]))
        return

    payload = os.urandom(args.megabytes * 1024 * 1024)
    expected = hashlib.sha256(payload).hexdigest()
    raw = _message(payload)
    emulators, config = _emulators(raw)
    relays = config.pop("relays")
    for adapter in ADAPTERS:
        # Warm the emulators' caches (parsed MIME, decoded parts) here, before measuring.
        mailbox = _open(adapter, config)
        (info,) = mailbox.list_attachments(config[f"{adapter}_id"])
        config[f"{adapter}_part"] = info.part
        mailbox.save_attachment(config[f"{adapter}_id"], info.part, io.BytesIO())
        mailbox.close()
    print(f"attachment {len(payload) / 1e6:.1f} MB, message {len(raw) / 1e6:.1f} MB; requests "
          "and bytes are the save's alone (a child that only connects and lists is subtracted)")
    del payload, raw
    print(f"{'adapter':8} {'mode':7} {'sent MB':>8} {'requests':>8} {'peak RSS +MB':>13} "
          f"{'seconds':>8} exact")
    def run(adapter: str, mode: str) -> tuple[dict[str, Any], int, int]:
        index = ADAPTERS.index(adapter)
        sent, requests = relays[adapter].down, _requests(emulators)[index]
        out = subprocess.run([sys.executable, __file__, "--child", adapter, mode,
                              json.dumps(config)], check=True, capture_output=True,
                             text=True).stdout
        return (json.loads(out.strip().splitlines()[-1]), relays[adapter].down - sent,
                _requests(emulators)[index] - requests)

    rows = []
    for adapter in ADAPTERS:
        _, base_bytes, base_requests = run(adapter, "connect")
        for mode in MODES:
            row, down, requests = run(adapter, mode)
            row.update(adapter=adapter, mode=mode, sent_mb=round((down - base_bytes) / 1e6, 1),
                       requests=requests - base_requests, exact=row["sha256"] == expected)
            rows.append(row)
            print(f"{adapter:8} {mode:7} {row['sent_mb']:8.1f} {row['requests']:8d} "
                  f"{row['delta_mb']:13.1f} {row['seconds']:8.2f} {row['exact']}")
    for emulator in emulators:
        emulator.stop()


if __name__ == "__main__":
    main()
