"""What every hostile message must survive, shared by the fuzzers and the corpus tests."""

from __future__ import annotations

import io

from inboxlink import errors, mime
from inboxlink.mailbox import Mailbox
from inboxlink.models import Address, Message, MessageSummary

ME = "me@example.com"
FIELDS = ("subject", "from_", "to", "cc", "date", "message_id", "in_reply_to", "references")


def exercise(raw: bytes) -> Message:
    """Every read a mailbox user does on a fetched message, then a reply and its sending."""
    message = Message(id="1", folder_id="INBOX", raw=raw)
    for name in (*FIELDS, "text", "html", "attachments", "email"):
        getattr(message, name)
    for attachment in message.attachments:
        assert isinstance(attachment.data, bytes)
        assert not attachment.content_type.startswith("multipart/")
    try:
        reply = message.reply(text="ok", reply_all=True, from_=ME)
    except errors.InvalidMessage:
        # only when nobody in Reply-To / From can be written back into a header
        candidates = (*message.envelope.reply_to, *((message.from_,) if message.from_ else ()))
        assert not any(mime.is_sendable(Address(email=a.email.strip())) for a in candidates)
        return message
    prepared = mime.prepare(reply, default_from=ME)  # what reply() returns can be sent
    assert prepared.in_reply_to == reply.in_reply_to
    assert prepared.recipients
    return message


def agree(summary: MessageSummary, message: Message) -> None:
    """The listing and the fetched message say the same about the same bytes."""
    for name in FIELDS:
        assert getattr(summary, name) == getattr(message, name), name


def through_mailbox(mailbox: Mailbox, summary: MessageSummary) -> Message:
    """Fetch, compare with the listing, read every attachment, and send a reply."""
    message = mailbox.fetch(summary.id)
    agree(summary, message)
    infos = mailbox.list_attachments(summary.id)
    for info in infos:
        out = io.BytesIO()
        written = mailbox.save_attachment(summary.id, info.part, out)
        assert written == len(out.getvalue())
    try:
        reply = message.reply(text="thanks", from_=ME)
    except errors.InvalidMessage:
        return message
    result = mailbox.send(reply)
    assert result.message_id
    return message
