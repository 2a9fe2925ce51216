"""Conformance for acting on mail (ActionTests), search (SearchTests) and replies (ReplyTests)."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from inboxlink import errors
from inboxlink.mailbox import Mailbox
from inboxlink.models import Capability, FolderRole, MessageSummary, OutgoingMessage
from inboxlink.query import SearchQuery

from ._core import Deliver, make_message, require

__all__ = ["ActionTests", "ReplyTests", "SearchTests"]

INBOX = FolderRole.INBOX


def _by_msgid(mailbox: Mailbox, folder: object = INBOX) -> dict[str, MessageSummary]:
    return {s.message_id or s.id: s
            for s in mailbox.iter_messages(folder)}  # type: ignore[arg-type]


def _n(k: int) -> str:
    return f"<conformance{k}@example.net>"


class ActionTests:
    """Read/flag/move/delete, in bulk, each seen by the next listing."""

    def test_set_read_and_unread(self, mailbox: Mailbox, deliver: Deliver) -> None:
        require(mailbox, Capability.ACTIONS)
        deliver(make_message(1))
        deliver(make_message(2))
        listed = _by_msgid(mailbox)
        mailbox.set_read([listed[_n(1)].id])
        after = _by_msgid(mailbox)
        assert after[_n(1)].seen
        assert not after[_n(2)].seen
        mailbox.set_read(listed[_n(1)].id, False)
        assert not _by_msgid(mailbox)[_n(1)].seen

    def test_set_flagged(self, mailbox: Mailbox, deliver: Deliver) -> None:
        require(mailbox, Capability.ACTIONS)
        deliver(make_message(1))
        first = _by_msgid(mailbox)[_n(1)]
        mailbox.set_flagged([first.id])
        assert "\\Flagged" in _by_msgid(mailbox)[_n(1)].flags
        mailbox.set_flagged([first.id], False)
        assert "\\Flagged" not in _by_msgid(mailbox)[_n(1)].flags

    def test_bulk_read_in_one_call(self, mailbox: Mailbox, deliver: Deliver) -> None:
        require(mailbox, Capability.ACTIONS)
        for k in range(1, 31):
            deliver(make_message(k))
        ids = [s.id for s in mailbox.iter_messages(INBOX)]
        assert len(ids) == 30
        mailbox.set_read(ids)
        assert all(s.seen for s in mailbox.iter_messages(INBOX))

    def test_move_to_archive(self, mailbox: Mailbox, deliver: Deliver) -> None:
        require(mailbox, Capability.ACTIONS)
        deliver(make_message(1))
        deliver(make_message(2))
        first = _by_msgid(mailbox)[_n(1)]
        moved = mailbox.move([first.id], FolderRole.ARCHIVE)
        assert list(moved) == [first.id]
        assert set(_by_msgid(mailbox)) == {_n(2)}
        archived = _by_msgid(mailbox, FolderRole.ARCHIVE)
        assert _n(1) in archived
        if moved[first.id] is not None:
            assert moved[first.id] == archived[_n(1)].id
            assert mailbox.fetch(archived[_n(1)].id).message_id == _n(1)

    def test_delete_moves_to_trash(self, mailbox: Mailbox, deliver: Deliver) -> None:
        require(mailbox, Capability.ACTIONS)
        deliver(make_message(1))
        first = _by_msgid(mailbox)[_n(1)]
        mailbox.delete([first.id])
        assert _by_msgid(mailbox) == {}
        assert _n(1) in _by_msgid(mailbox, FolderRole.TRASH)

    def test_delete_permanently(self, mailbox: Mailbox, deliver: Deliver) -> None:
        require(mailbox, Capability.ACTIONS)
        deliver(make_message(1))
        first = _by_msgid(mailbox)[_n(1)]
        mailbox.delete([first.id], permanent=True)
        assert _by_msgid(mailbox) == {}
        assert _n(1) not in _by_msgid(mailbox, FolderRole.TRASH)
        with pytest.raises(errors.MessageNotFound):
            mailbox.fetch(first.id)

    def test_unknown_ids_are_named_and_the_others_done(self, mailbox: Mailbox,
                                                       deliver: Deliver) -> None:
        require(mailbox, Capability.ACTIONS)
        deliver(make_message(1))
        deliver(make_message(2))
        listed = _by_msgid(mailbox)
        gone, kept = listed[_n(1)].id, listed[_n(2)].id
        mailbox.delete([gone], permanent=True)
        with pytest.raises(errors.MessageNotFound) as info:
            mailbox.set_read([gone, kept])
        assert info.value.missing == (gone,)
        assert _by_msgid(mailbox)[_n(2)].seen
        with pytest.raises(errors.MessageNotFound) as moved:
            mailbox.move([kept, gone], FolderRole.ARCHIVE)
        assert moved.value.missing == (gone,)
        assert list(moved.value.result) == [kept]
        assert _n(2) in _by_msgid(mailbox, FolderRole.ARCHIVE)

    def test_no_ids_is_a_no_op(self, mailbox: Mailbox) -> None:
        require(mailbox, Capability.ACTIONS)
        mailbox.set_read([])
        mailbox.delete([])
        assert mailbox.move([], FolderRole.ARCHIVE) == {}


def _search_corpus(deliver: Deliver) -> None:
    def make(n: int, sender: str, subject: str, body: str, attach: bool = False) -> bytes:
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = "Alice Example <alice@example.com>"
        msg["Subject"] = subject
        msg["Date"] = format_datetime(dt.datetime(2026, 1, n, 9, 0, tzinfo=dt.timezone.utc))
        msg["Message-ID"] = _n(n)
        msg.set_content(body)
        if attach:
            msg.add_attachment(b"%PDF-1.4 tiny", maintype="application", subtype="pdf",
                               filename="offer.pdf")
        return msg.as_bytes()

    deliver(make(1, "Bob Example <bob@example.net>", "Invoice März", "The payment is due.\n"))
    deliver(make(2, "Carol Jones <carol@example.org>", "Meeting agenda",
                 "Agenda for Zürich attached.\n", attach=True))
    deliver(make(3, "Bob Example <bob@example.net>", "Re: Meeting agenda", "Sounds good.\n"))


class SearchTests:
    """``search``: every field, combined with AND, non-ASCII included, paged newest first."""

    @pytest.fixture
    def corpus(self, mailbox: Mailbox, deliver: Deliver) -> dict[str, MessageSummary]:
        require(mailbox, Capability.SEARCH)
        _search_corpus(deliver)
        listed = _by_msgid(mailbox)
        assert len(listed) == 3
        return listed

    @staticmethod
    def _found(mailbox: Mailbox, **fields: object) -> set[str]:
        page = mailbox.search(INBOX, SearchQuery(**fields), limit=50)  # type: ignore[arg-type]
        return {s.message_id or s.id for s in page.items}

    @pytest.mark.parametrize(("fields", "expected"), [
        ({"from_": "carol@example.org"}, {2}),
        ({"from_": "bob@example.net"}, {1, 3}),
        ({"subject": "meeting"}, {2, 3}),
        ({"subject": "März"}, {1}),
        ({"text": "payment"}, {1}),
        ({"to": "alice@example.com"}, {1, 2, 3}),
        ({"has_attachments": True}, {2}),
        ({"message_id": "<conformance3@example.net>"}, {3}),
        ({"message_id": "conformance1@example.net"}, {1}),
        ({"from_": "bob@example.net", "subject": "meeting"}, {3}),
        ({"subject": "no such words here"}, set()),
    ])
    def test_fields(self, mailbox: Mailbox, corpus: dict[str, MessageSummary],
                    fields: dict[str, object], expected: set[int]) -> None:
        assert self._found(mailbox, **fields) == {_n(k) for k in expected}

    def test_read_and_flag_state(self, mailbox: Mailbox,
                                 corpus: dict[str, MessageSummary]) -> None:
        require(mailbox, Capability.ACTIONS)
        mailbox.set_read([corpus[_n(3)].id])
        mailbox.set_flagged([corpus[_n(2)].id])
        assert self._found(mailbox, unread=True) == {_n(1), _n(2)}
        assert self._found(mailbox, unread=False) == {_n(3)}
        assert self._found(mailbox, flagged=True) == {_n(2)}
        assert self._found(mailbox, from_="bob@example.net", unread=True) == {_n(1)}

    def test_received_window(self, mailbox: Mailbox, corpus: dict[str, MessageSummary]) -> None:
        today = dt.datetime.now(dt.timezone.utc).date()
        everything = {_n(1), _n(2), _n(3)}
        assert self._found(mailbox, since=today - dt.timedelta(days=1)) == everything
        assert self._found(mailbox, before=today + dt.timedelta(days=2)) == everything
        assert self._found(mailbox, since=today + dt.timedelta(days=2)) == set()
        assert self._found(mailbox, before=today - dt.timedelta(days=1)) == set()

    def test_pages_newest_first(self, mailbox: Mailbox,
                                corpus: dict[str, MessageSummary]) -> None:
        first = mailbox.search(INBOX, SearchQuery(to="alice@example.com"), limit=2)
        assert len(first.items) == 2
        assert first.next_cursor
        rest = mailbox.search(INBOX, SearchQuery(to="alice@example.com"), limit=2,
                              cursor=first.next_cursor)
        order = [s.message_id for s in (*first.items, *rest.items)]
        assert order == [_n(3), _n(2), _n(1)]
        assert rest.next_cursor is None


class ReplyTests:
    """``find_replies`` by Message-ID (never subject) and ``thread`` oldest first."""

    def test_replies_are_found_and_lookalikes_are_not(self, mailbox: Mailbox,
                                                      deliver: Deliver) -> None:
        require(mailbox, Capability.SEARCH)
        require(mailbox, Capability.SEND)
        sent = mailbox.send(OutgoingMessage(to="carol@example.org", subject="Quote 42",
                                            text="Our offer.\n"))

        def incoming(k: int, subject: str, refs: tuple[str, ...]) -> bytes:
            msg = EmailMessage()
            msg["From"] = "Carol Jones <carol@example.org>"
            msg["To"] = mailbox.address
            msg["Subject"] = subject
            msg["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
            msg["Message-ID"] = _n(k)
            if refs:
                msg["In-Reply-To"] = refs[-1]
                msg["References"] = " ".join(refs)
            msg.set_content(f"message {k}\n")
            return msg.as_bytes()

        deliver(incoming(101, "Re: Quote 42", (sent.message_id,)))
        deliver(incoming(102, "Re: Quote 42", ()))  # same subject, not a reply
        deliver(incoming(103, "Re: Re: Quote 42", (sent.message_id, _n(101))))
        found = mailbox.find_replies(sent)
        assert [s.message_id for s in found] == [_n(103), _n(101)]
        assert [s.message_id for s in mailbox.find_replies(sent.message_id)] == \
            [_n(103), _n(101)]
        assert mailbox.find_replies("<nobody-wrote-this@example.net>") == []

        conversation = mailbox.thread(found[-1])
        assert [s.message_id for s in conversation] == [sent.message_id, _n(101), _n(103)]

    def test_reply_needs_a_message_id(self, mailbox: Mailbox) -> None:
        require(mailbox, Capability.SEARCH)
        with pytest.raises(errors.ConfigurationError):
            mailbox.find_replies("")
