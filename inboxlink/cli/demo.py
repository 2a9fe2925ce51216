"""``inboxlink demo``: the library's story, told on the in-memory fake in a few seconds.

Everything runs against `FakeMailServer`, which behaves like a
real server (special-use folders, UIDs, Message-IDs, the Sent copy), so what the demo shows
is what an application sees with IMAP, Graph, Gmail or EWS.
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING

import inboxlink
from inboxlink import errors
from inboxlink.cli._output import error_panel
from inboxlink.models import FolderRole, Message, OutgoingMessage
from inboxlink.testing import FakeMailbox, FakeMailServer

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["run_demo"]

ME = "alice@example.com"

# (from, subject, body, reply to the previous one?) — a short customer thread and a newsletter
_INCOMING: tuple[tuple[str, str, str, bool], ...] = (
    ("Bob Buyer <bob@customer.test>", "Quote for 40 licences",
     "Hi Alice,\n\ncould you send a quote for 40 licences?\n\nBob", False),
    ("Bob Buyer <bob@customer.test>", "Re: Quote for 40 licences",
     "Also: do you offer an annual plan?\n\nBob", True),
    ("News <news@vendor.test>", "Your weekly digest",
     "Ten things that happened this week.", False),
)

# A server like many real ones: Sent/Drafts/Trash flagged with RFC 6154 special-use,
# Junk and a German "Archiv" only recognisable by name.
_FOLDERS: tuple[tuple[str, str | None], ...] = (
    ("INBOX", None), ("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash"),
    ("Junk", None), ("Archiv", None), ("Projects/Acme", None),
)


def _incoming_messages() -> list[EmailMessage]:
    result: list[EmailMessage] = []
    previous: EmailMessage | None = None
    for i, (sender, subject, body, is_reply) in enumerate(_INCOMING):
        message = EmailMessage()
        message["From"] = sender
        message["To"] = f"Alice Seller <{ME}>"
        message["Subject"] = subject
        sent_at = dt.datetime(2026, 11, 20, 9 + i, 15, tzinfo=dt.timezone.utc)
        message["Date"] = format_datetime(sent_at)
        # Fixed ids keep the demo readable; real senders' ids are long and random.
        message["Message-ID"] = f"<msg-{i + 1}@{sender.rpartition('@')[2].rstrip('>')}>"
        if is_reply and previous is not None:
            message["In-Reply-To"] = str(previous["Message-ID"])
            message["References"] = str(previous["Message-ID"])
        message.set_content(body)
        result.append(message)
        previous = message
    return result


def _step(console: Console, number: int, title: str) -> None:
    console.print()
    console.rule(f"[bold cyan]{number}. {title}", align="left")


def run_demo(console: Console) -> int:
    """Run the story; returns the exit code (0)."""
    from rich.table import Table

    console.print("[bold]inboxlink demo[/] — one typed Mailbox over IMAP, Graph, Gmail and EWS,"
                  " shown here on the built-in fake server.")

    server = FakeMailServer(folders=_FOLDERS)
    mailbox = inboxlink.connect(f"fake://{ME}", server=server)
    assert isinstance(mailbox, FakeMailbox)

    _step(console, 1, "Mail arrives")
    for incoming in _incoming_messages():
        mailbox.deliver(incoming)
        console.print(f"  delivered  [green]{incoming['Subject']}[/]  from {incoming['From']}")

    _step(console, 2, "Folders, their roles, and how each role was found")
    table = Table("folder", "role", "found by", "messages")
    for folder in mailbox.folders():
        table.add_row(folder.path, str(folder.role or "—"), str(folder.role_source or "—"),
                      str(folder.total if folder.total is not None else ""))
    console.print(table)
    sent = mailbox.folder(FolderRole.SENT)
    console.print(f"  Sent copies will go to [bold]{sent.path}[/] "
                  f"(found by {sent.role_source}).")

    _step(console, 3, "List the inbox (newest first) and fetch a message")
    page = mailbox.list_messages(FolderRole.INBOX, limit=10)
    listing = Table("id", "from", "subject", "date")
    for summary in page:
        when = summary.date.strftime("%Y-%m-%d %H:%M") if summary.date else ""
        listing.add_row(summary.id.rsplit(":", 1)[-1], str(summary.from_ or ""),
                        summary.subject or "", when)
    console.print(listing)
    latest_from_bob = next(s for s in page if s.from_ and s.from_.email == "bob@customer.test")
    message = mailbox.fetch(latest_from_bob.id)
    console.print(f"  fetched [bold]{message.subject}[/]  Message-ID {message.message_id}")
    console.print(f"  In-Reply-To {message.in_reply_to}  (Bob's reply threads onto his quote)")
    console.print(f"  body: {(message.text or '').strip().splitlines()[0]}")

    _step(console, 4, "Reply with correct threading headers")
    reply = message.reply(text="Hi Bob,\n\nyes: the annual plan is 10% off. Quote attached soon.",
                          from_=f"Alice Seller <{ME}>")
    result = mailbox.send(reply)
    out = Message(id="sent", folder_id="", raw=result.raw)
    headers = Table("header", "value", show_header=False)
    for name in ("From", "To", "Subject", "Message-ID", "In-Reply-To", "References"):
        headers.add_row(name, str(out.email.get(name, "")))
    console.print(headers)
    console.print("  In-Reply-To names the message answered; References carries the whole "
                  "thread, so Bob's mail client (and yours) files the reply correctly.")

    _step(console, 5, "Where the sent copy went")
    console.print(f"  SendResult.sent_copy = [bold]{result.sent_copy}[/]  "
                  f"into folder [bold]{result.sent_folder_id}[/] (id {result.provider_id})")
    copies = [raw for raw in server.messages(ME, sent.id) if result.message_id.encode() in raw]
    console.print(f"  copies of this message in {sent.path}: {len(copies)}  "
                  f"(SMTP servers need the copy appended; exactly one is kept)")
    gmail_like = FakeMailbox("carol@example.com", server=FakeMailServer(saves_sent_copy=True))
    provider_result = gmail_like.send(OutgoingMessage(to=["bob@customer.test"], subject="Hello",
                                                      text="Hi"))
    console.print(f"  on a Gmail/Microsoft 365-like server: sent_copy = "
                  f"[bold]{provider_result.sent_copy}[/] — the provider files it, never twice.")

    _step(console, 6, "A typed error, with its remedy")
    mailbox.fail_next("send", errors.RateLimited(
        "Too many messages sent in a short time.", provider="fake", code="421 4.7.0",
        retry_after=30))
    try:
        mailbox.send(OutgoingMessage(to=["bob@customer.test"], subject="Quote", text="…"))
    except errors.InboxLinkError as exc:
        console.print("  [dim]mailbox.send(...) while the server throttles:[/]")
        console.print(error_panel(exc))
    try:
        inboxlink.connect("pop3://alice@mail.example.com")
    except errors.InboxLinkError as exc:
        console.print("  [dim]inboxlink.connect('pop3://alice@mail.example.com'):[/]")
        console.print(error_panel(exc))
    mailbox.close()

    console.print()
    console.print("Next: [bold]inboxlink doctor you@your-domain[/] checks a real mailbox; "
                  "the docs show every error and its remedy.")
    return 0
