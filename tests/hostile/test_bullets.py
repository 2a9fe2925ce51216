"""Issue 11, "hostile mail" and "lost or invented content": one test per reported fault.

Each test reproduces what was seen (raw exception, lost header, invented address …) and
fails on the code before the fix.
"""

from __future__ import annotations

import base64
import io

import pytest

from inboxlink import errors, headers, mime
from inboxlink.models import Address, Message, OutgoingMessage
from inboxlink.testing import FakeMailbox

CRLF = b"\r\n"


def _msg(*lines: bytes, body: bytes = b"body") -> Message:
    return Message(id="1", folder_id="INBOX", raw=CRLF.join(lines) + CRLF + CRLF + body)


# --------------------------------------------------------------------------- encoded words
@pytest.mark.parametrize("value", ["=?utf-8?b?a?=", "Re: =?utf-8?b?a?= x", "=?utf-8?b?YWJj?=x=?utf-8?b?a?=",
                                   "=?bogus-charset?q?abc?=", "=?utf-8?q?=FF=FE?=", "=?utf-8?b?????=",
                                   "=?utf-8?b?=?=", "=?utf-8*en?q?abc?="])
def test_a_broken_encoded_word_never_raises(value: str) -> None:
    decoded = headers.decode_words(value)
    assert isinstance(decoded, str)


def test_a_malformed_encoded_word_does_not_fail_a_listing() -> None:
    mailbox = FakeMailbox(address="me@example.com")
    for subject, sender in ((b"=?utf-8?b?a?=", b"a@example.com"),
                            (b"fine", b"=?utf-8?b?a?= <b@example.com>")):
        mailbox.deliver(b"From: " + sender + CRLF + b"To: me@example.com" + CRLF
                        + b"Subject: " + subject + CRLF + CRLF + b"x")
    page = mailbox.list_messages(limit=10)
    assert sorted(s.subject or "" for s in page) == ["a", "fine"]
    assert {s.from_.email for s in page if s.from_} == {"a@example.com", "b@example.com"}


def test_adjacent_encoded_words_are_joined_even_across_a_split_character() -> None:
    # "é" is two UTF-8 bytes, split across the two words as long-subject encoders do.
    value = "=?utf-8?b?" + base64.b64encode(b"caf\xc3").decode() + "?= =?utf-8?b?" \
        + base64.b64encode(b"\xa9 ok").decode() + "?="
    assert headers.decode_words(value) == "café ok"
    assert _msg(b"Subject: " + value.encode()).subject == "café ok"
    assert headers.decode_words("=?utf-8?q?a?=  \t =?utf-8?q?b?=") == "ab"
    assert headers.decode_words("=?utf-8?q?a?= x =?utf-8?q?b?=") == "a x b"
    assert _msg(b"Subject: =?utf-8?q?Hello_?=\r\n =?utf-8?q?World?=").subject == "Hello World"
    # in display names too (the parsed view read "Jo hn" and "Jü rgen")
    named = _msg(b"From: =?utf-8?q?Jo?= =?utf-8?q?hn?= <j@example.com>",
                 b"To: =?utf-8?b?SsO8?=\r\n =?utf-8?b?cmdlbg==?= <j@example.org>")
    assert named.from_ == Address("j@example.com", "John")
    assert named.to == (Address("j@example.org", "Jürgen"),)


# --------------------------------------------------------------------------- headers
def test_one_malformed_header_line_does_not_hide_the_others() -> None:
    message = _msg(b"From: Alice <alice@example.com>", b"this line is not a header",
                   b"To: bob@example.org", b"Subject: still here",
                   b"Date: Mon, 2 Mar 2026 10:00:00 +0100", b"Message-ID: <1@example.com>")
    assert message.subject == "still here"
    assert message.from_ == Address("alice@example.com", "Alice")
    assert message.to == (Address("bob@example.org"),)
    assert message.date is not None
    assert message.date.day == 2
    assert message.message_id == "<1@example.com>"
    assert message.email["Subject"] == "still here", "the parsed view keeps them too"
    assert message.text == "body"


def test_the_obsolete_space_before_colon_form_is_read() -> None:
    message = _msg(b"From  : alice@example.com", b"Subject : obsolete", b"To: bob@example.org",
                   b"Message-ID: <2@example.com>")
    assert message.from_ == Address("alice@example.com")
    assert message.subject == "obsolete"
    assert message.message_id == "<2@example.com>"
    assert message.email["From"] == "alice@example.com"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bob@evil.example <alice@example.com>", [("alice@example.com", "bob@evil.example")]),
        ('"bob@evil.example" <alice@example.com>', [("alice@example.com", "bob@evil.example")]),
        ("Support @ ACME <help@acme.example>", [("help@acme.example", "Support @ ACME")]),
        ("a@x.example <b@y.example>, c@z.example", [("b@y.example", "a@x.example"),
                                                    ("c@z.example", None)]),
    ],
)
def test_a_display_name_with_at_never_invents_an_address(
        value: str, expected: list[tuple[str, str | None]]) -> None:
    found = headers.parse_addresses(value)
    assert [(a.email, a.name) for a in found] == expected
    message = _msg(b"From: " + value.encode(), b"To: " + value.encode())
    assert [(a.email, a.name) for a in message.to] == expected


def test_a_message_id_with_two_at_signs_is_kept_whole_and_replies_thread_on_it() -> None:
    message = _msg(b"From: alice@example.com", b"Message-ID: <abc@def@mail.example>")
    assert message.message_id == "<abc@def@mail.example>"
    reply = message.reply(text="ok")
    assert reply.in_reply_to == "<abc@def@mail.example>"
    assert reply.references == ("<abc@def@mail.example>",)


# --------------------------------------------------------------------------- sending
@pytest.mark.parametrize("brk", ["\x85", "\u2028", "\u2029", "\x0c", "\x0b", "\x1c", "\x1d", "\x1e"])
def test_a_subject_with_a_unicode_line_break_is_refused_as_invalid_message(brk: str) -> None:
    mailbox = FakeMailbox(address="me@example.com")
    with pytest.raises(errors.InvalidMessage) as caught:
        mailbox.send(OutgoingMessage(to=["bob@example.org"], subject=f"Hello{brk}Bcc: x@y.z",
                                     text="x"))
    assert caught.value.code == "header-injection"


@pytest.mark.parametrize("brk", [b"\xc2\x85", b"\xe2\x80\xa8", b"\x0c", b"\x0b"])
def test_replying_to_a_subject_with_a_unicode_line_break_normalizes_it(brk: bytes) -> None:
    original = _msg(b"From: Al" + brk + b"ice <alice@example.com>", b"Subject: Hello" + brk + b"World",
                    b"Message-ID: <3@example.com>")
    reply = original.reply(text="thanks")
    assert reply.subject == "Re: Hello World"
    assert reply.to == (Address("alice@example.com", "Al ice"),)
    prepared = mime.prepare(reply, default_from="me@example.com")
    assert b"Subject: Re: Hello World\r\n" in prepared.raw
    sent = FakeMailbox(address="me@example.com").send(reply)
    assert sent.message_id.endswith("@example.com>")


@pytest.mark.parametrize("subject", ["Grüße =?utf-8?q?=E2=", "Re: =?utf-8?b?a?=", "=?x?q?", "a =? b ?= c"])
def test_a_subject_that_looks_like_a_broken_encoded_word_is_sent_not_unicode_error(
        subject: str) -> None:
    # The stdlib parses "=?…" text in a str value as an encoded word and then failed to
    # write it back (UnicodeEncodeError from send()).
    prepared = mime.prepare(OutgoingMessage(to=["bob@example.org"], subject=subject, text="x"),
                            default_from="me@example.com")
    assert headers.decode_words(headers.fields(prepared.raw)["subject"]).startswith(
        subject.split("=?")[0].rstrip())


def test_an_address_the_stdlib_cannot_write_is_invalid_message() -> None:
    with pytest.raises(errors.InvalidMessage):
        mime.prepare(OutgoingMessage(to=["a@b@c.example"], text="x"), default_from="me@example.com")


def test_from_empty_angle_brackets_without_message_id_is_a_typed_error_not_index_error() -> None:
    email = mime.parse(b"From: <>\r\nTo: bob@example.org\r\nSubject: x\r\n\r\nbody")
    with pytest.raises(errors.InvalidMessage, match="From header has no address"):
        mime.prepare(email, default_from="me@example.com")


def test_reply_with_nobody_to_answer_is_invalid_message() -> None:
    with pytest.raises(errors.InvalidMessage):
        _msg(b"From: <>", b"Subject: x").reply(text="?")
    with pytest.raises(errors.InvalidMessage):
        _msg(b"Subject: no sender").reply(text="?")


# --------------------------------------------------------------------------- attachments
def test_truncated_base64_decodes_leniently() -> None:
    data = base64.b64encode(b"ABCDEFGHIJ").decode()  # 16 characters
    for cut in range(len(data) + 1):
        raw = (b"From: a@example.com\r\nContent-Type: application/pdf; name=x.pdf\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\n" + data[:cut].encode())
        (attachment,) = Message(id="1", folder_id="f", raw=raw).attachments
        assert b"ABCDEFGHIJ".startswith(attachment.data), cut
        # every whole byte the kept characters carry (a lone last character carries none)
        assert len(attachment.data) == len(data[:cut].rstrip("=")) * 3 // 4


def test_save_attachment_of_truncated_base64_writes_what_decodes() -> None:
    mailbox = FakeMailbox(address="me@example.com")
    mailbox.deliver(b"From: a@example.com\r\nTo: me@example.com\r\nSubject: s\r\n"
                    b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
                    b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\n"
                    b"Content-Type: application/octet-stream; name=t.bin\r\n"
                    b"Content-Transfer-Encoding: base64\r\n\r\nQUJDREVGR0hJSktMTU5PUFFSU")
    (summary,) = mailbox.list_messages()
    (info,) = mailbox.list_attachments(summary.id)
    out = io.BytesIO()
    # 25 characters: six whole quanta and a lone one carrying no whole byte (the stdlib
    # returned the undecoded text here, the IMAP decoder raised binascii.Error)
    assert mailbox.save_attachment(summary.id, info.part, out) == 18
    assert out.getvalue() == b"ABCDEFGHIJKLMNOPQR"


@pytest.mark.parametrize("part", ["²", "٣", "①", "-1", " 0", "0x0", ""])
def test_a_non_ascii_digit_part_id_is_not_found_not_value_error(part: str) -> None:
    mailbox = FakeMailbox(address="me@example.com")
    mailbox.deliver(b"From: a@example.com\r\nTo: me@example.com\r\nSubject: s\r\n"
                    b"Content-Type: application/pdf; name=a.pdf\r\n\r\n%PDF")
    (summary,) = mailbox.list_messages()
    with pytest.raises(errors.NotFound):
        mailbox.save_attachment(summary.id, part, io.BytesIO())


NESTED_SIGNED = (
    b"From: a@example.com\r\nTo: b@example.org\r\nSubject: signed\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; boundary=s\r\n\r\n'
    b"--s\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n"
    b"--m\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n"
    b"--a\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
    b"--a\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--a--\r\n"
    b"--m\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=deep.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n"
    b"--m\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@example.net\r\nSubject: fwd\r\n\r\ninner\r\n"
    b"--m--\r\n"
    b"--s\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--s--\r\n"
)


def test_attachments_inside_nested_and_signed_multiparts_are_found_and_containers_are_not() -> None:
    found = Message(id="1", folder_id="f", raw=NESTED_SIGNED).attachments
    assert [(a.filename, a.content_type) for a in found] == [
        ("deep.pdf", "application/pdf"), (None, "message/rfc822"),
        ("smime.p7s", "application/pkcs7-signature"),
    ]
    assert found[0].data == b"%PDF"
    assert found[2].data == b"\x00\x01\x02"
    assert b"inner" in found[1].data
    assert not any(a.content_type.startswith("multipart/") for a in found)


def test_a_message_whose_whole_body_is_an_attachment() -> None:
    raw = (b"From: a@example.com\r\nTo: b@example.org\r\nSubject: scan\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: application/pdf; name=scan.pdf\r\nContent-Transfer-Encoding: base64\r\n"
           b"\r\nJVBERi0xLjQ=\r\n")
    (only,) = Message(id="1", folder_id="f", raw=raw).attachments
    assert (only.filename, only.content_type, only.data) == ("scan.pdf", "application/pdf", b"%PDF-1.4")


def test_a_multipart_missing_its_boundary_is_never_an_attachment() -> None:
    raw = b"From: a@example.com\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\nhello\r\n"
    assert Message(id="1", folder_id="f", raw=raw).attachments == ()


def test_list_attachments_part_ids_round_trip_on_the_fake() -> None:
    mailbox = FakeMailbox(address="me@example.com")
    mailbox.deliver(NESTED_SIGNED.replace(b"To: b@example.org", b"To: me@example.com"))
    (summary,) = mailbox.list_messages()
    infos = mailbox.list_attachments(summary.id)
    assert [i.filename for i in infos] == ["deep.pdf", None, "smime.p7s"]
    out = io.BytesIO()
    mailbox.save_attachment(summary.id, infos[0].part, out)
    assert out.getvalue() == b"%PDF"


@pytest.mark.parametrize("block", [
    b"Subject: a\r\n\tb\r\nFrom: x <x@example.com>\r\n",
    b"Subject: =?utf-8?q?a?=\r\n =?utf-8?q?b?=\r\nFrom: x\r\n <x@example.com>\r\n",
    b"From  : a@example.com\r\nbroken\r\nSubject:  spaced \x0c\r\nTo: b@example.org\r\n",
    b"Subject: one\nSubject: two\nFrom: a@example.com\n",
])
def test_the_imap_listing_and_message_read_the_same_header_bytes_alike(block: bytes) -> None:
    from inboxlink.adapters.imap.convert import HEADER_FIELDS, summary

    key = ("BODY[HEADER.FIELDS (" + " ".join(HEADER_FIELDS) + ")]").encode()
    listed = summary("1", "INBOX", {key: block})
    message = Message(id="1", folder_id="INBOX", raw=block + b"\r\nbody")
    for name in ("subject", "from_", "to", "cc", "date", "message_id", "in_reply_to",
                 "references"):
        assert getattr(listed, name) == getattr(message, name), name


def test_parentheses_inside_a_quoted_display_name_are_the_name_not_a_comment() -> None:
    assert headers.parse_addresses('a@example.com, "()" <b@example.com>') == (
        Address("a@example.com"), Address("b@example.com", "()"))
