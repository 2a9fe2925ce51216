"""Ready-made mailbox contents for the fake: ``fake://demo@example.com?seed=demo``.

A seed fills a *new* account once (an account that already exists on the server is left as
it is), so a URL with ``?seed=`` can be opened again, or by a second client, without
duplicating mail. The messages are realistic: full headers, a customer thread whose reply
carries ``In-Reply-To``/``References``, a newsletter with ``List-Unsubscribe``, an
attachment, our own answer in Sent, and read/flagged states.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from email.utils import format_datetime

import attrs

__all__ = ["SEEDS", "SeedMessage", "demo_seed", "seed_names"]


@attrs.frozen
class SeedMessage:
    """One stored message of a seed: its folder path, raw bytes and IMAP-style flags."""

    folder: str
    raw: bytes = attrs.field(repr=lambda raw: f"<{len(raw)} bytes>")
    flags: frozenset[str] = frozenset()


def _message(*, sender: str, to: str, subject: str, body: str, when: dt.datetime,
             message_id: str, replying_to: EmailMessage | None = None,
             extra: Mapping[str, str] | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(when)
    message["Message-ID"] = message_id
    if replying_to is not None:
        parent = str(replying_to["Message-ID"])
        message["In-Reply-To"] = parent
        earlier = str(replying_to.get("References", "")).split()
        message["References"] = " ".join([*earlier, parent])
    for name, value in (extra or {}).items():
        message[name] = value
    message.set_content(body)
    return message


def demo_seed(address: str) -> tuple[SeedMessage, ...]:
    """A small sales inbox: a customer thread answered from Sent, a follow-up, a newsletter,
    an invoice with a PDF, and a flagged internal note. Oldest first."""
    me = f"Alice Seller <{address}>"
    day = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)

    quote = _message(
        sender="Bob Buyer <bob@customer.test>", to=me, subject="Quote for 40 licences",
        body="Hi Alice,\n\ncould you send a quote for 40 licences?\n\nBob\n",
        when=day.replace(hour=9, minute=15), message_id="<quote-1@customer.test>")
    answer = _message(
        sender=me, to="Bob Buyer <bob@customer.test>", subject="Re: Quote for 40 licences",
        body="Hi Bob,\n\n40 licences come to 4,800 EUR a year. The quote is on its way.\n\n"
             "Alice\n",
        when=day.replace(hour=10, minute=2), message_id="<answer-1@example.com>",
        replying_to=quote)
    follow_up = _message(
        sender="Bob Buyer <bob@customer.test>", to=me, subject="Re: Quote for 40 licences",
        body="Thanks! Also: do you offer an annual plan?\n\nBob\n",
        when=day.replace(hour=11, minute=40), message_id="<quote-2@customer.test>",
        replying_to=answer)
    digest = _message(
        sender="Vendor News <news@vendor.test>", to=address, subject="Your weekly digest",
        body="Ten things that happened this week.\n",
        when=day.replace(hour=7, minute=0), message_id="<digest-47@vendor.test>",
        extra={"List-Unsubscribe": "<mailto:unsubscribe@vendor.test>",
               "List-Id": "Vendor News <news.vendor.test>"})
    invoice = _message(
        sender="Billing <billing@supplier.test>", to=me, subject="Invoice 2026-117",
        body="Please find invoice 2026-117 attached. Due in 30 days.\n",
        when=day.replace(hour=8, minute=30), message_id="<inv-2026-117@supplier.test>")
    invoice.add_attachment(b"%PDF-1.7\n% inboxlink demo invoice\n%%EOF\n",
                           maintype="application", subtype="pdf",
                           filename="invoice-2026-117.pdf")
    note = _message(
        sender="Carol Manager <carol@example.com>", to=me, subject="Renewals this month",
        body="Alice, please check the three renewals due before the 30th.\n\nCarol\n",
        when=day.replace(hour=12, minute=5), message_id="<note-9@example.com>")

    seen = frozenset({"\\Seen"})
    return (
        SeedMessage("INBOX", digest.as_bytes(), seen),
        SeedMessage("INBOX", invoice.as_bytes(), seen),
        SeedMessage("INBOX", quote.as_bytes(), seen),
        SeedMessage("Sent", answer.as_bytes(), seen),
        SeedMessage("INBOX", follow_up.as_bytes()),
        SeedMessage("INBOX", note.as_bytes(), frozenset({"\\Flagged"})),
    )


#: seed name → messages for an account address
SEEDS: Mapping[str, Callable[[str], tuple[SeedMessage, ...]]] = {"demo": demo_seed}


def seed_names() -> list[str]:
    """The names ``?seed=`` accepts."""
    return sorted(SEEDS)
