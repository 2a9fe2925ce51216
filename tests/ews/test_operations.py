"""Folders, listing, fetching, sending and the Sent copy — with the request counts that are
the contract (listing N = O(N / page), fetching batched, never one request per message)."""

from __future__ import annotations

import base64
import io
import pathlib
import re
from collections.abc import Callable
from typing import Any

import pytest

from inboxlink import errors
from inboxlink.models import FolderRole, OutgoingMessage, RoleSource
from inboxlink.testing.conformance import make_message

from .conftest import ADDRESS
from .emulator import EwsEmulator

Connect = Callable[..., Any]


def _fill(emulator: EwsEmulator, count: int, folder: str = "inbox") -> list[str]:
    return [emulator.deliver(ADDRESS, make_message(n), folder) for n in range(1, count + 1)]


# ---------------------------------------------------------------------------- folders
def test_distinguished_folders_have_provider_roles(connect: Connect) -> None:
    mailbox = connect()
    expected = {FolderRole.INBOX: "Inbox", FolderRole.SENT: "Sent Items",
                FolderRole.DRAFTS: "Drafts", FolderRole.TRASH: "Deleted Items",
                FolderRole.JUNK: "Junk Email"}
    for role, name in expected.items():
        folder = mailbox.folder(role)
        assert folder.name == name
        assert folder.role_source is RoleSource.PROVIDER
        assert any(a.startswith("distinguished:") for a in folder.attributes)


def test_distinguished_role_wins_over_a_localized_name(emulator: EwsEmulator,
                                                       connect: Connect) -> None:
    # A user folder called "Sent" must not take the role from the real Sent Items.
    emulator.add_folder(ADDRESS, "Sent")
    mailbox = connect()
    assert mailbox.folder(FolderRole.SENT).name == "Sent Items"


def test_tree_has_paths_and_parents(emulator: EwsEmulator, connect: Connect) -> None:
    inbox_id = emulator.folder_id(ADDRESS, "inbox")
    projects = emulator.add_folder(ADDRESS, "Projects", inbox_id)
    emulator.add_folder(ADDRESS, "2026", projects)
    mailbox = connect()
    leaf = mailbox.folder("Inbox/Projects/2026")
    assert leaf.parent_id == projects
    assert mailbox.folder("Inbox").parent_id is None


def test_folder_counts(emulator: EwsEmulator, connect: Connect) -> None:
    _fill(emulator, 3)
    inbox = connect().folder(FolderRole.INBOX)
    assert (inbox.total, inbox.unread) == (3, 3)


def test_localized_folder_names_are_kept(emulator: EwsEmulator, connect: Connect) -> None:
    emulator.add_folder(ADDRESS, "Elementy wysłane — archiwum")
    names = {f.name for f in connect().folders()}
    assert "Elementy wysłane — archiwum" in names


# ---------------------------------------------------------------------------- listing
def test_listing_is_two_requests_per_page_with_summary_fields_only(
    emulator: EwsEmulator, connect: Connect
) -> None:
    _fill(emulator, 25)
    mailbox = connect()
    emulator.requests.clear()
    summaries = list(mailbox.iter_messages(FolderRole.INBOX, page_size=10))
    assert len(summaries) == 25
    assert emulator.requests == ["FindItem", "GetItem"] * 3


def test_listing_never_asks_for_bodies(emulator: EwsEmulator, connect: Connect) -> None:
    _fill(emulator, 2)
    mailbox = connect()
    seen: list[bytes] = []
    original = emulator.soap

    def spy(user: Any, operation: str, body: Any) -> Any:
        import xml.etree.ElementTree as ET

        seen.append(ET.tostring(body))
        return original(user, operation, body)

    emulator.soap = spy  # type: ignore[method-assign]
    mailbox.list_messages(FolderRole.INBOX)
    assert seen
    assert all(b"MimeContent" not in s and b"item:Body" not in s for s in seen)


def test_page_of_a_thousand_is_one_finditem(emulator: EwsEmulator, connect: Connect) -> None:
    # Exchange caps a FindItem page at 1,000: asking one more would cost another request.
    _fill(emulator, 1001)
    mailbox = connect()
    emulator.requests.clear()
    page = mailbox.list_messages(FolderRole.INBOX, limit=1000)
    assert len(page.items) == 1000
    assert emulator.requests == ["FindItem", "GetItem"]
    assert page.next_cursor is not None
    rest = mailbox.list_messages(FolderRole.INBOX, limit=1000, cursor=page.next_cursor)
    assert len(rest.items) == 1
    assert rest.next_cursor is None


def test_limit_is_capped_at_the_ews_maximum(emulator: EwsEmulator, connect: Connect) -> None:
    _fill(emulator, 3)
    page = connect().list_messages(FolderRole.INBOX, limit=50_000)
    assert len(page.items) == 3


def test_summary_flags_and_threading(emulator: EwsEmulator, connect: Connect) -> None:
    raw = make_message(2).replace(
        b"Message-ID: <conformance2@example.net>",
        b"Message-ID: <conformance2@example.net>\r\nIn-Reply-To: <a@x>\r\nReferences: <r@x> <a@x>")
    emulator.deliver(ADDRESS, raw)
    (summary,) = connect().list_messages(FolderRole.INBOX).items
    assert summary.in_reply_to == "<a@x>"
    assert summary.references == ("<r@x>", "<a@x>")
    assert summary.size == len(raw)
    assert summary.received_at is not None
    assert summary.thread_id


def test_new_mail_during_paging_does_not_shift_pages(emulator: EwsEmulator,
                                                     connect: Connect) -> None:
    import datetime as dt

    base = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    for n in range(1, 7):
        emulator.deliver(ADDRESS, make_message(n), received=base + dt.timedelta(minutes=n))
    mailbox = connect()
    first = mailbox.list_messages(FolderRole.INBOX, limit=3)
    emulator.deliver(ADDRESS, make_message(99), received=base + dt.timedelta(hours=5))
    second = mailbox.list_messages(FolderRole.INBOX, limit=3, cursor=first.next_cursor)
    subjects = [s.subject for s in (*first.items, *second.items)]
    assert subjects == [f"Message {n} – zażółć" for n in range(6, 0, -1)]


def test_cursor_of_another_folder_is_refused(emulator: EwsEmulator, connect: Connect) -> None:
    _fill(emulator, 3)
    mailbox = connect()
    page = mailbox.list_messages(FolderRole.INBOX, limit=1)
    with pytest.raises(errors.CursorExpired):
        mailbox.list_messages(FolderRole.SENT, limit=1, cursor=page.next_cursor)


def test_unknown_folder_id_is_folder_not_found(connect: Connect) -> None:
    with pytest.raises(errors.FolderNotFound):
        connect().list_messages("AAAAAAAA")


# ---------------------------------------------------------------------------- fetching
def test_fetch_many_is_batched(emulator: EwsEmulator, connect: Connect) -> None:
    ids = _fill(emulator, 250)
    mailbox = connect(fetch_batch_size=100)
    emulator.requests.clear()
    messages = mailbox.fetch_many(ids)
    assert [m.id for m in messages] == ids
    assert emulator.requests == ["GetItem"] * 3
    assert all(m.raw.startswith(b"From:") for m in messages)


def test_missing_message_inside_a_batch_is_message_not_found(
    emulator: EwsEmulator, connect: Connect
) -> None:
    ids = _fill(emulator, 3)
    gone = base64.b64encode(base64.b64decode(ids[0])[:-1] + b"\x7f").decode()
    with pytest.raises(errors.MessageNotFound) as info:
        connect().fetch_many([ids[1], gone, ids[2]])
    assert info.value.code == "ErrorItemNotFound"
    assert isinstance(info.value, LookupError)


def test_fetch_keeps_flags_and_folder(emulator: EwsEmulator, connect: Connect) -> None:
    (item_id,) = _fill(emulator, 1)
    emulator.items[item_id].is_read = True
    message = connect().fetch(item_id)
    assert "\\Seen" in message.flags
    assert message.folder_id == emulator.folder_id(ADDRESS, "inbox")


def test_fetch_to_file_streams_one_request(emulator: EwsEmulator, connect: Connect,
                                           tmp_path: pathlib.Path) -> None:
    body = "".join(f"line {n} " + "x" * 70 + "\n" for n in range(60_000))  # ~4.7 MB
    item_id = emulator.deliver(ADDRESS, make_message(1, body=body))
    mailbox = connect()
    emulator.requests.clear()
    target = tmp_path / "big.eml"
    written = mailbox.fetch_to_file(item_id, target)
    assert emulator.requests == ["GetItem"]
    assert target.read_bytes() == emulator.items[item_id].mime
    assert written == len(emulator.items[item_id].mime)
    buffer = io.BytesIO()
    assert mailbox.fetch_to_file(item_id, buffer) == written


def test_fetch_to_file_of_missing_message(emulator: EwsEmulator, connect: Connect,
                                          tmp_path: pathlib.Path) -> None:
    (item_id,) = _fill(emulator, 1)
    gone = base64.b64encode(base64.b64decode(item_id)[:-1] + b"\x7f").decode()
    with pytest.raises(errors.MessageNotFound):
        connect().fetch_to_file(gone, tmp_path / "x.eml")


def test_fetch_to_file_matches_fetch(emulator: EwsEmulator, connect: Connect) -> None:
    (item_id,) = _fill(emulator, 1)
    mailbox = connect()
    buffer = io.BytesIO()
    mailbox.fetch_to_file(item_id, buffer)
    assert buffer.getvalue() == mailbox.fetch(item_id).raw


# ---------------------------------------------------------------------------- sending
def test_send_is_one_createitem_saved_by_exchange(emulator: EwsEmulator,
                                                  connect: Connect) -> None:
    mailbox = connect()
    emulator.requests.clear()
    result = mailbox.send(OutgoingMessage(to=["carol@example.org"], bcc=["dave@example.org"],
                                          subject="Hi", text="Hello"))
    assert result.saved_by_provider
    assert result.sent_folder_id == emulator.folder_id(ADDRESS, "sentitems")
    assert emulator.requests == ["CreateItem"]
    ((raw, recipients),) = emulator.outbox
    assert recipients == ["carol@example.org", "dave@example.org"]
    assert b"dave@example.org" not in raw


def test_send_without_copy_is_send_only(emulator: EwsEmulator, connect: Connect) -> None:
    mailbox = connect()
    result = mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="x", text="x"),
                          save_copy=False)
    assert result.skipped
    sent_id = emulator.folder_id(ADDRESS, "sentitems")
    assert not [i for i in emulator.items.values() if i.folder_id == sent_id]


def test_send_as_another_address_is_denied(emulator: EwsEmulator, connect: Connect) -> None:
    mailbox = connect()
    with pytest.raises(errors.SendAsDenied) as info:
        mailbox.send(OutgoingMessage(to=["carol@example.org"], from_="ceo@example.com",
                                     subject="x", text="x"))
    assert info.value.code == "ErrorSendAsDenied"
    assert "Send As" in info.value.remedy
    assert emulator.outbox == []


def test_send_as_with_the_right(emulator: EwsEmulator, connect: Connect) -> None:
    emulator.users[ADDRESS].send_as.add("sales@example.com")
    result = connect().send(OutgoingMessage(to=["c@example.org"], from_="sales@example.com",
                                            subject="x", text="x"))
    assert result.saved_by_provider


def test_verify_sends_a_test_message_to_the_bcc_address(emulator: EwsEmulator,
                                                        connect: Connect) -> None:
    mailbox = connect()
    result = mailbox.verify("check@crm.example.net")
    ((raw, recipients),) = emulator.outbox
    assert recipients == ["check@crm.example.net"]
    assert b"check@crm.example.net" not in raw
    assert result.skipped


def test_verify_fails_when_send_as_is_not_allowed(emulator: EwsEmulator,
                                                  connect: Connect) -> None:
    with pytest.raises(errors.SendAsDenied):
        connect().verify("check@crm.example.net", from_="shared@example.com")


def test_send_is_never_retried(emulator: EwsEmulator, connect: Connect) -> None:
    from inboxlink.retry import RetryPolicy

    mailbox = connect(retry=RetryPolicy(max_attempts=5))
    emulator.fail_next("CreateItem", "ErrorServerBusy", kind="fault", back_off_ms=10)
    with pytest.raises(errors.RateLimited):
        mailbox.send(OutgoingMessage(to=["c@example.org"], subject="x", text="x"))
    assert emulator.count("CreateItem") == 1


# ---------------------------------------------------------------------------- append_to_sent
def test_append_to_sent_is_a_sent_read_message_not_a_draft(emulator: EwsEmulator,
                                                           connect: Connect) -> None:
    mailbox = connect()
    raw = make_message(7, sender=ADDRESS, to="carol@example.org")
    emulator.requests.clear()
    item_id = mailbox.append_to_sent(raw)
    assert emulator.requests == ["CreateItem"]
    item = emulator.items[item_id]
    assert item.folder_id == emulator.folder_id(ADDRESS, "sentitems")
    assert item.is_read
    assert not item.is_draft
    assert item.mime == raw
    (summary,) = mailbox.list_messages(FolderRole.SENT).items
    assert summary.seen
    assert "\\Draft" not in summary.flags


def test_append_request_sets_message_flags_in_schema_order(emulator: EwsEmulator,
                                                           connect: Connect) -> None:
    mailbox = connect()
    bodies: list[bytes] = []
    original = emulator.soap

    def spy(user: Any, operation: str, body: Any) -> Any:
        import xml.etree.ElementTree as ET

        bodies.append(ET.tostring(body))
        return original(user, operation, body)

    emulator.soap = spy  # type: ignore[method-assign]
    mailbox.append_to_sent(make_message(8, sender=ADDRESS))
    (body,) = bodies
    assert b'MessageDisposition="SaveOnly"' in body
    tags = re.findall(rb"<ns\d:(MimeContent|ExtendedProperty|IsRead)\b", body)
    assert tags == [b"MimeContent", b"ExtendedProperty", b"IsRead"]


def test_append_does_not_change_exchangelibs_message_class(connect: Connect) -> None:
    from exchangelib.items import Message

    connect().append_to_sent(make_message(9, sender=ADDRESS))
    assert "message_flags" not in {f.name for f in Message.FIELDS}


def test_fetch_to_file_memory_stays_bounded(tmp_path: pathlib.Path) -> None:
    import json
    import subprocess
    import sys
    import tracemalloc

    from inboxlink.adapters.ews import EwsMailbox, EwsSettings

    # The emulator runs in its own process so that only the client's memory is measured.
    # (as a module of the tests/ews package: it imports its sibling modules)
    tests_dir = pathlib.Path(__file__).parents[1]
    server = subprocess.Popen([sys.executable, "-m", "ews.emulator", "--size", "8000000"],
                              cwd=tests_dir, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert server.stdout is not None
        info = json.loads(server.stdout.readline())
        mailbox = EwsMailbox(EwsSettings(address=ADDRESS, url=info["url"], password="pw"))
        try:
            tracemalloc.start()
            written = mailbox.fetch_to_file(info["id"], tmp_path / "big.eml")
            _, streamed_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            tracemalloc.start()
            whole = mailbox.fetch(info["id"])
            _, fetch_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        finally:
            mailbox.close()
    finally:
        server.communicate(timeout=30)
    assert written == info["size"] == len(whole.raw)
    assert (tmp_path / "big.eml").read_bytes() == whole.raw
    assert streamed_peak < info["size"] / 4  # measured: about a tenth
    assert fetch_peak > info["size"]  # the whole message, as expected of fetch()
