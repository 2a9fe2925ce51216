"""Graph actions, search and replies against the emulator: $batch counts and query shapes."""

from __future__ import annotations

import datetime as dt
import json
import math
from email.message import EmailMessage

import pytest

from inboxlink import FolderRole, OutgoingMessage, SearchQuery, errors
from inboxlink.adapters.graph import GraphMailbox
from inboxlink.adapters.graph._search import plan
from inboxlink.cursor import CursorCodec
from inboxlink.testing.conformance import make_message

from .emulator import GraphEmulator

BATCH = r"/\$batch$"


def _fill(emulator: GraphEmulator, count: int, folder: str = "inbox") -> list[str]:
    return [emulator.deliver(make_message(n), folder) for n in range(1, count + 1)]


def test_marking_60_read_is_three_batches(emulator: GraphEmulator,
                                          mailbox: GraphMailbox) -> None:
    ids = _fill(emulator, 60)
    before = emulator.count("POST", BATCH)
    mailbox.set_read(ids)
    assert emulator.count("POST", BATCH) - before == math.ceil(60 / 20)
    assert emulator.count("PATCH", r"/messages/[^/]+$", in_batch=True) == 60
    assert all(emulator.messages[i]["json"]["isRead"] for i in ids)
    patch = next(r for r in emulator.requests if r.method == "PATCH")
    assert patch.headers["content-type"] == "application/json"


def test_flag_body_is_flag_status(emulator: GraphEmulator, mailbox: GraphMailbox) -> None:
    (mid,) = _fill(emulator, 1)
    mailbox.set_flagged(mid)
    assert emulator.messages[mid]["json"]["flag"] == {"flagStatus": "flagged"}
    mailbox.set_flagged(mid, False)
    assert emulator.messages[mid]["json"]["flag"] == {"flagStatus": "notFlagged"}


def test_move_returns_the_new_ids(emulator: GraphEmulator, mailbox: GraphMailbox) -> None:
    ids = _fill(emulator, 25)
    moved = mailbox.move(ids, FolderRole.ARCHIVE)
    assert list(moved) == ids
    archive = emulator.folder_id("archive")
    assert all(emulator.messages[new]["folder"] == archive for new in moved.values() if new)
    assert len(set(moved.values())) == 25
    assert emulator.count("POST", r"/move$", in_batch=True) == 25


def test_delete_moves_to_deleteditems_and_permanent_uses_permanent_delete(
        emulator: GraphEmulator, mailbox: GraphMailbox) -> None:
    first, second = _fill(emulator, 2)
    mailbox.delete(first)
    trash = emulator.folder_id("deleteditems")
    assert [m["folder"] for m in emulator.messages.values()] == [emulator.folder_id("inbox"),
                                                                  trash]
    mailbox.delete(second, permanent=True)
    assert emulator.count("POST", r"/permanentDelete$", in_batch=True) == 1
    assert second not in emulator.messages


def test_a_throttled_move_is_resent_but_an_unknown_outcome_is_not(
        emulator: GraphEmulator, mailbox: GraphMailbox) -> None:
    first, second = _fill(emulator, 2)
    emulator.fail(429, "ApplicationThrottled", "Too many requests", path=r"/move$",
                  headers={"Retry-After": "0"})
    assert list(mailbox.move([first], FolderRole.ARCHIVE)) == [first]
    assert emulator.count("POST", r"/move$", in_batch=True) == 2  # refused, then done
    emulator.fail(504, "GatewayTimeout", "The gateway timed out.", path=r"/move$")
    with pytest.raises(errors.TransientError):
        mailbox.move([second], FolderRole.ARCHIVE)
    assert emulator.count("POST", r"/move$", in_batch=True) == 3  # never blindly again


def test_missing_ids_are_named(emulator: GraphEmulator, mailbox: GraphMailbox) -> None:
    (kept,) = _fill(emulator, 1)
    with pytest.raises(errors.MessageNotFound) as info:
        mailbox.set_read([kept, "AAMkAGI2TG93AAA999999AAA="])
    assert info.value.missing == ("AAMkAGI2TG93AAA999999AAA=",)
    assert emulator.messages[kept]["json"]["isRead"]


def test_other_item_errors_are_typed(emulator: GraphEmulator, mailbox: GraphMailbox) -> None:
    (mid,) = _fill(emulator, 1)
    emulator.fail(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.",
                  path=r"/messages/[^/]+$", method="PATCH")
    with pytest.raises(errors.PermissionDenied):
        mailbox.set_read(mid)


@pytest.mark.parametrize(("query", "expected"), [
    (SearchQuery(message_id="x@example.net"),
     {"$filter": "receivedDateTime ge 1900-01-01T00:00:00Z and internetMessageId eq "
                 "'<x@example.net>'", "$orderby": "receivedDateTime desc"}),
    (SearchQuery(since=dt.date(2026, 1, 2), unread=True, flagged=False),
     {"$filter": "receivedDateTime ge 2026-01-02T00:00:00Z and isRead eq false and "
                 "flag/flagStatus eq 'notFlagged'", "$orderby": "receivedDateTime desc"}),
    (SearchQuery(from_="Bob@Example.net", has_attachments=True),
     {"$filter": "receivedDateTime ge 1900-01-01T00:00:00Z and hasAttachments eq true and "
                 "from/emailAddress/address eq 'bob@example.net'",
      "$orderby": "receivedDateTime desc"}),
    (SearchQuery(subject='Invoice "März"', from_="Bob", unread=True),
     {"$search": '"from:\\"Bob\\" AND subject:\\"Invoice März\\""'}),
    (SearchQuery(text="payment"), {"$search": '"\\"payment\\""'}),
    (SearchQuery(), {"$orderby": "receivedDateTime desc"}),
])
def test_query_plans(query: SearchQuery, expected: dict[str, str]) -> None:
    assert plan(query).params() == expected


def test_filter_search_uses_one_request_per_page(emulator: GraphEmulator,
                                                 mailbox: GraphMailbox) -> None:
    ids = _fill(emulator, 5)
    mailbox.set_read(ids[:2])
    mailbox.folders()
    before = len(emulator.requests)
    page = mailbox.search(FolderRole.INBOX, SearchQuery(unread=True), limit=2)
    assert [s.message_id for s in page.items] == ["<conformance5@example.net>",
                                                  "<conformance4@example.net>"]
    request = emulator.requests[before]
    assert request.query["$top"] == ["2"]
    assert "$search" not in request.query
    rest = mailbox.search(FolderRole.INBOX, SearchQuery(unread=True), limit=2,
                          cursor=page.next_cursor)
    assert [s.message_id for s in rest.items] == ["<conformance3@example.net>"]
    assert rest.next_cursor is None
    assert len(emulator.requests) - before == 2


def test_text_search_is_narrowed_and_never_mixed_with_filter(emulator: GraphEmulator,
                                                            mailbox: GraphMailbox) -> None:
    ids = _fill(emulator, 4)
    mailbox.set_read(ids[0])
    found = mailbox.search(FolderRole.INBOX, SearchQuery(subject="Message", unread=False))
    assert [s.id for s in found.items] == [ids[0]]
    request = next(r for r in reversed(emulator.requests) if "$search" in r.query)
    assert "$filter" not in request.query
    assert "$orderby" not in request.query


def test_emulator_refuses_what_graph_refuses(emulator: GraphEmulator) -> None:
    # The adapter's query shapes are checked against these rules, so they must hold.
    import urllib.request

    def get(query: str) -> tuple[int, str]:
        req = urllib.request.Request(f"{emulator.base_url}/me/mailFolders/inbox/messages?{query}",
                                     headers={"Authorization": f"Bearer {emulator.token}"})
        try:
            with urllib.request.urlopen(req) as response:
                return response.status, ""
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())["error"]["code"]

    assert get("$search=%22a%22&$filter=isRead%20eq%20true")[0] == 400
    assert get("$search=%22a%22&$orderby=receivedDateTime%20desc")[0] == 400
    assert get("$filter=isRead%20eq%20true&$orderby=receivedDateTime%20desc") == (
        400, "InefficientFilter")
    assert get("$filter=subject%20eq%20%27x%27")[0] == 400


def test_bad_search_cursor_is_cursor_expired(emulator: GraphEmulator,
                                             mailbox: GraphMailbox) -> None:
    _fill(emulator, 3)
    inbox = mailbox.folder(FolderRole.INBOX).id
    forged = CursorCodec("graph", kind="search").encode(
        inbox, {"link": "https://attacker.example/x", "skip": 0})
    listing = mailbox.list_messages(FolderRole.INBOX, limit=1).next_cursor
    unread = SearchQuery(unread=True)
    inbox_search = mailbox.search(FolderRole.INBOX, unread, limit=1).next_cursor
    assert listing is not None
    assert inbox_search is not None
    before = len(emulator.requests)
    for cursor in ("junk", json.dumps({"l": "https://attacker.example/x", "s": 0}), forged,
                   listing):
        with pytest.raises(errors.CursorExpired) as info:
            mailbox.search(FolderRole.INBOX, SearchQuery(unread=True), cursor=cursor)
        assert info.value.code == "bad-cursor"
    # An Inbox search cursor would list the Inbox if followed in Archive: refused.
    with pytest.raises(errors.CursorExpired) as info:
        mailbox.search(FolderRole.ARCHIVE, SearchQuery(unread=True), cursor=inbox_search)
    assert info.value.code == "wrong-folder"
    assert len(emulator.requests) == before
    page = mailbox.search(FolderRole.INBOX, unread, limit=1, cursor=inbox_search)
    assert len(page.items) == 1


def _reply(k: int, subject: str, refs: tuple[str, ...]) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Carol <carol@example.org>"
    msg["To"] = "alice@contoso.com"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<reply{k}@example.org>"
    if refs:
        msg["In-Reply-To"] = refs[-1]
        msg["References"] = " ".join(refs)
    msg.set_content("x\n")
    return msg.as_bytes()


def test_find_replies_is_two_batches_and_never_by_subject(emulator: GraphEmulator,
                                                          mailbox: GraphMailbox) -> None:
    sent = mailbox.send(OutgoingMessage(to="carol@example.org", subject="Quote", text="x\n"))
    emulator.deliver(_reply(1, "Re: Quote", (sent.message_id,)))
    emulator.deliver(_reply(2, "Re: Quote", ()))
    emulator.deliver(_reply(3, "Re: Quote", (sent.message_id, "<reply1@example.org>")),
                     "archive")
    mailbox.folders()
    before = emulator.count("POST", BATCH)
    found = mailbox.find_replies(sent)
    assert [s.message_id for s in found] == ["<reply3@example.org>", "<reply1@example.org>"]
    assert emulator.count("POST", BATCH) - before == 2
    conversation = [r for r in emulator.requests if r.in_batch and "$filter" in r.query]
    assert any("conversationId eq" in r.query["$filter"][0] for r in conversation)
    assert any("internetMessageId eq" in r.query["$filter"][0] for r in conversation)
