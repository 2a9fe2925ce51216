"""The adapter against Dovecot variants: STARTTLS, folders without SPECIAL-USE, localized
names, modified UTF-7, refused accounts, XOAUTH2, cursors across UIDVALIDITY changes."""

from __future__ import annotations

import logging

import attrs
import pytest

import inboxlink
from inboxlink import errors
from inboxlink.adapters.imap import ImapMailbox
from inboxlink.models import FolderRole, OutgoingMessage, RoleSource, SentCopy
from inboxlink.testing.conformance import make_message

from .dovecot import PASSWORD, Dovecot
from .helpers import Certs, settings_for
from .smtp_peer import SmtpServer


def test_starttls_on_the_plain_port(dovecot: Dovecot, certs: Certs) -> None:
    user = dovecot.new_user()
    dovecot.deliver(user, make_message(1))
    settings = settings_for(dovecot, user, certs, imap_port=dovecot.imap_port,
                            imap_security="starttls")
    with ImapMailbox(settings) as mailbox:
        (summary,) = mailbox.list_messages("INBOX").items
        assert summary.message_id == "<conformance1@example.net>"


def test_connect_url_spellings(dovecot: Dovecot, smtp_server: SmtpServer, certs: Certs) -> None:
    user = dovecot.new_user()
    smtp_server.users[user] = PASSWORD
    for url in (f"imaps://{user.replace('@', '%40')}@127.0.0.1:{dovecot.imaps_port}",
                f"imap://{user.replace('@', '%40')}@127.0.0.1:{dovecot.imap_port}"):
        mailbox = inboxlink.connect(url, password=PASSWORD, ssl_context=certs.client_context(),
                                    smtp=f"smtp://127.0.0.1:{smtp_server.port}")
        with mailbox:
            assert isinstance(mailbox, ImapMailbox)
            assert mailbox.address == user
            result = mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="url",
                                                  text="x"))
            assert result.appended
    assert PASSWORD not in repr(mailbox)
    assert PASSWORD not in repr(mailbox.settings)


def test_implicit_tls_smtp(dovecot: Dovecot, smtps_server: SmtpServer, certs: Certs) -> None:
    user = dovecot.new_user()
    smtps_server.users[user] = PASSWORD
    settings = settings_for(dovecot, user, certs, smtp_host="127.0.0.1",
                            smtp_port=smtps_server.port, smtp_security="tls")
    with ImapMailbox(settings) as mailbox:
        mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="smtps", text="x"))
    assert smtps_server.messages_for(user)


def test_starttls_not_offered_never_sends_credentials(dovecot_nossl: Dovecot,
                                                      certs: Certs) -> None:
    user = dovecot_nossl.new_user()
    settings = settings_for(dovecot_nossl, user, certs, imap_port=dovecot_nossl.imap_port,
                            imap_security="starttls")
    with pytest.raises(errors.StartTlsUnavailable) as info:
        ImapMailbox(settings)
    assert "993" in info.value.remedy
    # Dovecot logs every authentication attempt with the user name: there was none.
    assert user not in dovecot_nossl.log()


def test_smtp_without_starttls_never_sends_credentials(dovecot: Dovecot, certs: Certs) -> None:
    plain = SmtpServer(None)
    try:
        user = dovecot.new_user()
        plain.users[user] = PASSWORD
        settings = settings_for(dovecot, user, certs, smtp_host="127.0.0.1",
                                smtp_port=plain.port)
        with ImapMailbox(settings) as mailbox, pytest.raises(errors.StartTlsUnavailable):
            mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="x", text="x"))
        assert plain.received == []
    finally:
        plain.stop()


def test_verify_tls_false_allows_an_untrusted_certificate_and_warns(
        dovecot: Dovecot, certs: Certs, caplog: pytest.LogCaptureFixture) -> None:
    user = dovecot.new_user()
    settings = settings_for(dovecot, user, certs, ssl_context=None, verify_tls=False,
                            imap_host="localhost")
    with caplog.at_level(logging.WARNING, logger="inboxlink"), ImapMailbox(settings) as mailbox:
        assert mailbox.folder(FolderRole.INBOX)
    assert any("verification is OFF" in r.getMessage() for r in caplog.records)


def test_unreachable_server_mentions_firewalls(certs: Certs) -> None:
    from .scripted import socket_pair_closed_port

    settings = inboxlink.adapters.imap.ImapSettings(
        address="a@example.com", imap_host="127.0.0.1", imap_port=socket_pair_closed_port(),
        password="x", timeout=2)
    with pytest.raises(errors.ServerUnreachable) as info:
        ImapMailbox(settings)
    assert "allow-list" in info.value.remedy
    assert "firewall" in info.value.remedy
    assert isinstance(info.value, ConnectionError)


@pytest.mark.parametrize(("user", "expected", "words"), [
    ("imap-off@example.com", errors.ProtocolDisabled, "IMAP"),
    ("needs-app-pw@example.com", errors.AppPasswordRequired, "app password"),
    ("locked@example.com", errors.AccountDisabled, "administrator"),
])
def test_refused_accounts_are_explained(dovecot: Dovecot, certs: Certs, user: str,
                                        expected: type[errors.InboxLinkError], words: str) -> None:
    with pytest.raises(expected) as info:
        ImapMailbox(settings_for(dovecot, user, certs))
    assert words in info.value.remedy


def test_wrong_password_is_invalid_credentials_without_the_secret(dovecot: Dovecot,
                                                                  certs: Certs) -> None:
    user = dovecot.new_user()
    wrong = "Wrong-Secret-998877"
    with pytest.raises(errors.InvalidCredentials) as info:
        ImapMailbox(settings_for(dovecot, user, certs, password=wrong))
    assert "app password" in info.value.remedy
    assert wrong not in str(info.value)
    assert wrong not in repr(info.value)


@pytest.mark.parametrize("mechanism", ["login", "plain", "xoauth2"])
def test_auth_mechanisms(dovecot: Dovecot, smtp_server: SmtpServer, certs: Certs,
                         mechanism: str) -> None:
    user = dovecot.new_user()
    if mechanism == "xoauth2":
        # Dovecot checks an XOAUTH2 token against the passdb like a password.
        smtp_server.tokens[user] = PASSWORD
        settings = settings_for(dovecot, user, certs, password=None, access_token=PASSWORD,
                                smtp_host="127.0.0.1", smtp_port=smtp_server.port)
    else:
        settings = settings_for(dovecot, user, certs, smtp_server, auth_mechanism=mechanism)
    with ImapMailbox(settings) as mailbox:
        mailbox.send(OutgoingMessage(to=["carol@example.org"], subject=mechanism, text="x"))
    assert len(smtp_server.messages_for(user)) == 1


def test_bad_token_over_xoauth2(dovecot: Dovecot, certs: Certs) -> None:
    user = dovecot.new_user()
    with pytest.raises(errors.InvalidCredentials):
        ImapMailbox(settings_for(dovecot, user, certs, password=None, access_token="nope"))


# ---------------------------------------------------------------------- folders
def test_special_use_roles(dovecot: Dovecot, certs: Certs) -> None:
    with ImapMailbox(settings_for(dovecot, dovecot.new_user(), certs)) as mailbox:
        roles = {f.role: f for f in mailbox.folders() if f.role}
    assert roles[FolderRole.SENT].role_source is RoleSource.SPECIAL_USE
    assert roles[FolderRole.TRASH].path == "Trash"
    assert roles[FolderRole.INBOX].role_source is RoleSource.PROVIDER


def test_localized_names_utf7_and_delimiter_without_special_use(
        dovecot_plain: Dovecot, smtp_server: SmtpServer, certs: Certs) -> None:
    user = dovecot_plain.new_user()
    # Modified UTF-7 on the wire: "Entwürfe", "Gesendete Elemente", "Archiv.2024" (child).
    dovecot_plain.create_folders(user, ["Entw&APw-rfe", "Gesendete Elemente", "Papierkorb",
                                        "Archiv", "Archiv.2024"])
    with ImapMailbox(settings_for(dovecot_plain, user, certs, smtp_server)) as mailbox:
        by_path = {f.path: f for f in mailbox.folders()}
        assert by_path["Entwürfe"].role is FolderRole.DRAFTS
        assert by_path["Gesendete Elemente"].role is FolderRole.SENT
        assert by_path["Gesendete Elemente"].role_source is RoleSource.NAME
        assert by_path["Papierkorb"].role is FolderRole.TRASH
        child = by_path["Archiv/2024"]
        assert child.name == "2024"
        assert child.id == "Archiv.2024"
        assert child.parent_id == "Archiv"
        result = mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="lokal",
                                              text="x"))
        assert result.sent_folder_id == "Gesendete Elemente"
        copies = list(mailbox.iter_messages("Gesendete Elemente"))
        assert [c.message_id for c in copies] == [result.message_id]
        assert copies[0].seen
        mailbox.append_to_sent(make_message(3))
        assert len(mailbox.list_messages(by_path["Entwürfe"]).items) == 0


def test_sent_folder_override_wins(dovecot: Dovecot, smtp_server: SmtpServer,
                                   certs: Certs) -> None:
    user = dovecot.new_user()
    dovecot.create_folders(user, ["Outbox copies"])
    settings = settings_for(dovecot, user, certs, smtp_server, sent_folder="Outbox copies")
    with ImapMailbox(settings) as mailbox:
        sent = mailbox.folder(FolderRole.SENT)
        assert sent.id == "Outbox copies"
        assert sent.role_source is RoleSource.OVERRIDE
        result = mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="o", text="x"))
        assert result.sent_folder_id == "Outbox copies"
        assert mailbox.list_messages("Sent").items == ()


def test_provider_that_saves_sent_gets_no_append(dovecot: Dovecot, smtp_server: SmtpServer,
                                                 certs: Certs) -> None:
    user = dovecot.new_user()
    settings = settings_for(dovecot, user, certs, smtp_server, provider_saves_sent=True)
    with ImapMailbox(settings) as mailbox:
        result = mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="p", text="x"))
        assert result.sent_copy is SentCopy.SAVED_BY_PROVIDER
        assert mailbox.list_messages(FolderRole.SENT).items == ()
        skipped = mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="q", text="x"),
                               save_copy=False)
        assert skipped.skipped


# ---------------------------------------------------------------------- listing / cursors
def test_cursor_survives_a_new_mailbox_object(dovecot: Dovecot, certs: Certs) -> None:
    user = dovecot.new_user()
    for n in range(1, 6):
        dovecot.deliver(user, make_message(n))
    settings = settings_for(dovecot, user, certs)
    with ImapMailbox(settings) as first:
        page = first.list_messages("INBOX", limit=2)
    assert page.next_cursor
    with ImapMailbox(settings) as second:
        rest = second.list_messages("INBOX", limit=10, cursor=page.next_cursor)
    assert [s.message_id for s in rest.items] == [f"<conformance{n}@example.net>"
                                                  for n in (3, 2, 1)]


def test_uidvalidity_change_expires_the_cursor(dovecot: Dovecot, certs: Certs) -> None:
    user = dovecot.new_user()
    dovecot.create_folders(user, ["Work"])
    for n in range(1, 5):
        dovecot.deliver(user, make_message(n), folder="Work")
    with ImapMailbox(settings_for(dovecot, user, certs)) as mailbox:
        page = mailbox.list_messages("Work", limit=2)
        old_id = page.items[0].id
        admin = dovecot.admin(user)
        admin.delete("Work")
        admin.create("Work")
        admin.logout()
        for n in range(1, 5):
            dovecot.deliver(user, make_message(n), folder="Work")
        mailbox.close()
    with ImapMailbox(settings_for(dovecot, user, certs)) as mailbox:
        with pytest.raises(errors.CursorExpired) as info:
            mailbox.list_messages("Work", limit=2, cursor=page.next_cursor)
        assert info.value.code == "UIDVALIDITY"
        with pytest.raises(errors.MessageNotFound):
            mailbox.fetch(old_id)


def test_cursor_of_another_folder_is_refused(dovecot: Dovecot, certs: Certs) -> None:
    user = dovecot.new_user()
    for n in range(1, 4):
        dovecot.deliver(user, make_message(n))
    with ImapMailbox(settings_for(dovecot, user, certs)) as mailbox:
        page = mailbox.list_messages("INBOX", limit=1)
        with pytest.raises(errors.CursorExpired):
            mailbox.list_messages("Sent", cursor=page.next_cursor)


def test_summary_fields_from_the_fast_path(dovecot: Dovecot, certs: Certs) -> None:
    user = dovecot.new_user()
    raw = (b"From: =?utf-8?q?J=C3=B6rg?= <jorg@example.net>\r\n"
           b"To: \"Doe, Jane\" <jane@example.com>, bob@example.com\r\n"
           b"Cc: carol@example.org\r\nSubject: plain subject\r\n"
           b"Date: Tue, 3 Feb 2026 10:11:12 -0500\r\nMessage-ID: <m1@example.net>\r\n"
           b"In-Reply-To: <m0@example.net>\r\nReferences: <a@x> \r\n <m0@example.net>\r\n"
           b"\r\nbody\r\n")
    dovecot.deliver(user, raw, flags=["\\Seen", "\\Flagged"])
    with ImapMailbox(settings_for(dovecot, user, certs)) as mailbox:
        (s,) = mailbox.list_messages("INBOX").items
    assert s.from_ is not None
    assert (s.from_.name, s.from_.email) == ("Jörg", "jorg@example.net")
    assert [(a.name, a.email) for a in s.to] == [("Doe, Jane", "jane@example.com"),
                                                  (None, "bob@example.com")]
    assert [a.email for a in s.cc] == ["carol@example.org"]
    assert s.subject == "plain subject"
    assert s.date is not None
    assert s.date.isoformat() == "2026-02-03T10:11:12-05:00"
    assert s.in_reply_to == "<m0@example.net>"
    assert s.references == ("<a@x>", "<m0@example.net>")
    assert s.seen
    assert "\\Flagged" in s.flags
    assert s.size == len(raw)
    assert s.received_at is not None
    assert s.received_at.tzinfo is not None


# ---------------------------------------------------------------------- fetching
def test_fetch_many_in_chunks_and_streaming(dovecot: Dovecot, certs: Certs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    user = dovecot.new_user()
    for n in range(1, 8):
        dovecot.deliver(user, make_message(n, body=f"{n}" * 5000))
    settings = settings_for(dovecot, user, certs, fetch_chunk=3, stream_chunk=1000)
    with ImapMailbox(settings) as mailbox:
        ids = [s.id for s in mailbox.list_messages("INBOX").items]
        wanted = [ids[5], ids[0], ids[3], ids[6], ids[1]]
        fetched = mailbox.fetch_many(wanted)
        assert [m.id for m in fetched] == wanted
        target = tmp_path / "m.eml"
        written = mailbox.fetch_to_file(ids[0], target)
        assert target.read_bytes() == fetched[1].raw
        assert written == len(fetched[1].raw)
        assert written > 5 * 1000  # really took several partial fetches


def test_fetch_many_of_many_ids_collapses_the_uid_set(dovecot: Dovecot, certs: Certs) -> None:
    user = dovecot.new_user()
    dovecot.deliver(user, make_message(1))
    with ImapMailbox(settings_for(dovecot, user, certs, fetch_chunk=30_000)) as mailbox:
        (summary,) = mailbox.list_messages("INBOX").items
        prefix = summary.id.rsplit(":", 1)[0]
        # 20,000 comma-separated UIDs would exceed Dovecot's 64 KB line limit (BAD).
        with pytest.raises(errors.MessageNotFound):
            mailbox.fetch_many([f"{prefix}:{uid}" for uid in range(1, 20_001)])


# ---------------------------------------------------------------------- sending
def test_partial_refusal_is_reported_not_raised(dovecot: Dovecot, smtp_server: SmtpServer,
                                                certs: Certs) -> None:
    user = dovecot.new_user()
    smtp_server.refuse["nobody@example.org"] = "550 5.1.1 <nobody@example.org>: user unknown"
    settings = settings_for(dovecot, user, certs, smtp_server)
    with ImapMailbox(settings) as mailbox:
        result = mailbox.send(OutgoingMessage(to=["carol@example.org", "nobody@example.org"],
                                              subject="partial", text="x"))
        assert list(result.refused) == ["nobody@example.org"]
        assert "5.1.1" in result.refused["nobody@example.org"]
        assert result.appended
        with pytest.raises(errors.RecipientsRefused) as info:
            mailbox.send(OutgoingMessage(to=["nobody@example.org"], subject="all", text="x"))
        assert list(info.value.recipients) == ["nobody@example.org"]
        assert "nobody@example.org" in info.value.message


def test_bcc_only_in_the_envelope(dovecot: Dovecot, smtp_server: SmtpServer,
                                  certs: Certs) -> None:
    user = dovecot.new_user()
    with ImapMailbox(settings_for(dovecot, user, certs, smtp_server)) as mailbox:
        mailbox.send(OutgoingMessage(to=["carol@example.org"], bcc=["hidden@example.org"],
                                     subject="b", text="x"))
    (received,) = [r for r in smtp_server.received if r.login == user]
    assert "hidden@example.org" in received.rcpt_tos
    assert b"hidden@example.org" not in received.raw


def test_failed_copy_does_not_fail_the_send(dovecot: Dovecot, smtp_server: SmtpServer,
                                            certs: Certs) -> None:
    user = dovecot.new_user()
    dovecot.create_folders(user, ["Copies"])
    settings = settings_for(dovecot, user, certs, smtp_server, sent_folder="Copies")
    with ImapMailbox(settings) as mailbox:
        assert mailbox.folder(FolderRole.SENT).id == "Copies"  # resolved and cached
        admin = dovecot.admin(user)
        admin.delete("Copies")
        admin.logout()
        result = mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="f", text="x"))
    assert result.failed
    assert isinstance(result.error, errors.SentCopyFailed)
    assert result.error.raw == result.raw
    assert len(smtp_server.messages_for(user)) == 1


def test_settings_evolve_keeps_secrets_out_of_repr(dovecot: Dovecot, certs: Certs) -> None:
    settings = settings_for(dovecot, "x@example.com", certs)
    assert PASSWORD not in repr(attrs.evolve(settings, access_token="tok-123456"))
    assert "tok-123456" not in repr(attrs.evolve(settings, access_token="tok-123456"))


def test_streaming_when_the_size_is_a_multiple_of_the_chunk(dovecot: Dovecot, certs: Certs,
                                                             tmp_path) -> None:  # type: ignore[no-untyped-def]
    user = dovecot.new_user()
    dovecot.deliver(user, make_message(1, body="y" * 3000))
    with ImapMailbox(settings_for(dovecot, user, certs)) as probe:
        (summary,) = probe.list_messages("INBOX").items
        raw = probe.fetch(summary.id).raw
    for chunk in (len(raw), len(raw) // 3 if len(raw) % 3 == 0 else len(raw) - 1, 7):
        with ImapMailbox(settings_for(dovecot, user, certs, stream_chunk=chunk)) as mailbox:
            target = tmp_path / f"{chunk}.eml"
            assert mailbox.fetch_to_file(summary.id, target) == len(raw)
            assert target.read_bytes() == raw
