"""Round trips, query shape, cursors, batching, sending and the Sent copy against the emulator."""

from __future__ import annotations

import json
import math
import time
import tracemalloc

import pytest

import inboxlink
from inboxlink import FolderRole, OutgoingMessage, RoleSource, errors
from inboxlink.adapters.graph import GraphMailbox
from inboxlink.testing.conformance import make_message

from .conftest import make_mailbox
from .emulator import GraphEmulator


def _fill(emulator: GraphEmulator, n: int, folder: str = "inbox") -> None:
    for i in range(1, n + 1):
        emulator.deliver(make_message(i), folder)


@pytest.mark.parametrize(("total", "top"), [(25, 10), (2100, 1000), (7, 1000)])
def test_listing_takes_ceil_n_over_top_requests(emulator: GraphEmulator, mailbox: GraphMailbox,
                                                total: int, top: int) -> None:
    _fill(emulator, total)
    mailbox.folders()
    before = emulator.count("GET", r"/messages$")
    ids = [s.id for s in mailbox.iter_messages("inbox", page_size=top)]
    assert len(ids) == len(set(ids)) == total
    assert emulator.count("GET", r"/messages$") - before == math.ceil(total / top)


def test_listing_query_is_select_top_newest_first(emulator: GraphEmulator,
                                                  mailbox: GraphMailbox) -> None:
    _fill(emulator, 3)
    mailbox.list_messages("inbox", limit=5000)
    (request,) = [r for r in emulator.requests if r.path.endswith("/messages")]
    assert request.query["$top"] == ["1000"]  # Graph's maximum for messages
    assert request.query["$orderby"] == ["receivedDateTime desc"]
    selected = set(request.query["$select"][0].split(","))
    assert selected == {"id", "subject", "from", "toRecipients", "ccRecipients", "sentDateTime",
                        "receivedDateTime", "internetMessageId", "isRead", "isDraft", "flag",
                        "conversationId"}
    assert "body" not in selected
    assert "String 0x1042" in request.query["$expand"][0]


def test_cursor_resumes_in_a_new_mailbox_object(emulator: GraphEmulator,
                                                mailbox: GraphMailbox) -> None:
    _fill(emulator, 5)
    first = mailbox.list_messages("inbox", limit=2)
    cursor = json.loads(json.dumps({"c": first.next_cursor}))["c"]
    other = make_mailbox(emulator)
    try:
        second = other.list_messages("inbox", limit=2, cursor=cursor)
    finally:
        other.close()
    assert [s.subject for s in second.items] == ["Message 3 – zażółć", "Message 2 – zażółć"]


def test_foreign_cursor_is_refused_before_any_request(emulator: GraphEmulator,
                                                      mailbox: GraphMailbox) -> None:
    mailbox.folders()
    before = len(emulator.requests)
    with pytest.raises(errors.CursorExpired) as info:
        mailbox.list_messages("inbox", cursor="https://evil.example/v1.0/me/messages?$skip=10")
    assert info.value.code == "bad-cursor"
    # Well-formed, but its link leads to another host: the token must never follow it.
    from inboxlink.cursor import CursorCodec

    inbox = mailbox.folder("inbox").id
    forged = CursorCodec("graph").encode(inbox, {"link": "https://evil.example/v1.0/me/x"})
    with pytest.raises(errors.CursorExpired) as info:
        mailbox.list_messages("inbox", cursor=forged)
    assert info.value.code == "bad-cursor"
    assert len(emulator.requests) == before


@pytest.mark.parametrize("total", [1, 20, 45])
def test_fetching_n_takes_ceil_n_over_20_batches(emulator: GraphEmulator, mailbox: GraphMailbox,
                                                 total: int) -> None:
    ids = [emulator.deliver(make_message(i)) for i in range(total)]
    wanted = list(reversed(ids))
    messages = mailbox.fetch_many(wanted)
    assert [m.id for m in messages] == wanted
    assert messages[0].raw == emulator.messages[wanted[0]]["mime"]
    assert emulator.count("POST", r"/\$batch$") == math.ceil(total / 20)
    assert emulator.count("GET", r"/\$value$", in_batch=True) == total


def test_throttled_batch_items_wait_for_their_retry_after(
        emulator: GraphEmulator, mailbox: GraphMailbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INBOXLINK_NO_RETRY_WAIT")
    ids = [emulator.deliver(make_message(i)) for i in range(5)]
    emulator.fail(429, "ApplicationThrottled", "Application is over its MailboxConcurrency "
                  "limit.", path=r"/\$value$", headers={"Retry-After": "1"}, times=2)
    started = time.monotonic()
    messages = mailbox.fetch_many(ids)
    assert time.monotonic() - started >= 0.9
    assert len(messages) == 5
    assert emulator.count("POST", r"/\$batch$") == 2
    assert emulator.count("GET", r"/\$value$", in_batch=True) == 5 + 2


def test_batch_item_throttled_for_good_is_rate_limited(emulator: GraphEmulator,
                                                       mailbox: GraphMailbox) -> None:
    mid = emulator.deliver(make_message(1))
    emulator.fail(429, "TooManyRequests", "Too many requests", path=r"/\$value$",
                  headers={"Retry-After": "30"}, times=50)
    with pytest.raises(errors.RateLimited) as info:
        mailbox.fetch(mid)
    assert info.value.retry_after == 30


def test_fetch_to_file_streams(emulator: GraphEmulator, mailbox: GraphMailbox,
                               tmp_path: object) -> None:
    import io
    import pathlib

    assert isinstance(tmp_path, pathlib.Path)
    big = make_message(1, body=("0123456789abcdef" * 4 + "\n") * 100_000)  # ~6.5 MB
    mid = emulator.deliver(big)
    mailbox.folders()
    tracemalloc.start()
    try:
        written = mailbox.fetch_to_file(mid, tmp_path / "big.eml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written == len(big)
    assert (tmp_path / "big.eml").read_bytes() == big
    assert peak < len(big) / 2, f"peak {peak} for {len(big)} bytes: not streamed"
    sink = io.BytesIO()
    assert mailbox.fetch_to_file(mid, sink) == len(big)
    with pytest.raises(errors.MessageNotFound):
        mailbox.fetch_to_file(mid[:-4] + "XYZ=", io.BytesIO())


def test_send_posts_mime_and_provider_keeps_the_copy(emulator: GraphEmulator,
                                                     mailbox: GraphMailbox) -> None:
    mailbox.folders()
    result = mailbox.send(OutgoingMessage(to=["carol@example.org"], cc=["erin@example.org"],
                                          bcc=["dave@example.org"], subject="Quarterly",
                                          text="Numbers attached."))
    assert result.saved_by_provider
    assert result.sent_folder_id == emulator.wellknown["sentitems"]
    (request,) = [r for r in emulator.requests if r.path.endswith("/sendMail")]
    assert request.headers["content-type"].startswith("text/plain")
    assert emulator.envelopes == [["carol@example.org", "erin@example.org", "dave@example.org"]]
    assert b"dave@" not in emulator.outbox[0]
    assert b"dave@" not in result.raw
    sent = emulator.messages_in("sentitems")
    assert len(sent) == 1  # never a second copy
    assert emulator.count("POST", r"/messages$") == 0


def test_append_to_sent_creates_a_sent_not_draft_item(emulator: GraphEmulator,
                                                      mailbox: GraphMailbox) -> None:
    original = make_message(1)
    reply = mailbox.fetch(emulator.deliver(original)).reply(text="Thanks", from_=emulator.address)
    from inboxlink import mime

    raw = mime.prepare(reply, default_from=emulator.address).raw
    new_id = mailbox.append_to_sent(raw)
    stored = emulator.messages[new_id]
    assert stored["folder"] == emulator.wellknown["sentitems"]
    assert stored["json"]["isDraft"] is False
    assert stored["json"]["isRead"] is True
    (request,) = [r for r in emulator.requests if r.method == "POST"
                  and r.path.endswith("/messages")]
    assert request.headers["content-type"].startswith("application/json")
    (summary,) = mailbox.list_messages(FolderRole.SENT).items
    assert summary.in_reply_to == "<conformance1@example.net>"
    assert summary.references == ("<conformance1@example.net>",)
    assert summary.date is not None
    assert summary.seen
    assert summary.size == len(stored["mime"])


def test_child_folders_and_provider_roles(emulator: GraphEmulator) -> None:
    clients = emulator.add_folder("Clients", emulator.wellknown["inbox"])
    emulator.add_folder("ACME", clients)
    emulator.add_folder("Gesendet")  # a localized Sent name never beats the provider's id
    box = make_mailbox(emulator)
    try:
        folders = {f.path: f for f in box.folders()}
    finally:
        box.close()
    assert {"Inbox/Clients", "Inbox/Clients/ACME", "Gesendet"} <= set(folders)
    assert folders["Inbox/Clients/ACME"].parent_id == clients
    assert folders["Sent Items"].role is FolderRole.SENT
    assert folders["Sent Items"].role_source is RoleSource.PROVIDER
    assert folders["Gesendet"].role is None
    assert folders["Deleted Items"].role is FolderRole.TRASH
    assert folders["Junk Email"].role is FolderRole.JUNK
    # top level + one child level + one grandchild level, and one batch of well-known names
    assert emulator.count("GET", r"/mailFolders$") == 1
    assert emulator.count("POST", r"/\$batch$") == 3


def test_application_access_uses_users_path(emulator: GraphEmulator) -> None:
    box = make_mailbox(emulator, user_id=emulator.address)
    try:
        box.list_messages("inbox")
    finally:
        box.close()
    outer = [r.path for r in emulator.requests if not r.in_batch and r.method == "GET"]
    assert all(p.startswith(f"/v1.0/users/{emulator.address}/") for p in outer)
    other = make_mailbox(emulator, user_id="bob@contoso.com")
    with pytest.raises(errors.MailboxNotFound):
        other.list_messages("inbox")


def test_connect_builds_the_adapter_from_a_url(emulator: GraphEmulator) -> None:
    box = inboxlink.connect(f"graph://{emulator.address}", access_token=emulator.token,
                            base_url=emulator.base_url)
    with box:
        assert box.folder(FolderRole.INBOX).name == "Inbox"
    assert "eyJ" not in repr(box)
    with pytest.raises(errors.ConfigurationError):
        inboxlink.connect(f"graph://{emulator.address}", access_token="x", nonsense=1)
    with pytest.raises(errors.ConfigurationError):
        inboxlink.connect(f"graph://{emulator.address}")
    with pytest.raises(errors.ConfigurationError):
        inboxlink.connect(f"graph://{emulator.address}", access_token="x",
                          base_url="http://graph.example.com/v1.0")


def test_cursor_resumes_in_another_process(emulator: GraphEmulator,
                                           mailbox: GraphMailbox) -> None:
    import os
    import subprocess
    import sys

    _fill(emulator, 5)
    cursor = mailbox.list_messages("inbox", limit=3).next_cursor
    assert cursor is not None
    code = (
        "import json, sys\n"
        "from inboxlink.adapters.graph import GraphMailbox, GraphSettings\n"
        "args = json.loads(sys.argv[1])\n"
        "box = GraphMailbox(GraphSettings(address=args['a'], access_token=args['t'],"
        " base_url=args['u']))\n"
        "page = box.list_messages('inbox', limit=3, cursor=args['c'])\n"
        "print(json.dumps([s.message_id for s in page.items]))\n"
    )
    payload = json.dumps({"a": emulator.address, "t": emulator.token,
                          "u": emulator.base_url, "c": cursor})
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    result = subprocess.run([sys.executable, "-W", "ignore", "-c", code, payload],
                            capture_output=True, text=True, timeout=60, cwd=root)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["<conformance2@example.net>",
                                         "<conformance1@example.net>"]


def test_unreachable_graph_is_a_typed_error() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    from inboxlink.adapters.graph import GraphSettings

    box = GraphMailbox(GraphSettings(address="alice@contoso.com", access_token="t",
                                     base_url=f"http://127.0.0.1:{port}/v1.0"))
    with pytest.raises(errors.ServerUnreachable) as info:
        box.folders()
    assert "firewall" in info.value.remedy


def test_a_stalled_call_times_out(emulator: GraphEmulator) -> None:
    from inboxlink.retry import RetryPolicy

    box = make_mailbox(emulator, timeout=0.3, retry=RetryPolicy(max_attempts=1))
    # The stall is far longer than the bound, so a loaded machine's slack in ending the
    # call at its 0.3 s cannot be mistaken for waiting out the stall.
    emulator.stall = (r"/mailFolders$", 10.0)
    started = time.monotonic()
    with pytest.raises(errors.OperationTimeout) as info:
        box.folders()
    assert time.monotonic() - started < 5.0
    assert isinstance(info.value, TimeoutError)
    emulator.stall = None
    assert box.folder("inbox").name == "Inbox"  # the mailbox is usable afterwards
    box.close()
