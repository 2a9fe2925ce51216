"""The typed contract, as an application sees it. Checked by ``mypy --strict``, never run.

CI runs ``python -m mypy --strict inboxlink tests/typing``: each function below must
type-check, and each ``# type: ignore[...]`` marks something that must stay an error —
``warn_unused_ignores`` (part of ``--strict``) fails the check the day it stops being one.

(No ``__init__.py`` here on purpose: as a package this folder would be named ``typing``.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import inboxlink
from inboxlink import (
    ChangeHint,
    ChangeSet,
    FolderRole,
    Mailbox,
    MessageSummary,
    OutgoingMessage,
    Page,
    SearchQuery,
    SendResult,
    aio,
    errors,
)
from inboxlink.adapters.ews import EwsMailbox
from inboxlink.adapters.gmail import GmailMailbox
from inboxlink.adapters.graph import GraphMailbox
from inboxlink.adapters.imap import ImapMailbox
from inboxlink.aio.native import NativeAsyncMailbox
from inboxlink.aio.threaded import ThreadedAsyncMailbox
from inboxlink.testing import FakeMailbox, FakeMailServer, connect_fake, use_server


def app_code(mailbox: Mailbox) -> list[str]:
    """What an application writes: it only knows the protocol."""
    with mailbox as opened:
        return [summary.id for summary in opened.iter_messages(FolderRole.INBOX)]


def every_adapter_satisfies_mailbox(
    fake: FakeMailbox, imap: ImapMailbox, ews: EwsMailbox, graph: GraphMailbox,
    gmail: GmailMailbox,
) -> list[Mailbox]:
    app_code(fake)
    app_code(imap)
    app_code(ews)
    app_code(graph)
    app_code(gmail)
    return [fake, imap, ews, graph, gmail]


def adapter_classes_build_mailboxes() -> list[Callable[..., Mailbox]]:
    # The registry's view: any adapter class's from_url builds a Mailbox.
    return [FakeMailbox.from_url, ImapMailbox.from_url, EwsMailbox.from_url,
            GraphMailbox.from_url, GmailMailbox.from_url]


def provider_is_a_str(mailbox: Mailbox, imap: ImapMailbox) -> str:
    # Declared ClassVar[str] on the classes, a read-only property on the protocol.
    return mailbox.provider + ImapMailbox.provider + imap.provider


def connect_returns_the_protocol() -> None:
    mailbox = inboxlink.connect("fake://alice@example.com", password="ignored by the fake")
    app_code(mailbox)
    # connect() can only promise a Mailbox, so the fake's helpers are not visible on it …
    mailbox.deliver(b"")  # type: ignore[attr-defined]
    # … unless the application narrows it, as the demo does.
    if isinstance(mailbox, FakeMailbox):
        mailbox.deliver(b"")


def typed_entry_points_give_the_concrete_class() -> None:
    fake = connect_fake("fake://alice@example.com?seed=demo", password="ignored")
    fake.deliver(b"Subject: hi\r\n\r\nbody\r\n", "INBOX")
    fake.fail_next("send", errors.RateLimited(retry_after=1))
    assert fake.sent == []
    same = FakeMailbox.from_url("fake://bob@example.com", server=fake.server)
    same.fail_next("fetch", errors.TransientError())
    with FakeMailbox.from_url("fake://carol@example.com") as entered:
        entered.deliver(b"")  # __enter__ returns the class itself, not Mailbox
    imap: ImapMailbox = ImapMailbox.from_url("imaps://alice@mail.example.com", password="…")
    imap.close()
    with use_server(FakeMailServer()) as server:
        server.deliver(b"", to="alice@example.com")


def the_pytest_fixture_is_usable_as_a_mailbox(fake_mailbox: FakeMailbox) -> None:
    # What a test of the application does with the plugin's fixture.
    app_code(fake_mailbox)
    fake_mailbox.deliver(b"")


def round_two_methods(mailbox: Mailbox, sent: SendResult) -> None:
    token: str = mailbox.sync_token(FolderRole.INBOX)
    batch: ChangeSet = mailbox.changes(FolderRole.INBOX, token, limit=100)
    added: tuple[MessageSummary, ...] = batch.added
    removed: tuple[str, ...] = batch.removed
    next_token: str = batch.token
    more: bool = batch.more
    watch = mailbox.watch(FolderRole.INBOX, timeout=30)
    for hint in watch:
        seen: ChangeHint = hint
        assert seen.folder_id
        watch.stop()
    ids = [s.id for s in added]
    mailbox.set_read(ids, True)
    mailbox.set_flagged(ids[0], flagged=False)
    moved: dict[str, str | None] = mailbox.move(ids, FolderRole.ARCHIVE)
    mailbox.delete(removed, permanent=True)
    assert moved
    page: Page[MessageSummary] = mailbox.search(
        FolderRole.INBOX,
        SearchQuery(from_="bob@", unread=True, since=dt.date(2026, 1, 1), text="quote"),
        limit=20)
    replies: list[MessageSummary] = mailbox.find_replies(sent)
    mailbox.find_replies(sent.message_id)
    conversation: list[MessageSummary] = mailbox.thread(page.items[0])
    print(next_token, more, replies, conversation)


def verify_everywhere(mailbox: Mailbox, ews: EwsMailbox) -> None:
    result: SendResult = mailbox.verify("audit@example.org")
    ews.verify("audit@example.org", from_="shared@example.com")
    assert result.message_id


def errors_are_typed(mailbox: Mailbox) -> None:
    try:
        mailbox.send(OutgoingMessage(to=["bob@example.org"], subject="x", text="y"))
    except errors.RateLimited as exc:
        wait: float | None = exc.retry_after
        assert wait is None or wait >= 0
    except errors.MailboxClosed as exc:
        retryable: bool = exc.retryable
        print(retryable)
    version: str = inboxlink.__version__
    assert version


async def async_app_code(mailbox: aio.AsyncMailbox) -> list[str]:
    """What an asyncio application writes: the same names, awaited."""
    async with mailbox as opened:
        ids = [summary.id async for summary in opened.iter_messages(FolderRole.INBOX)]
        token: str = await opened.sync_token(FolderRole.INBOX)
        batch: ChangeSet = await opened.changes(FolderRole.INBOX, token)
        result: SendResult = await opened.send(OutgoingMessage(to=["bob@example.org"],
                                                               subject="x", text="y"))
        replies: list[MessageSummary] = await opened.find_replies(result)
        async for hint in opened.watch(FolderRole.INBOX, timeout=5):
            seen: ChangeHint = hint
            print(seen)
        print(batch, replies)
        return ids


async def every_async_face_satisfies_async_mailbox(
    graph: GraphMailbox, imap: ImapMailbox, fake: FakeMailbox,
) -> list[aio.AsyncMailbox]:
    faces = [aio.wrap(graph), aio.wrap(imap), aio.wrap(fake),
             NativeAsyncMailbox(graph), ThreadedAsyncMailbox(imap),
             await aio.connect("graph://alice@contoso.com", access_token="…")]
    for face in faces:
        await async_app_code(face)
    return faces
