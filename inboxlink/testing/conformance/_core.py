"""Round-1 conformance: folders, listing, fetching, sending, errors, attachments.

The fixtures class and the feature classes every adapter runs; how to use them is in the
package docstring (``inboxlink.testing.conformance``).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from inboxlink import errors
from inboxlink.mailbox import Mailbox
from inboxlink.models import (
    Attachment,
    AttachmentInfo,
    Capability,
    FolderRole,
    OutgoingMessage,
    RoleSource,
)

__all__ = [
    "CLOSED_GAPS",
    "CURSOR_GAPS",
    "ROUND1_TESTS",
    "AttachmentTests",
    "ErrorTests",
    "FetchTests",
    "FolderTests",
    "ListTests",
    "MailboxFixtures",
    "SendTests",
    "known_gap",
    "make_attachment_message",
    "make_large_attachment_message",
    "make_message",
    "make_nested_attachment_message",
    "require",
]

Deliver = Callable[[bytes], None]
Outbox = Callable[[], list[bytes]]


def make_message(
    n: int,
    *,
    to: str = "alice@example.com",
    sender: str = "Bob Example <bob@example.net>",
    days_ago: float | None = None,
    body: str | None = None,
) -> bytes:
    """A realistic incoming message number ``n`` (older for smaller ``n`` by default)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = f"Message {n} – zażółć"
    when = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc) + dt.timedelta(
        hours=n if days_ago is None else -24 * days_ago
    )
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = f"<conformance{n}@example.net>"
    msg.set_content(body if body is not None else f"Body of message {n}.\n")
    return msg.as_bytes()


#: the attachments `make_attachment_message` carries, for checking what comes back
ATTACHMENT_PDF_NAME = "Rechnung März – Übersicht.pdf"
ATTACHMENT_IMAGE_CID = "logo.7f3a@example.net"


def attachment_payloads() -> tuple[bytes, bytes]:
    """The (PDF-like, PNG-like) payloads: deterministic binary, every byte value present."""
    import random

    noise = random.Random(7)
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + noise.randbytes(300_000) + b"\n%%EOF\n"
    png = b"\x89PNG\r\n\x1a\n" + noise.randbytes(2_000)
    return pdf, png


def make_attachment_message(n: int = 1) -> bytes:
    """A message with a text body, a ~300 KB PDF with a non-ASCII name, and an inline image."""
    pdf, png = attachment_payloads()
    msg = EmailMessage()
    msg["From"] = "Bob Example <bob@example.net>"
    msg["To"] = "alice@example.com"
    msg["Subject"] = f"Attachments {n}"
    msg["Date"] = format_datetime(dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc))
    msg["Message-ID"] = f"<attachments{n}@example.net>"
    msg.set_content("See the invoice attached.\n")
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=ATTACHMENT_PDF_NAME)
    msg.add_attachment(png, maintype="image", subtype="png", filename="logo.png",
                       disposition="inline", cid=f"<{ATTACHMENT_IMAGE_CID}>")
    return msg.as_bytes()


#: the large attachment's size: above every provider's simple-request limit (Graph 3-4 MB,
#: Gmail 5 MB simple upload, EWS's default 35 MB request cap is for the encoded message)
LARGE_ATTACHMENT_SIZE = 30 * 1024 * 1024 + 12_345
LARGE_ATTACHMENT_NAME = "measurements-2026.bin"


@functools.lru_cache(maxsize=1)
def large_attachment_payload() -> bytes:
    """Deterministic incompressible bytes, `LARGE_ATTACHMENT_SIZE` of them (cached)."""
    import random

    return random.Random(30).randbytes(LARGE_ATTACHMENT_SIZE)


@functools.lru_cache(maxsize=1)
def _large_message(payload: bytes) -> bytes:
    import base64

    boundary = b"large-7f3a-boundary"
    # Written directly (76-character base64 lines, CRLF): the email package's generator
    # takes seconds for 40 MB, and this is exactly what it would produce.
    encoded = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    head = (
        "From: Lab <lab@example.net>\r\nTo: alice@example.com\r\nSubject: Large attachment\r\n"
        f"Date: {format_datetime(dt.datetime(2026, 1, 2, 12, 0, tzinfo=dt.timezone.utc))}\r\n"
        "Message-ID: <large-attachment@example.net>\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary.decode()}"\r\n\r\n'
    ).encode()
    return (head + b"--" + boundary + b"\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 7bit\r\n\r\nThe measurements are attached.\r\n"
            b"--" + boundary + b"\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=\"" + LARGE_ATTACHMENT_NAME.encode()
            + b"\"\r\n\r\n" + encoded + b"--" + boundary + b"--\r\n")


def make_large_attachment_message(payload: bytes | None = None) -> bytes:
    """A message with a short text body and one large binary attachment (base64)."""
    return _large_message(large_attachment_payload() if payload is None else payload)


#: what `make_nested_attachment_message` holds, in MIME order:
#: (filename, content type, inline, content id)
NESTED_ATTACHMENTS = (
    (None, "image/png", True, "chart.5e1d@example.net"),
    ("report.pdf", "application/pdf", False, None),
    ("forwarded.eml", "message/rfc822", False, None),
    ("notes.txt", "text/plain", False, None),
)


def nested_attachment_payloads() -> dict[str, bytes]:
    """The bytes of the nested message's file attachments, by file name (or ``"image"``)."""
    import random

    noise = random.Random(11)
    return {"image": b"\x89PNG\r\n\x1a\n" + noise.randbytes(900),
            "report.pdf": b"%PDF-1.4\n" + noise.randbytes(5_000),
            "notes.txt": "Notizen: zażółć\r\n".encode()}


def make_nested_attachment_message() -> bytes:
    """Attachments at every depth: an inline image without a file name inside
    multipart/related inside multipart/alternative, a PDF, an attached message
    (``message/rfc822``, named) and a named text attachment — what mail clients produce."""
    payloads = nested_attachment_payloads()
    msg = EmailMessage()
    msg["From"] = "Carol <carol@example.net>"
    msg["To"] = "alice@example.com"
    msg["Subject"] = "Nested attachments"
    msg["Date"] = format_datetime(dt.datetime(2026, 1, 3, 12, 0, tzinfo=dt.timezone.utc))
    msg["Message-ID"] = "<nested-attachments@example.net>"
    msg.set_content("See the chart.\n")
    msg.add_alternative('<p>See the chart: <img src="cid:chart.5e1d@example.net"></p>\n',
                        subtype="html")
    html = msg.get_payload()[1]  # type: ignore[index]
    assert isinstance(html, EmailMessage)
    html.add_related(payloads["image"], maintype="image", subtype="png",
                     cid="<chart.5e1d@example.net>", disposition="inline")
    msg.add_attachment(payloads["report.pdf"], maintype="application", subtype="pdf",
                       filename="report.pdf")
    from email import policy
    from email.parser import BytesParser

    forwarded = BytesParser(policy=policy.default).parsebytes(make_message(5))
    msg.add_attachment(forwarded, filename="forwarded.eml")
    msg.add_attachment(payloads["notes.txt"], maintype="text", subtype="plain",
                       filename="notes.txt")
    return msg.as_bytes()


def make_single_part_attachment_message() -> tuple[bytes, bytes]:
    """(message, payload): a message that is nothing but a named PDF (what scanners send)."""
    import base64
    import random

    payload = b"%PDF-1.4\n" + random.Random(12).randbytes(3_000)
    raw = (b"From: scanner@example.net\r\nTo: alice@example.com\r\nSubject: Scan\r\n"
           b"Message-ID: <scan-1@example.net>\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: application/pdf; name=\"scan.pdf\"\r\n"
           b"Content-Disposition: attachment; filename=\"scan.pdf\"\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n"
           + base64.encodebytes(payload).replace(b"\n", b"\r\n"))
    return raw, payload


#: built-in adapters that do not yet show ErrorTests' uniform behaviour, and what they do
#: instead. Their tests run marked ``xfail(strict=True)``: the gap stays visible in every
#: run, and the day an adapter complies its XPASS fails, so the entry is removed then.
#: Every other adapter (the fake, plugins) must comply.
CLOSED_GAPS: dict[str, str] = {}
CURSOR_GAPS: dict[str, str] = {}


def known_gap(request: pytest.FixtureRequest, mailbox: Mailbox, gaps: dict[str, str]) -> None:
    """Mark the running test ``xfail(strict=True)`` when ``mailbox``'s adapter is listed in
    ``gaps`` — a known, reported deviation, not a skip."""
    reason = gaps.get(mailbox.provider)
    if reason is not None:
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"known gap: {reason}"))


def require(mailbox: Mailbox, capability: Capability) -> None:
    if capability not in mailbox.capabilities:
        pytest.skip(f"{type(mailbox).__name__} does not declare the {capability.value!r} capability")


class MailboxFixtures:
    """Override ``mailbox``, ``deliver`` and ``outbox`` for your adapter."""

    @pytest.fixture
    def mailbox(self) -> Mailbox:
        """A connected mailbox on an empty account (override this)."""
        raise NotImplementedError("override the 'mailbox' fixture in your fixtures class")

    @pytest.fixture
    def deliver(self, mailbox: Mailbox) -> Deliver:
        """A callable that puts raw incoming mail into the mailbox's INBOX (override this)."""
        raise NotImplementedError("override the 'deliver' fixture in your fixtures class")

    @pytest.fixture
    def outbox(self) -> Outbox:
        """A callable returning the raw messages the provider sent out, oldest first."""
        raise NotImplementedError("override the 'outbox' fixture in your fixtures class")

    @pytest.fixture
    def large_attachment_size(self) -> int:
        """Size of the file the large-send test attaches: `LARGE_ATTACHMENT_SIZE` (over
        30 MB) unless the provider's message limit, which counts the base64-encoded message,
        is lower (Gmail: 35 MB of message, so about 25 MB of file)."""
        return LARGE_ATTACHMENT_SIZE

    @pytest.fixture
    def connect_url(self, mailbox: Mailbox) -> str:
        """A URL for ``type(mailbox).from_url`` naming this account; override it when
        ``<provider>://<address>`` is not one. Only used to check option handling, so it
        is never connected to."""
        return f"{mailbox.provider}://{mailbox.address}"

    @pytest.fixture
    def reconnect(self, mailbox: Mailbox) -> Callable[[], Mailbox]:
        """A callable opening a *new* mailbox object on the same account (override this).

        The suite closes what it opens. Used to prove tokens and ids outlive one instance.
        """
        raise NotImplementedError("override the 'reconnect' fixture in your fixtures class")


class FolderTests:
    """Folders and their roles."""

    def test_inbox_has_inbox_role(self, mailbox: Mailbox) -> None:
        inbox = mailbox.folder(FolderRole.INBOX)
        assert inbox.role is FolderRole.INBOX
        assert inbox in mailbox.folders()

    def test_sent_folder_is_resolved_with_provenance(self, mailbox: Mailbox) -> None:
        sent = mailbox.folder(FolderRole.SENT)
        assert sent.role is FolderRole.SENT
        assert sent.role_source in set(RoleSource)

    def test_every_role_is_explained(self, mailbox: Mailbox) -> None:
        for folder in mailbox.folders():
            assert (folder.role is None) == (folder.role_source is None), folder

    def test_unknown_folder_raises_folder_not_found(self, mailbox: Mailbox) -> None:
        with pytest.raises(errors.FolderNotFound) as info:
            mailbox.folder("no such folder 7f3a")
        assert isinstance(info.value, LookupError)
        assert info.value.remedy

    def test_folder_lookup_by_id_and_path(self, mailbox: Mailbox) -> None:
        sent = mailbox.folder(FolderRole.SENT)
        assert mailbox.folder(sent.id) == sent
        assert mailbox.folder(sent.path) == sent


class ListTests:
    """Listing, paging and cursors."""

    def test_empty_inbox_lists_nothing(self, mailbox: Mailbox) -> None:
        page = mailbox.list_messages(FolderRole.INBOX, limit=10)
        assert page.items == ()
        assert page.next_cursor is None

    def test_pages_newest_first_with_json_safe_cursor(
        self, mailbox: Mailbox, deliver: Deliver
    ) -> None:
        for n in range(1, 8):
            deliver(make_message(n))
        seen: list[str | None] = []
        cursor = None
        sizes = []
        while True:
            page = mailbox.list_messages("INBOX", limit=3, cursor=cursor)
            sizes.append(len(page.items))
            seen.extend(s.subject for s in page.items)
            if page.next_cursor is None:
                break
            assert isinstance(page.next_cursor, str)
            assert json.loads(json.dumps(page.next_cursor)) == page.next_cursor
            cursor = page.next_cursor
        assert sizes == [3, 3, 1]
        assert seen == [f"Message {n} – zażółć" for n in range(7, 0, -1)]

    def test_iter_messages_yields_each_once(self, mailbox: Mailbox, deliver: Deliver) -> None:
        for n in range(1, 6):
            deliver(make_message(n))
        ids = [s.id for s in mailbox.iter_messages(FolderRole.INBOX, page_size=2)]
        assert len(ids) == 5
        assert len(set(ids)) == 5

    def test_summary_fields(self, mailbox: Mailbox, deliver: Deliver) -> None:
        raw = make_message(1)
        deliver(raw)
        (summary,) = mailbox.list_messages(FolderRole.INBOX).items
        assert summary.subject == "Message 1 – zażółć"
        assert summary.from_ is not None
        assert summary.from_.email == "bob@example.net"
        assert summary.from_.name == "Bob Example"
        assert [a.email for a in summary.to] == ["alice@example.com"]
        assert summary.message_id == "<conformance1@example.net>"
        assert summary.date == dt.datetime(2026, 1, 1, 13, 0, tzinfo=dt.timezone.utc)
        assert not summary.seen
        assert isinstance(summary.id, str)


class FetchTests:
    """Fetching whole messages."""

    def test_fetch_returns_the_message(self, mailbox: Mailbox, deliver: Deliver) -> None:
        deliver(make_message(1, body="Hello from the conformance suite.\n"))
        (summary,) = mailbox.list_messages(FolderRole.INBOX).items
        message = mailbox.fetch(summary.id)
        assert message.id == summary.id
        assert message.message_id == "<conformance1@example.net>"
        assert message.subject == "Message 1 – zażółć"
        assert message.text is not None
        assert "Hello from the conformance suite." in message.text
        assert b"Hello from the conformance suite." in message.raw

    def test_fetch_does_not_mark_as_read(self, mailbox: Mailbox, deliver: Deliver) -> None:
        deliver(make_message(1))
        (summary,) = mailbox.list_messages(FolderRole.INBOX).items
        mailbox.fetch(summary.id)
        (again,) = mailbox.list_messages(FolderRole.INBOX).items
        assert not again.seen

    def test_fetch_many_keeps_order(self, mailbox: Mailbox, deliver: Deliver) -> None:
        for n in range(1, 5):
            deliver(make_message(n))
        ids = [s.id for s in mailbox.list_messages(FolderRole.INBOX).items]
        wanted = [ids[2], ids[0], ids[3], ids[1]]
        assert [m.id for m in mailbox.fetch_many(wanted)] == wanted

    def test_fetch_to_file_writes_the_raw_bytes(
        self, mailbox: Mailbox, deliver: Deliver, tmp_path: object
    ) -> None:
        import pathlib

        assert isinstance(tmp_path, pathlib.Path)
        deliver(make_message(1, body="x" * 200_000 + "\n"))
        (summary,) = mailbox.list_messages(FolderRole.INBOX).items
        target = tmp_path / "message.eml"
        written = mailbox.fetch_to_file(summary.id, target)
        assert written == target.stat().st_size
        assert target.read_bytes() == mailbox.fetch(summary.id).raw

    def test_unknown_message_raises_not_found(self, mailbox: Mailbox, deliver: Deliver) -> None:
        deliver(make_message(1))
        (summary,) = mailbox.list_messages(FolderRole.INBOX).items
        mailbox.fetch(summary.id)
        bogus = summary.id[:-1] + ("9" if not summary.id.endswith("9") else "8") + "0"
        with pytest.raises(errors.NotFound):
            mailbox.fetch(bogus)


def _sent_copies(mailbox: Mailbox, message_id: str) -> int:
    sent = mailbox.folder(FolderRole.SENT)
    return sum(1 for s in mailbox.iter_messages(sent) if s.message_id == message_id)


class SendTests:
    """Sending, the Sent copy, Bcc and threading."""

    def test_send_keeps_exactly_one_sent_copy(self, mailbox: Mailbox, outbox: Outbox) -> None:
        require(mailbox, Capability.SEND)
        result = mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="Hello",
                                              text="Hi Carol"))
        assert result.message_id.startswith("<")
        assert result.message_id.endswith(">")
        assert not result.failed
        assert result.saved_by_provider or result.appended
        assert _sent_copies(mailbox, result.message_id) == 1
        sent = outbox()
        assert len(sent) == 1
        assert result.message_id.encode() in sent[0]

    def test_message_id_is_on_the_senders_domain(self, mailbox: Mailbox) -> None:
        require(mailbox, Capability.SEND)
        result = mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="Domain",
                                              text="x"))
        domain = mailbox.address.rpartition("@")[2]
        assert result.message_id.endswith(f"@{domain}>")

    def test_bcc_is_delivered_but_never_shown(self, mailbox: Mailbox, outbox: Outbox) -> None:
        require(mailbox, Capability.SEND)
        result = mailbox.send(OutgoingMessage(
            to=["carol@example.org"], bcc=["secret-dave@example.org"], subject="Bcc", text="x"
        ))
        (raw,) = outbox()
        assert b"secret-dave" not in raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        sent = mailbox.folder(FolderRole.SENT)
        (copy_summary,) = [s for s in mailbox.iter_messages(sent)
                           if s.message_id == result.message_id]
        copy = mailbox.fetch(copy_summary.id)
        visible = " ".join(str(v) for name, v in copy.email.items() if name.lower() != "bcc")
        assert "secret-dave" not in visible
        if Capability.PROVIDER_SAVES_SENT not in mailbox.capabilities:
            # A copy we store ourselves never names Bcc recipients. Providers that file the
            # copy themselves (Gmail, Microsoft 365) keep a Bcc header in the sender's own
            # copy, as their own clients show it; recipients still never see it (above).
            assert "secret-dave" not in str(copy.email.get("Bcc", ""))

    def test_reply_carries_threading_headers(
        self, mailbox: Mailbox, deliver: Deliver, outbox: Outbox
    ) -> None:
        require(mailbox, Capability.SEND)
        deliver(make_message(1))
        (summary,) = mailbox.list_messages(FolderRole.INBOX).items
        original = mailbox.fetch(summary.id)
        mailbox.send(original.reply(text="Thanks!"))
        (raw,) = outbox()
        from inboxlink import mime

        sent = mime.parse(raw)
        assert str(sent["In-Reply-To"]).strip() == "<conformance1@example.net>"
        assert "<conformance1@example.net>" in str(sent["References"])
        assert str(sent["Subject"]).startswith("Re: Message 1")
        assert "bob@example.net" in str(sent["To"])

    def test_header_injection_is_refused_before_sending(
        self, mailbox: Mailbox, outbox: Outbox
    ) -> None:
        require(mailbox, Capability.SEND)
        with pytest.raises(errors.InvalidMessage):
            mailbox.send(OutgoingMessage(to=["carol@example.org"],
                                         subject="Hi\r\nBcc: victim@example.org", text="x"))
        assert outbox() == []

    def test_send_accepts_a_stdlib_email_message(self, mailbox: Mailbox, outbox: Outbox) -> None:
        require(mailbox, Capability.SEND)
        msg = EmailMessage()
        msg["To"] = "carol@example.org"
        msg["Subject"] = "From the stdlib"
        msg.set_content("plain stdlib message")
        result = mailbox.send(msg)
        (raw,) = outbox()
        assert b"From the stdlib" in raw
        assert result.message_id.encode() in raw

    def test_verify_sends_one_hidden_test_message(self, mailbox: Mailbox, outbox: Outbox) -> None:
        require(mailbox, Capability.SEND)
        result = mailbox.verify("audit@example.org")
        assert not result.failed
        sent = outbox()
        assert len(sent) == 1
        assert result.message_id.encode() in sent[0]
        assert b"audit@example.org" not in sent[0]  # the test recipient is a hidden Bcc
        if Capability.PROVIDER_SAVES_SENT not in mailbox.capabilities:
            assert _sent_copies(mailbox, result.message_id) == 0

    def test_append_to_sent_stores_a_read_copy(self, mailbox: Mailbox) -> None:
        require(mailbox, Capability.APPEND_TO_SENT)
        raw = make_message(42, sender=mailbox.address, to="carol@example.org")
        mailbox.append_to_sent(raw)
        sent = mailbox.folder(FolderRole.SENT)
        found = [s for s in mailbox.iter_messages(sent)
                 if s.message_id == "<conformance42@example.net>"]
        assert len(found) == 1
        assert found[0].seen


class ErrorTests:
    """Typed errors at the boundary."""

    def test_errors_carry_remedies(self, mailbox: Mailbox) -> None:
        with pytest.raises(errors.InboxLinkError) as info:
            mailbox.folder("no such folder 7f3a")
        assert info.value.remedy
        assert info.value.provider is not None

    def test_bad_limit_is_a_typed_error(self, mailbox: Mailbox) -> None:
        with pytest.raises(errors.InboxLinkError):
            mailbox.list_messages(FolderRole.INBOX, limit=0)

    def test_garbage_cursor_is_a_typed_error(self, mailbox: Mailbox, deliver: Deliver) -> None:
        deliver(make_message(1))
        with pytest.raises(errors.InboxLinkError):
            mailbox.list_messages(FolderRole.INBOX, limit=1, cursor="not a cursor")

    def test_send_without_recipients_is_refused(self, mailbox: Mailbox, outbox: Outbox) -> None:
        require(mailbox, Capability.SEND)
        with pytest.raises(errors.InvalidMessage):
            mailbox.send(OutgoingMessage(subject="nobody", text="x"))
        assert outbox() == []

    def test_garbage_cursor_is_cursor_expired(
        self, mailbox: Mailbox, deliver: Deliver, request: pytest.FixtureRequest,
    ) -> None:
        known_gap(request, mailbox, CURSOR_GAPS)
        deliver(make_message(1))
        for cursor in ("not a cursor", "{}", json.dumps({"cursor": 7})):
            with pytest.raises(errors.CursorExpired):
                mailbox.list_messages(FolderRole.INBOX, limit=1, cursor=cursor)

    def test_cursor_of_another_folder_is_cursor_expired(
        self, mailbox: Mailbox, deliver: Deliver, request: pytest.FixtureRequest,
    ) -> None:
        known_gap(request, mailbox, CURSOR_GAPS)
        require(mailbox, Capability.APPEND_TO_SENT)
        for n in (1, 2):
            deliver(make_message(n))
            mailbox.append_to_sent(make_message(10 + n))
        inbox_cursor = mailbox.list_messages(FolderRole.INBOX, limit=1).next_cursor
        assert inbox_cursor
        with pytest.raises(errors.CursorExpired):
            mailbox.list_messages(FolderRole.SENT, limit=1, cursor=inbox_cursor)

    def test_unknown_option_is_a_configuration_error(
        self, mailbox: Mailbox, connect_url: str,
    ) -> None:
        # A misspelt option must fail loudly, before any connection, naming the option
        # (never a raw TypeError): applications pass options from their settings.
        with pytest.raises(errors.ConfigurationError) as info:
            type(mailbox).from_url(connect_url, no_such_option_7f3a=True)
        assert "no_such_option_7f3a" in str(info.value)
        # code "option" on every adapter: `inboxlink doctor` reports exactly that code as
        # "options not accepted", and applications can tell a misspelt option by it
        assert info.value.code == "option"

    def test_close_twice_is_safe(self, mailbox: Mailbox) -> None:
        mailbox.close()
        mailbox.close()

    def test_use_after_close_raises_mailbox_closed(
        self, mailbox: Mailbox, request: pytest.FixtureRequest,
    ) -> None:
        # One documented behaviour: a closed mailbox is never reopened behind the
        # application's back; it raises ConnectionLost (MailboxClosed), not retryable.
        known_gap(request, mailbox, CLOSED_GAPS)
        mailbox.folders()
        mailbox.close()
        with pytest.raises(errors.ConnectionLost) as info:
            mailbox.list_messages(FolderRole.INBOX, limit=1)
        assert info.value.retryable is False
        with pytest.raises(errors.ConnectionLost):
            mailbox.folders(refresh=True)


class AttachmentTests:
    """Listing attachments and saving one without the rest of the message."""

    def _delivered(self, mailbox: Mailbox, deliver: Deliver) -> str:
        deliver(make_attachment_message())
        (summary,) = mailbox.list_messages(FolderRole.INBOX).items
        return summary.id

    def _by_name(self, mailbox: Mailbox, message_id: str) -> dict[str | None, AttachmentInfo]:
        found = mailbox.list_attachments(message_id)
        assert all(isinstance(info, AttachmentInfo) for info in found)
        assert len({info.part for info in found}) == len(found)
        return {info.filename: info for info in found}

    def test_list_attachments_describes_each_part(
        self, mailbox: Mailbox, deliver: Deliver
    ) -> None:
        message_id = self._delivered(mailbox, deliver)
        found = self._by_name(mailbox, message_id)
        assert set(found) == {ATTACHMENT_PDF_NAME, "logo.png"}
        pdf, image = found[ATTACHMENT_PDF_NAME], found["logo.png"]
        assert pdf.content_type == "application/pdf"
        assert not pdf.inline
        assert pdf.content_id is None
        assert pdf.size is not None
        assert abs(pdf.size - len(attachment_payloads()[0])) < 100
        assert image.content_type == "image/png"
        assert image.inline
        assert image.content_id == ATTACHMENT_IMAGE_CID

    def test_save_attachment_to_a_path_writes_the_original_bytes(
        self, mailbox: Mailbox, deliver: Deliver, tmp_path: object
    ) -> None:
        import pathlib

        assert isinstance(tmp_path, pathlib.Path)
        message_id = self._delivered(mailbox, deliver)
        part = self._by_name(mailbox, message_id)[ATTACHMENT_PDF_NAME].part
        target = tmp_path / "invoice.pdf"
        written = mailbox.save_attachment(message_id, part, target)
        pdf = attachment_payloads()[0]
        assert written == len(pdf)
        assert target.read_bytes() == pdf

    def test_save_attachment_to_a_file_object(self, mailbox: Mailbox, deliver: Deliver) -> None:
        import io

        message_id = self._delivered(mailbox, deliver)
        part = self._by_name(mailbox, message_id)["logo.png"].part
        buffer = io.BytesIO()
        written = mailbox.save_attachment(message_id, part, buffer)
        png = attachment_payloads()[1]
        assert written == len(png)
        assert buffer.getvalue() == png

    def test_saving_does_not_mark_as_read(self, mailbox: Mailbox, deliver: Deliver) -> None:
        import io

        message_id = self._delivered(mailbox, deliver)
        part = self._by_name(mailbox, message_id)["logo.png"].part
        mailbox.save_attachment(message_id, part, io.BytesIO())
        (again,) = mailbox.list_messages(FolderRole.INBOX).items
        assert not again.seen

    def test_unknown_part_raises_not_found(self, mailbox: Mailbox, deliver: Deliver) -> None:
        import io

        message_id = self._delivered(mailbox, deliver)
        known = {info.part for info in mailbox.list_attachments(message_id)}
        bogus = next(p for p in ("99", "7.3", "nonsense") if p not in known)
        with pytest.raises(errors.NotFound) as info:
            mailbox.save_attachment(message_id, bogus, io.BytesIO())
        assert info.value.remedy

    def test_list_agrees_with_the_parsed_message(
        self, mailbox: Mailbox, deliver: Deliver
    ) -> None:
        # One definition of "attachment" for every adapter: what the provider lists is what
        # parsing the message's own MIME finds, in the same order, with the same types.
        from inboxlink import mime

        message_id = self._delivered(mailbox, deliver)
        listed = [(i.filename, i.content_type, i.inline, i.content_id)
                  for i in mailbox.list_attachments(message_id)]
        parsed = [(a.filename, a.content_type, a.inline, a.content_id)
                  for a in mime.attachments(mailbox.fetch(message_id).email)]
        assert listed == parsed

    def test_large_attachment_is_saved_byte_exact(
        self, mailbox: Mailbox, deliver: Deliver, tmp_path: object
    ) -> None:
        # Over 30 MB: above every provider's single-request upload limit, so an adapter that
        # reads attachments through a size-limited path (or in one buffer) shows it here.
        import hashlib
        import pathlib

        assert isinstance(tmp_path, pathlib.Path)
        payload = large_attachment_payload()
        deliver(make_large_attachment_message(payload))
        (summary,) = mailbox.list_messages(FolderRole.INBOX).items
        (info,) = mailbox.list_attachments(summary.id)
        assert info.filename == LARGE_ATTACHMENT_NAME
        assert info.content_type == "application/octet-stream"
        assert info.size is not None
        assert abs(info.size - len(payload)) < len(payload) // 100
        target = tmp_path / LARGE_ATTACHMENT_NAME
        written = mailbox.save_attachment(summary.id, info.part, target)
        assert written == len(payload) == target.stat().st_size
        with open(target, "rb") as fh:
            assert hashlib.file_digest(fh, "sha256").digest() == hashlib.sha256(payload).digest()

    def test_large_file_attachment_is_sent_and_read_back(
        self, mailbox: Mailbox, outbox: Outbox, tmp_path: object, large_attachment_size: int
    ) -> None:
        # A file over 30 MB attached from disk: sent once (through the provider's upload
        # path where one is needed), delivered byte-exact, with one Sent copy that reads back.
        import hashlib
        import pathlib

        require(mailbox, Capability.SEND)
        assert isinstance(tmp_path, pathlib.Path)
        from inboxlink import mime

        payload = large_attachment_payload()[:large_attachment_size]
        digest = hashlib.sha256(payload).digest()

        source = tmp_path / LARGE_ATTACHMENT_NAME
        source.write_bytes(payload)
        result = mailbox.send(OutgoingMessage(
            to=["carol@example.org"], subject="Large file", text="The file is attached.",
            attachments=[Attachment.from_path(source)]))
        assert not result.failed
        assert result.spool.size > len(payload)
        (delivered,) = outbox()
        (attachment,) = mime.attachments(mime.parse(delivered))
        assert attachment.filename == LARGE_ATTACHMENT_NAME
        assert hashlib.sha256(attachment.data).digest() == digest
        sent = mailbox.folder(FolderRole.SENT)
        (copy,) = [s for s in mailbox.iter_messages(sent) if s.message_id == result.message_id]
        (info,) = mailbox.list_attachments(copy.id)
        target = tmp_path / "read-back.bin"
        assert mailbox.save_attachment(copy.id, info.part, target) == len(payload)
        with open(target, "rb") as fh:
            assert hashlib.file_digest(fh, "sha256").digest() == digest

    def test_message_without_attachments_lists_none(
        self, mailbox: Mailbox, deliver: Deliver
    ) -> None:
        deliver(make_message(1))
        (summary,) = mailbox.list_messages(FolderRole.INBOX).items
        assert mailbox.list_attachments(summary.id) == []


ROUND1_TESTS = (FolderTests, ListTests, FetchTests, SendTests, ErrorTests, AttachmentTests)
