"""Gmail actions, search and threads: labels changed, queries emitted, requests counted."""

from __future__ import annotations

import datetime as dt
import json
import math
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from inboxlink import errors
from inboxlink.adapters.gmail import GmailMailbox
from inboxlink.adapters.gmail.actions import gmail_query, quote
from inboxlink.models import FolderRole
from inboxlink.query import SearchQuery
from inboxlink.testing.conformance import make_message

from .emulator import GmailEmulator
from .support import make_mailbox

MODIFY = ("POST", "/gmail/v1/users/me/messages/batchModify")
DELETE = ("POST", "/gmail/v1/users/me/messages/batchDelete")
BATCH = ("POST", "/batch/gmail/v1")
LIST = ("GET", "/gmail/v1/users/me/messages")


def _fill(emulator: GmailEmulator, count: int) -> list[str]:
    return [emulator.deliver(make_message(n)) for n in range(count)]


def _ready(emulator: GmailEmulator, **options: object) -> GmailMailbox:
    mailbox = make_mailbox(emulator, **options)
    mailbox.folders()
    emulator.reset_counts()
    return mailbox


def test_marking_1000_read_is_one_batch_modify(emulator: GmailEmulator) -> None:
    ids = _fill(emulator, 1000)
    mailbox = _ready(emulator, verify_ids=False)
    units = mailbox.units_spent
    mailbox.set_read(ids)
    assert emulator.requests == [MODIFY]
    assert mailbox.units_spent - units == 50
    assert not any("UNREAD" in emulator.labels_of(i) for i in ids)


def test_many_ids_in_a_small_mailbox_are_verified_by_listing(emulator: GmailEmulator) -> None:
    ids = _fill(emulator, 1000)
    mailbox = _ready(emulator, batch_size=100)
    units = mailbox.units_spent
    mailbox.set_flagged(ids)
    # getProfile (messagesTotal), 2 pages of 500 ids, 1 batchModify: 61 units, not 5,050
    assert emulator.requests == [("GET", "/gmail/v1/users/me/profile"), LIST, LIST, MODIFY]
    assert mailbox.units_spent - units == 1 + 5 + 5 + 50
    assert all("STARRED" in emulator.labels_of(i) for i in ids)


def test_few_ids_in_a_big_mailbox_are_verified_by_batched_gets(emulator: GmailEmulator) -> None:
    ids = _fill(emulator, 1600)[:120]
    mailbox = _ready(emulator, batch_size=50)
    with pytest.raises(errors.MessageNotFound) as info:
        mailbox.set_flagged([*ids, "18c00000000fffff"])
    assert info.value.missing == ("18c00000000fffff",)
    # listing 1,600 ids would take 4 requests; 121 gets take 3 batches
    assert emulator.requests == [("GET", "/gmail/v1/users/me/profile"), BATCH, BATCH, BATCH,
                                 MODIFY]
    assert emulator.batch_sizes == [50, 50, 21]
    assert all("STARRED" in emulator.labels_of(i) for i in ids)


def test_one_batch_of_ids_skips_the_profile(emulator: GmailEmulator) -> None:
    ids = _fill(emulator, 5)
    mailbox = _ready(emulator)
    mailbox.set_read(ids)
    assert emulator.requests == [BATCH, MODIFY]


def test_more_than_1000_ids_split_into_requests_of_1000(emulator: GmailEmulator) -> None:
    ids = _fill(emulator, 1001)
    mailbox = _ready(emulator, verify_ids=False)
    mailbox.set_read(ids, False)
    assert emulator.requests == [MODIFY, MODIFY]
    bodies = [json.loads(b) for b in emulator.bodies_of("messages.batchModify")]
    assert [len(b["ids"]) for b in bodies] == [1000, 1]
    assert bodies[0] == {"ids": ids[:1000], "addLabelIds": ["UNREAD"]}


def test_unknown_ids_are_named_and_the_others_done(emulator: GmailEmulator) -> None:
    kept = emulator.deliver(make_message(1))
    mailbox = _ready(emulator)
    missing = ["18c00000000000ff", "not-an-id"]
    with pytest.raises(errors.MessageNotFound) as info:
        mailbox.set_read([*missing, kept])
    assert set(info.value.missing) == set(missing)
    assert "UNREAD" not in emulator.labels_of(kept)
    # batchModify itself was told only the ids that exist
    (body,) = [json.loads(b) for b in emulator.bodies_of("messages.batchModify")]
    assert body["ids"] == [kept]


def test_without_verification_gmail_ignores_unknown_ids(emulator: GmailEmulator) -> None:
    kept = emulator.deliver(make_message(1))
    mailbox = _ready(emulator, verify_ids=False)
    mailbox.set_read(["18c00000000000ff", kept])  # documented: nothing to notice it with
    assert "UNREAD" not in emulator.labels_of(kept)


def test_move_swaps_location_labels_and_keeps_tags(emulator: GmailEmulator) -> None:
    work = emulator.add_label("Work")
    client = emulator.add_label("Clients/Acme")
    first = emulator.deliver(make_message(1), labels=("INBOX", "UNREAD", client))
    mailbox = _ready(emulator)
    assert mailbox.move([first], "Work") == {first: first}
    assert sorted(emulator.labels_of(first)) == sorted(["UNREAD", client, work])
    assert mailbox.move([first], FolderRole.INBOX) == {first: first}
    assert "INBOX" in emulator.labels_of(first)
    mailbox.move([first], FolderRole.ARCHIVE)
    assert "INBOX" not in emulator.labels_of(first)
    assert work in emulator.labels_of(first)
    (body,) = [json.loads(b) for b in emulator.bodies_of("messages.batchModify")][-1:]
    assert body == {"ids": [first], "removeLabelIds": ["INBOX", "SPAM", "TRASH"]}


def test_move_out_of_spam_to_inbox(emulator: GmailEmulator) -> None:
    spam = emulator.deliver(make_message(1), labels=("SPAM",))
    mailbox = _ready(emulator)
    mailbox.move([spam], FolderRole.INBOX)
    assert emulator.labels_of(spam) == ["INBOX"]
    assert [s.id for s in mailbox.list_messages(FolderRole.INBOX).items] == [spam]


def test_archive_is_a_virtual_folder_listed_by_query(emulator: GmailEmulator) -> None:
    inbox = emulator.deliver(make_message(1))
    archived = emulator.deliver(make_message(2), labels=())
    emulator.deliver(make_message(3), labels=("TRASH",))
    mailbox = _ready(emulator)
    folder = mailbox.folder(FolderRole.ARCHIVE)
    assert (folder.id, folder.role) == ("ARCHIVE", FolderRole.ARCHIVE)
    assert "virtual" in folder.attributes
    assert [s.id for s in mailbox.list_messages(folder).items] == [archived]
    assert emulator.queries[-1] == "-in:inbox -in:drafts"
    assert inbox not in {s.id for s in mailbox.list_messages(folder).items}


def test_nothing_moves_into_sent(emulator: GmailEmulator) -> None:
    first = emulator.deliver(make_message(1))
    mailbox = _ready(emulator)
    with pytest.raises(errors.UnsupportedOperation):
        mailbox.move([first], FolderRole.SENT)
    assert emulator.requests == []


def test_delete_trashes_in_batches_and_names_unknown_ids(emulator: GmailEmulator) -> None:
    ids = _fill(emulator, 120)
    mailbox = _ready(emulator, batch_size=50)
    with pytest.raises(errors.MessageNotFound) as info:
        mailbox.delete([*ids, "18c00000000000ff"])
    assert info.value.missing == ("18c00000000000ff",)
    assert emulator.requests == [BATCH] * math.ceil(121 / 50)
    assert all("TRASH" in emulator.labels_of(i) for i in ids)


def test_permanent_delete_is_one_batch_delete(emulator: GmailEmulator) -> None:
    ids = _fill(emulator, 30)
    mailbox = _ready(emulator, verify_ids=False)
    mailbox.delete(ids, permanent=True)
    assert emulator.requests == [DELETE]
    assert emulator.messages == {}


def test_permanent_delete_needs_the_full_scope(emulator: GmailEmulator) -> None:
    first = emulator.deliver(make_message(1))
    mailbox = _ready(emulator, verify_ids=False)
    emulator.fail("messages.batchDelete", 403, {"error": {
        "code": 403, "message": "Request had insufficient authentication scopes.",
        "status": "PERMISSION_DENIED",
        "errors": [{"message": "Insufficient Permission", "domain": "global",
                    "reason": "insufficientPermissions"}],
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                     "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT", "domain": "googleapis.com"}]}})
    with pytest.raises(errors.InsufficientScopes) as info:
        mailbox.delete([first], permanent=True)
    assert info.value.missing == ("https://mail.google.com/",)
    assert first in emulator.messages


# ---------------------------------------------------------------------- search
@pytest.mark.parametrize(("query", "q"), [
    (SearchQuery(from_="bob@example.net"), "from:bob@example.net"),
    (SearchQuery(subject="Invoice März"), 'subject:"Invoice März"'),
    (SearchQuery(subject='Say "hi" now'), 'subject:"Say hi now"'),
    (SearchQuery(subject="re:quote"), 'subject:"re:quote"'),
    (SearchQuery(to="Zoë O'Brien"), "to:\"Zoë O'Brien\""),
    (SearchQuery(text="payment"), "payment"),
    (SearchQuery(text="-draft"), '"-draft"'),
    (SearchQuery(unread=True, flagged=False, has_attachments=True),
     "is:unread -is:starred has:attachment"),
    (SearchQuery(unread=False, has_attachments=False), "is:read -has:attachment"),
    (SearchQuery(since=dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc),
                 before=dt.date(2026, 1, 3)), "after:1767311999 before:1767398401"),
    (SearchQuery(message_id="<a.b@example.net>"), "rfc822msgid:a.b@example.net"),
])
def test_query_strings(query: SearchQuery, q: str) -> None:
    assert gmail_query(query) == q


def test_quote_leaves_plain_words_alone() -> None:
    assert quote("zażółć") == "zażółć"
    assert quote("  two   words ") == '"two words"'


def _incoming(n: int, subject: str, *, to: str = "alice@example.com", bcc: str | None = None,
              refs: tuple[str, ...] = ()) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Bob Example <bob@example.net>"
    msg["To"] = to
    if bcc:
        msg["Bcc"] = bcc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(dt.datetime(2026, 1, 1, 9, n, tzinfo=dt.timezone.utc))
    msg["Message-ID"] = f"<m{n}@example.net>"
    if refs:
        msg["In-Reply-To"] = refs[-1]
        msg["References"] = " ".join(refs)
    msg.set_content(f"message {n}\n")
    return msg.as_bytes()


def test_search_narrows_gmail_broader_answer(emulator: GmailEmulator) -> None:
    # Gmail's to: also matches Bcc; SearchQuery.to means To/Cc, so the Bcc-only copy is
    # dropped client-side.
    emulator.deliver(_incoming(1, "Hello", to="carol@example.org", bcc="alice@example.com"))
    direct = emulator.deliver(_incoming(2, "Hello"))
    mailbox = _ready(emulator)
    page = mailbox.search(FolderRole.INBOX, SearchQuery(to="alice@example.com"))
    assert [s.id for s in page.items] == [direct]
    assert emulator.queries == ["to:alice@example.com"]


def test_search_reads_on_when_narrowing_leaves_a_page_short(emulator: GmailEmulator) -> None:
    emulator.deliver(_incoming(1, "Hello"))
    emulator.deliver(_incoming(2, "Hello", to="carol@example.org", bcc="alice@example.com"))
    emulator.deliver(_incoming(3, "Hello"))
    mailbox = _ready(emulator)
    page = mailbox.search(FolderRole.INBOX, SearchQuery(to="alice@example.com"), limit=2)
    assert [s.message_id for s in page.items] == ["<m3@example.net>", "<m1@example.net>"]
    assert emulator.requests.count(LIST) == 2


def test_search_cursor_is_tied_to_its_folder(emulator: GmailEmulator) -> None:
    for n in range(3):
        emulator.deliver(_incoming(n, "Hello"))
    mailbox = _ready(emulator)
    page = mailbox.search(FolderRole.INBOX, SearchQuery(subject="hello"), limit=1)
    assert page.next_cursor
    with pytest.raises(errors.CursorExpired):
        mailbox.search(FolderRole.ARCHIVE, SearchQuery(subject="hello"), cursor=page.next_cursor)
    with pytest.raises(errors.CursorExpired):
        mailbox.list_messages(FolderRole.INBOX, cursor=page.next_cursor)


# ---------------------------------------------------------------------- threads
def test_threads_follow_references_not_subjects(emulator: GmailEmulator) -> None:
    first = emulator.deliver(_incoming(1, "Quote 42"))
    lookalike = emulator.deliver(_incoming(2, "Quote 42"))
    reply = emulator.deliver(_incoming(3, "Changed subject", refs=("<m1@example.net>",)))
    threads = {i: emulator.messages[i].thread_id for i in (first, lookalike, reply)}
    assert threads[reply] == threads[first] != threads[lookalike]


def test_thread_and_replies_cost_two_requests(emulator: GmailEmulator) -> None:
    emulator.deliver(_incoming(1, "Quote 42"))
    emulator.deliver(_incoming(2, "Quote 42"))
    emulator.deliver(_incoming(3, "Re: Quote 42", refs=("<m1@example.net>",)))
    mailbox = _ready(emulator)
    conversation = mailbox.thread("<m1@example.net>")
    assert [s.message_id for s in conversation] == ["<m1@example.net>", "<m3@example.net>"]
    assert emulator.requests == [LIST, ("GET", f"/gmail/v1/users/me/threads/"
                                              f"{conversation[0].thread_id}")]
    emulator.reset_counts()
    assert [s.message_id for s in mailbox.find_replies("<m1@example.net>")] == \
        ["<m3@example.net>"]
    assert len(emulator.requests) == 2
    assert emulator.queries == ["rfc822msgid:m1@example.net"]


def test_our_own_follow_up_is_not_a_reply(emulator: GmailEmulator) -> None:
    emulator.deliver(_incoming(1, "Quote 42"))
    own = _incoming(2, "Re: Quote 42", refs=("<m1@example.net>",))
    emulator.deliver(own, labels=("SENT",))
    mailbox = _ready(emulator)
    assert mailbox.find_replies("<m1@example.net>") == []
    assert len(mailbox.thread("<m1@example.net>")) == 2
