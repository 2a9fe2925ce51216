"""Building (threading, Bcc, attachments, injection refusal) and robust parsing."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from inboxlink import errors, mime
from inboxlink.models import Address, Attachment, Message, OutgoingMessage
from inboxlink.spool import Spool


def _prepared(**kwargs: object) -> mime.PreparedMessage:
    base: dict[str, object] = {"to": ["Carol <carol@example.org>"], "subject": "Hi", "text": "x"}
    base.update(kwargs)
    return mime.prepare(OutgoingMessage(**base), default_from="alice@example.com")  # type: ignore[arg-type]


def test_message_id_date_and_sender_domain() -> None:
    prepared = _prepared()
    assert prepared.message_id.endswith("@example.com>")
    assert b"Date: " in prepared.raw
    assert prepared.sender == Address("alice@example.com")
    assert prepared.raw.count(b"\r\n") > 3
    assert b"\n" not in prepared.raw.replace(b"\r\n", b"")


def test_bcc_is_envelope_only() -> None:
    prepared = _prepared(bcc=["hidden@example.org"], cc=["dan@example.org"])
    assert b"hidden@example.org" not in prepared.raw
    assert [a.email for a in prepared.recipients] == [
        "carol@example.org", "dan@example.org", "hidden@example.org"
    ]
    assert [a.email for a in prepared.bcc] == ["hidden@example.org"]


def test_with_bcc_header_puts_the_hidden_recipients_in_front_for_header_based_providers(
) -> None:
    prepared = _prepared(bcc=["hidden@example.org", "other@example.org"])
    wire = prepared.with_bcc_header()
    assert wire.read() == b"Bcc: hidden@example.org, other@example.org\r\n" + prepared.raw
    plain = _prepared()
    assert plain.with_bcc_header().prefix == b""
    assert plain.with_bcc_header().read() == plain.raw
    body = Spool.of(b"Subject: draft\r\n\r\nx")
    assert prepared.with_bcc_header(body).read().endswith(b"\r\n\r\nx")


def test_bcc_header_of_a_stdlib_message_is_moved_to_the_envelope() -> None:
    msg = EmailMessage()
    msg["From"] = "alice@example.com"
    msg["To"] = "carol@example.org"
    msg["Bcc"] = "hidden@example.org"
    msg["Subject"] = "stdlib"
    msg.set_content("x")
    prepared = mime.prepare(msg, default_from="alice@example.com")
    assert b"hidden@example.org" not in prepared.raw
    assert "hidden@example.org" in [a.email for a in prepared.recipients]
    assert msg["Bcc"] == "hidden@example.org", "the caller's object is not modified"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"subject": "Hello\r\nBcc: victim@example.org"},
        {"subject": "Hello\nX-Evil: 1"},
        {"to": ["carol@example.org\r\nBcc: victim@example.org"]},
        {"from_": Address("alice@example.com", name="Alice\r\nBcc: v@example.org")},
        {"headers": {"X-Tag": "a\r\nBcc: v@example.org"}},
        {"headers": {"X-Bad Name": "a"}},
        {"in_reply_to": "<a@b>\r\nBcc: v@example.org"},
    ],
)
def test_header_injection_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(errors.InvalidMessage):
        _prepared(**kwargs)


def test_injection_in_a_stdlib_message_is_refused() -> None:
    msg = EmailMessage()
    msg["To"] = "carol@example.org"
    msg.set_raw("Subject", "Hi\r\nBcc: victim@example.org")
    with pytest.raises(errors.InvalidMessage):
        mime.prepare(msg, default_from="alice@example.com")


def test_no_recipients_is_refused() -> None:
    with pytest.raises(errors.InvalidMessage):
        mime.prepare(OutgoingMessage(subject="x"), default_from="alice@example.com")


def test_reply_threading_headers() -> None:
    original = Message(id="1", folder_id="INBOX", raw=(
        b"From: Bob <bob@example.net>\r\nTo: alice@example.com, dan@example.org\r\n"
        b"Subject: Plan\r\nMessage-ID: <m2@example.net>\r\nReferences: <m1@example.net>\r\n\r\nhi\r\n"
    ))
    reply = original.reply(text="ok", reply_all=True, from_="alice@example.com")
    prepared = mime.prepare(reply, default_from="alice@example.com")
    parsed = mime.parse(prepared.raw)
    assert parsed["Subject"] == "Re: Plan"
    assert parsed["In-Reply-To"] == "<m2@example.net>"
    assert mime.split_msgids(str(parsed["References"])) == ("<m1@example.net>", "<m2@example.net>")
    assert [a.email for a in reply.to] == ["bob@example.net"]
    assert [a.email for a in reply.cc] == ["dan@example.org"]
    assert original.reply(text="again").subject == "Re: Plan"


def test_html_alternative_and_attachments_round_trip() -> None:
    prepared = _prepared(
        html="<p>x</p>",
        attachments=[Attachment("report.pdf", "application/pdf", b"%PDF-1.4 data"),
                     Attachment("logo.png", "image/png", b"\x89PNG", content_id="logo", inline=True)],
    )
    message = Message(id="1", folder_id="Sent", raw=prepared.raw)
    assert message.text is not None
    assert message.text.strip() == "x"
    assert message.html is not None
    assert "<p>x</p>" in message.html
    by_name = {a.filename: a for a in message.attachments}
    assert by_name["report.pdf"].data == b"%PDF-1.4 data"
    assert by_name["report.pdf"].content_type == "application/pdf"
    assert by_name["logo.png"].inline
    assert by_name["logo.png"].content_id == "logo"


def test_non_ascii_subject_and_names_are_encoded() -> None:
    prepared = _prepared(subject="Zażółć gęślą jaźń – 送信", to=["Łukasz Żółw <lz@example.pl>"])
    assert prepared.raw.isascii()
    message = Message(id="1", folder_id="x", raw=prepared.raw)
    assert message.subject == "Zażółć gęślą jaźń – 送信"
    assert message.to[0].name == "Łukasz Żółw"


BROKEN = [
    b"Subject: =?x-unknown-charset?q?abc?=\r\nFrom: a@b\r\n"
    b"Content-Type: text/plain; charset=x-nope\r\n\r\n\xff\xfe body",
    b"Content-Type: multipart/mixed; boundary=\"zz\"\r\nSubject: no end\r\n\r\n"
    b"--zz\r\nContent-Type: text/plain\r\n\r\npart one",
    b"\x00\x01 not a message at all \xff",
    b"",
    b"Date: not a date\r\nFrom: <<<>>>\r\nReferences: garbage\r\n\r\nx",
]


@pytest.mark.parametrize("raw", BROKEN)
def test_broken_messages_never_crash(raw: bytes) -> None:
    message = Message(id="1", folder_id="INBOX", raw=raw)
    for attribute in ("subject", "from_", "to", "date", "message_id", "references",
                      "text", "html", "attachments"):
        getattr(message, attribute)
    assert message.raw == raw


def test_bad_charset_body_is_replaced_not_lost() -> None:
    message = Message(id="1", folder_id="INBOX", raw=BROKEN[0])
    assert message.text is not None
    assert "body" in message.text


def test_parse_date_defaults_to_utc() -> None:
    parsed = mime.parse_date("Mon, 02 Mar 2026 10:00:00")
    assert parsed is not None
    assert parsed.tzinfo is not None
    assert mime.parse_date("garbage") is None


@pytest.mark.parametrize("sizes", [(), (0,), (1,), (2, 3), (57, 58, 59), (4000, 76 * 57 + 1)])
def test_size_floor_is_a_lower_bound_of_the_prepared_size(sizes: tuple[int, ...]) -> None:
    message = OutgoingMessage(to=["bob@example.com"], subject="s", text="t", attachments=[
        Attachment(filename=f"{n}.bin", data=bytes(range(256)) * (n // 256) + b"x" * (n % 256))
        for n in sizes])
    prepared = mime.prepare(message, default_from="alice@example.com")
    floor = mime.size_floor(message)
    assert mime.size_floor(message, encoded=False) == sum(sizes)
    assert sum(sizes) <= floor < prepared.size
    # nothing but the files' base64 (line breaks, headers and body come on top)
    assert floor == sum(4 * ((n + 2) // 3) for n in sizes)
