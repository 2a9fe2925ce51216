"""Pure pieces of the adapter: URL parsing, TLS context, ids and cursors, header parsing."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys

import pytest

import inboxlink
from inboxlink import errors, headers
from inboxlink.adapters.imap import ImapSettings, Security, convert
from inboxlink.adapters.imap import _ids as ids
from inboxlink.adapters.imap._tls import client_context
from inboxlink.adapters.imap.settings import settings_from_url


def test_url_spellings_and_defaults() -> None:
    s = settings_from_url("imaps://alice@mail.example.com", password="pw",
                          smtp="smtp://smtp.example.com:587")
    assert s.imap_endpoint == ("mail.example.com", 993)
    assert s.imap_security is Security.TLS
    assert s.smtp_endpoint == ("smtp.example.com", 587)
    assert s.smtp_security is Security.STARTTLS
    assert s.address == "alice@example.com"
    assert s.login == "alice"
    s = settings_from_url("imap://bob%40example.org@imap.example.org", access_token="t",
                          smtp="smtps://smtp.example.org:465")
    assert s.imap_endpoint == ("imap.example.org", 143)
    assert s.imap_security is Security.STARTTLS
    assert s.smtp_endpoint == ("smtp.example.org", 465)
    assert s.smtp_security is Security.TLS
    assert s.address == "bob@example.org"
    default_smtp = settings_from_url("imaps://carol@mx.example.net", password="p")
    assert default_smtp.smtp_endpoint == ("mx.example.net", 587)


def test_every_endpoint_can_be_overridden() -> None:
    s = settings_from_url("imaps://a@h.example.com", password="p", imap_host="10.0.0.1",
                          imap_port=1993, smtp_host="10.0.0.2", smtp_port=2525,
                          address="a@example.com")
    assert s.imap_endpoint == ("10.0.0.1", 1993)
    assert s.smtp_endpoint == ("10.0.0.2", 2525)


@pytest.mark.parametrize("url", ["pop3://a@h", "pop3s://a@h"])
def test_pop3_is_refused(url: str) -> None:
    with pytest.raises(errors.UnsupportedProtocol) as info:
        inboxlink.connect(url, password="p")
    assert "POP3" in info.value.remedy


@pytest.mark.parametrize(("url", "options", "error"), [
    ("imaps://a@h", {"smtp": "http://h"}, errors.UnsupportedProtocol),
    ("imaps://a@h", {"password": "p", "access_token": "t"}, errors.ConfigurationError),
    ("imaps://a@h", {"colour": "blue"}, errors.ConfigurationError),
    ("imaps://a@h", {"tls_minimum": "SSLv3"}, errors.ConfigurationError),
    ("imaps://a@h", {"max_connections": 0}, errors.ConfigurationError),
    ("imaps://a@h:99999", {}, errors.ConfigurationError),
])
def test_bad_settings_are_typed(url: str, options: dict[str, object],
                                error: type[errors.InboxLinkError]) -> None:
    with pytest.raises(error):
        settings_from_url(url, **options)


def test_secrets_are_not_in_repr() -> None:
    s = ImapSettings(address="a@b.c", imap_host="h", password="hunter2-x",
                     access_token=None)
    assert "hunter2-x" not in repr(s)


def test_tls_context_defaults_and_explicit_lowering() -> None:
    base = ImapSettings(address="a@b.c", imap_host="h", password="p")
    ctx = client_context(base)
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname
    legacy = client_context(ImapSettings(address="a@b.c", imap_host="h", password="p",
                                         tls_minimum="TLSv1"))
    assert legacy.minimum_version == ssl.TLSVersion.TLSv1
    mine = ssl.create_default_context()
    assert client_context(ImapSettings(address="a@b.c", imap_host="h", ssl_context=mine)) is mine


@pytest.mark.parametrize(("host", "saves"), [
    ("imap.gmail.com", True), ("outlook.office365.com", True), ("imap-mail.outlook.com", True),
    ("mail.example.com", False), ("notgmail.com.example.org", False),
])
def test_provider_saves_sent_by_host(host: str, saves: bool) -> None:
    assert ImapSettings(address="a@b.c", imap_host=host).host_saves_sent() is saves


def test_message_ids_and_cursors_round_trip() -> None:
    mid = ids.message_id("Work:2024", 17, 42)
    assert ids.parse_message_id(mid) == ids.MessageRef("Work:2024", 17, 42)
    cursor = ids.encode_cursor(ids.Cursor("Entwürfe", 17, 42))
    assert json.loads(json.dumps(cursor)) == cursor
    assert cursor.isascii()
    assert ids.decode_cursor(cursor) == ids.Cursor("Entwürfe", 17, 42)


@pytest.mark.parametrize("bad", ["", "not a cursor", "e30", "!!!"])
def test_garbage_cursor(bad: str) -> None:
    with pytest.raises(errors.CursorExpired):
        ids.decode_cursor(bad)


@pytest.mark.parametrize("bad", ["", "INBOX", "INBOX:x:1", ":1:2", "INBOX:1:0"])
def test_garbage_message_id(bad: str) -> None:
    with pytest.raises(errors.MessageNotFound):
        ids.parse_message_id(bad)


@pytest.mark.parametrize(("value", "expected"), [
    ("Bob <bob@example.net>", [("Bob", "bob@example.net")]),
    ('"Bob Example" <bob@example.net>', [("Bob Example", "bob@example.net")]),
    ("bob@example.net", [(None, "bob@example.net")]),
    ("<bob@example.net>", [(None, "bob@example.net")]),
    ('"Doe, Jane" <j@x.org>, k@y.org', [("Doe, Jane", "j@x.org"), (None, "k@y.org")]),
    ("=?iso-8859-1?q?J=F6rg?= <j@x.org>", [("Jörg", "j@x.org")]),
    ("", []),
])
def test_address_fast_path_agrees_with_the_stdlib(value: str,
                                                  expected: list[tuple[str | None, str]]) -> None:
    assert [(a.name, a.email) for a in headers.parse_addresses(value)] == expected


@pytest.mark.parametrize("value", [
    "Tue, 3 Feb 2026 10:11:12 -0500", "3 Feb 2026 10:11 +0130", "Mon, 01 Jan 2024 00:00:00 +0000",
    "Wed, 31 Dec 2025 23:59:59 GMT", "Sat, 32 Jan 2026 10:00:00 +0000", "garbage",
])
def test_date_fast_path_agrees_with_the_stdlib(value: str) -> None:
    from inboxlink import mime

    assert headers.parse_date(value) == mime.parse_date(value)


@pytest.mark.parametrize("value", [
    "=?utf-8?q?Zam=C3=B3wienie_nr_5?=", "=?UTF-8?B?WmFtw7N3aWVuaWU=?=", "=?iso-8859-2?q?=B1?=",
    "=?utf-8?q?a?= =?utf-8?q?b?=", "Re: =?utf-8?q?J=C3=B6rg?=", "=?bogus?q?x?=", "=?utf-8?b?***?=",
    "plain",
])
def test_encoded_word_fast_path_agrees_with_the_stdlib(value: str) -> None:
    from email.header import decode_header, make_header

    try:
        expected = str(make_header(decode_header(value)))
    except (LookupError, ValueError, UnicodeError):
        expected = value
    assert headers.decode_words(value) == expected


def test_summary_tolerates_missing_fields() -> None:
    s = convert.summary("INBOX:1:1", "INBOX", {b"FLAGS": (b"\\Seen",)})
    assert s.subject is None
    assert s.from_ is None
    assert s.date is None
    assert s.seen


def test_importing_the_adapter_package_does_not_import_imapclient() -> None:
    code = ("import sys, inboxlink.adapters.imap, inboxlink.adapters.imap.errors; "
            "assert 'imapclient' not in sys.modules, 'imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_settings_are_usable_directly() -> None:
    s = ImapSettings(address="a@b.c", imap_host="h", imap_security="starttls")
    assert s.imap_endpoint == ("h", 143)


def test_the_docs_list_every_rule() -> None:
    from pathlib import Path

    from inboxlink.adapters.imap.errors import TABLE
    from inboxlink.cli.reference import expand_error_tables

    source = (Path(__file__).resolve().parents[2] / "docs" / "imap.md").read_text()
    page = expand_error_tables(source).replace("<wbr>", "")  # the tables the site shows
    for rule in TABLE.rules:
        assert rule.error.__name__ in page, rule
        if rule.source:
            assert rule.source in page, rule


def test_list_rows_read_literal_names_and_skip_extended_data() -> None:
    data = [(b'(\\Sent) "/" {4}', b"Sent"), b"",
            b'() "/" INBOX ("CHILDINFO" ("SUBSCRIBED"))',
            b'(\\HasNoChildren) "/" "2024"', b'(\\Noselect) NIL "&AMQ-rger"']
    assert convert.list_rows(data) == [
        ((b"\\Sent",), b"/", "Sent"), ((), b"/", "INBOX"),
        ((b"\\HasNoChildren",), b"/", "2024"), ((b"\\Noselect",), None, "Ärger")]


@pytest.mark.parametrize(("name", "personal"), [
    ("INBOX", True), ("INBOX.Sent", True), ("user.bob.Sent", False), ("user", False),
    ("Team.Sent", False), ("Sent", False),
])
def test_cyrus_namespaces_longest_prefix_wins(name: str, personal: bool) -> None:
    namespaces = ([("INBOX.", ".")], [("user.", "."), ("", ".")])
    assert convert.is_personal(name, *namespaces) is personal


@pytest.mark.parametrize(("name", "personal"), [
    ("INBOX", True), ("Gesendet", True), ("Other Users", False),
    ("Other Users/bob/Sent", False), ("Public/Sent", False), ("Publicity", True),
])
def test_dovecot_namespaces(name: str, personal: bool) -> None:
    namespaces = ([("", "/")], [("Other Users/", "/"), ("Public/", "/")])
    assert convert.is_personal(name, *namespaces) is personal
