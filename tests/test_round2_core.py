"""The round-2 core: SearchQuery semantics, ChangeSet, the base's bulk bookkeeping, the
polling ``watch`` default, and what a plugin that implements none of it gets."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from typing import Any

import pytest

from inboxlink import (
    BaseMailbox,
    ChangeSet,
    Folder,
    FolderRole,
    MessageSummary,
    Page,
    PollPolicy,
    SearchQuery,
    errors,
)
from inboxlink.query import matches
from inboxlink.testing import FakeMailbox, FakeMailServer
from inboxlink.testing.conformance import make_message

UTC = dt.timezone.utc


def summary(**fields: Any) -> MessageSummary:
    base: dict[str, Any] = {"id": "1", "folder_id": "INBOX"}
    base.update(fields)
    return MessageSummary(**base)


# --------------------------------------------------------------------------- SearchQuery
@pytest.mark.parametrize(("query", "item", "expected"), [
    (SearchQuery(from_="BOB"), summary(from_="Bob <bob@example.net>"), True),
    (SearchQuery(from_="carol"), summary(from_="Bob <bob@example.net>"), False),
    (SearchQuery(to="alice"), summary(cc="Alice <alice@example.com>"), True),
    (SearchQuery(subject="märz"), summary(subject="Invoice MÄRZ"), True),
    (SearchQuery(unread=True), summary(flags={"\\Seen"}), False),
    (SearchQuery(unread=False), summary(flags={"\\Seen"}), True),
    (SearchQuery(flagged=True), summary(flags={"\\Flagged"}), True),
    (SearchQuery(message_id="a@b"), summary(message_id="<a@b>"), True),
    (SearchQuery(message_id="<a@b>"), summary(message_id="<a@bc>"), False),
    (SearchQuery(since=dt.date(2026, 1, 2)),
     summary(received_at=dt.datetime(2026, 1, 1, 23, 59, tzinfo=UTC)), False),
    (SearchQuery(since=dt.date(2026, 1, 2)),
     summary(received_at=dt.datetime(2026, 1, 2, tzinfo=UTC)), True),
    (SearchQuery(before=dt.date(2026, 1, 2)),
     summary(received_at=dt.datetime(2026, 1, 2, tzinfo=UTC)), False),
    (SearchQuery(before=dt.date(2026, 1, 2)), summary(date=dt.datetime(2026, 1, 1)), True),
    (SearchQuery(since=dt.date(2026, 1, 2)), summary(), False),
    (SearchQuery(from_="bob", subject="x"), summary(from_="bob@x", subject="y"), False),
])
def test_matches_is_the_reference_semantics(query: SearchQuery, item: MessageSummary,
                                            expected: bool) -> None:
    assert matches(query, item) is expected


def test_unknown_fields_match_until_known() -> None:
    query = SearchQuery(text="payment", has_attachments=True)
    item = summary(subject="hello")
    assert matches(query, item)
    assert not matches(query, item, body="nothing here")
    assert matches(query, item, body="the PAYMENT", has_attachments=True)
    assert not matches(query, item, body="the payment", has_attachments=False)


@pytest.mark.parametrize("bad", ["", "  ", "a\r\nb", "x\n"])
def test_search_query_refuses_multi_line_or_empty_text(bad: str) -> None:
    with pytest.raises(errors.ConfigurationError):
        SearchQuery(subject=bad)


def test_search_query_normalises_dates_and_ids() -> None:
    query = SearchQuery(since=dt.date(2026, 3, 1), message_id=" <x@y> ")
    assert query.since == dt.datetime(2026, 3, 1, tzinfo=UTC)
    assert query.bracketed_message_id == "<x@y>"
    assert SearchQuery().is_empty()
    assert not query.is_empty()


def test_changeset_truthiness_and_length() -> None:
    assert not ChangeSet(token="t")
    batch = ChangeSet(added=[summary()], removed=["2", "3"], token="t")
    assert batch
    assert len(batch) == 3


# --------------------------------------------------------------------------- the fake's feed
def test_fail_next_changes_lets_apps_test_their_resync(fake_mailbox: FakeMailbox) -> None:
    token = fake_mailbox.sync_token()
    fake_mailbox.fail_next("changes", errors.SyncTokenExpired())
    with pytest.raises(errors.SyncTokenExpired):
        fake_mailbox.changes(FolderRole.INBOX, token)
    assert not fake_mailbox.changes(FolderRole.INBOX, token)


def test_uidvalidity_reset_expires_tokens(fake_mail_server: FakeMailServer,
                                          fake_mailbox: FakeMailbox) -> None:
    token = fake_mailbox.sync_token()
    fake_mail_server.reset_uidvalidity("alice@example.com", "INBOX")
    with pytest.raises(errors.SyncTokenExpired) as info:
        fake_mailbox.changes(FolderRole.INBOX, token)
    assert "sync_token" in info.value.remedy


def test_added_then_removed_is_reported_only_as_removed(fake_mailbox: FakeMailbox) -> None:
    token = fake_mailbox.sync_token()
    new = fake_mailbox.deliver(make_message(1))
    fake_mailbox.delete([new], permanent=True)
    batch = fake_mailbox.changes(FolderRole.INBOX, token)
    assert (batch.added, batch.updated, batch.removed) == ((), (), (new,))


def test_empty_token_is_typed(fake_mailbox: FakeMailbox) -> None:
    with pytest.raises(errors.SyncTokenExpired):
        fake_mailbox.changes(FolderRole.INBOX, "")
    with pytest.raises(errors.ConfigurationError):
        fake_mailbox.changes(FolderRole.INBOX, fake_mailbox.sync_token(), limit=0)


def test_watch_ends_when_the_mailbox_closes(fake_mailbox: FakeMailbox) -> None:
    watch = fake_mailbox.watch(timeout=60)
    threading.Timer(0.3, fake_mailbox.close).start()
    started = time.monotonic()
    assert list(watch) == []
    assert time.monotonic() - started < 5


def test_delete_permanently_missing_ids_are_named(fake_mailbox: FakeMailbox) -> None:
    kept = fake_mailbox.deliver(make_message(1))
    with pytest.raises(errors.MessageNotFound) as info:
        fake_mailbox.delete([kept, "INBOX:1:999"], permanent=True)
    assert info.value.missing == ("INBOX:1:999",)
    assert "INBOX:1:999" in str(info.value)
    assert fake_mailbox.list_messages().items == ()


# --------------------------------------------------------------------------- a minimal plugin
class Minimal(BaseMailbox):
    """A plugin implementing only round 1, plus a scripted change feed for the poll tests."""

    provider = "minimal"

    def __init__(self, feed: list[Any] | None = None) -> None:
        super().__init__(address="me@example.com")
        self.feed = list(feed or [])
        self.calls = 0

    @classmethod
    def from_url(cls, url: str, /, **options: Any) -> Minimal:
        return cls()

    def _list_folders(self) -> list[Folder]:
        return [Folder(id="INBOX", name="INBOX", role=FolderRole.INBOX)]

    def _list_page(self, folder: Folder, limit: int, cursor: str | None) -> Page[MessageSummary]:
        return Page([])

    def _fetch_many(self, message_ids: list[str]) -> list[Any]:
        return []

    def _send(self, prepared: Any, save_copy: bool) -> Any:
        raise NotImplementedError

    def _append(self, raw: bytes, folder: Folder) -> str | None:
        return None

    def close(self) -> None:
        pass


class Scripted(Minimal):
    def _sync_token(self, folder: Folder) -> str:
        return "0"

    def _changes(self, folder: Folder, token: str, limit: int) -> ChangeSet:
        self.calls += 1
        step = self.feed.pop(0) if self.feed else ChangeSet(token=token)
        if isinstance(step, Exception):
            raise step
        assert isinstance(step, ChangeSet)
        return step


def test_a_plugin_without_round_two_says_so_in_a_typed_error() -> None:
    box = Minimal()
    for call in (lambda: box.sync_token(), lambda: box.set_read(["1"]),
                 lambda: box.move(["1"], FolderRole.INBOX), lambda: box.search()):
        with pytest.raises(errors.UnsupportedOperation) as info:
            call()
        assert info.value.provider == "minimal"
        assert isinstance(info.value, NotImplementedError)


def test_polling_watch_backs_off_while_quiet() -> None:
    quiet = ChangeSet(token="1")
    box = Scripted([quiet, quiet, ChangeSet(removed=["x"], token="2")])
    box.poll_policy = PollPolicy(initial=0.05, factor=2.0, maximum=0.2)
    started = time.monotonic()
    hint = next(iter(box.watch(timeout=10)))
    waited = time.monotonic() - started
    assert hint.reason == "poll"
    assert hint.folder_id == "INBOX"
    assert box.calls == 3
    assert 0.05 + 0.1 + 0.2 - 0.01 <= waited < 2  # 0.05, then 0.1, then capped at 0.2


def test_polling_watch_honours_retry_after() -> None:
    box = Scripted([errors.RateLimited(retry_after=0.4), ChangeSet(removed=["x"], token="2")])
    box.poll_policy = PollPolicy(initial=0.01, maximum=0.05)
    started = time.monotonic()
    next(iter(box.watch(timeout=10)))
    assert time.monotonic() - started >= 0.4


def test_polling_watch_rebaselines_an_expired_token() -> None:
    box = Scripted([errors.SyncTokenExpired()])
    box.poll_policy = PollPolicy(initial=0.01)
    hint = next(iter(box.watch(timeout=10)))
    assert hint.reason == "resync"


def test_find_replies_uses_the_thread_only_without_headers() -> None:
    original = summary(id="s", message_id="<orig@x>", thread_id="T")
    candidates = [
        original,
        summary(id="1", message_id="<a@x>", in_reply_to="<orig@x>"),
        summary(id="2", message_id="<b@x>", thread_id="T"),  # no headers, same thread
        summary(id="3", message_id="<c@x>", thread_id="T", references=("<other@x>",)),
        summary(id="4", message_id="<d@x>", thread_id="U"),
    ]

    class Replies(Minimal):
        def _find_replies(self, message_id: str) -> list[MessageSummary]:
            assert message_id == "<orig@x>"
            return candidates

    found = Replies().find_replies("orig@x")
    assert sorted(s.id for s in found) == ["1", "2"]


def test_token_is_json_safe_on_the_fake(fake_mailbox: FakeMailbox) -> None:
    token = fake_mailbox.sync_token(FolderRole.INBOX)
    assert json.loads(json.dumps(token)) == token
