"""Folder roles come only from the user's own namespace, and from SPECIAL-USE when asked for.

Issue 11: on a server with shared folders, a colleague's ``Sent`` (``Other Users/bob/Sent``,
``user.bob.Sent``) or a public ``Sent`` must never become the user's Sent folder — sent
copies would be written into someone else's mailbox. And RFC 6154 lets a server leave
``\\Sent`` off a plain LIST: it must be asked for with ``LIST "" "*" RETURN (SPECIAL-USE)``.
"""

from __future__ import annotations

import imaplib

import pytest

from inboxlink import errors
from inboxlink.adapters.imap import ImapMailbox, ImapSettings
from inboxlink.models import FolderRole, OutgoingMessage, RoleSource, SentCopy

from .dovecot import Dovecot
from .helpers import Certs, settings_for
from .scripted import ScriptedImap
from .smtp_peer import SmtpServer


def _count(server: Dovecot, user: str, folder: str) -> int:
    conn: imaplib.IMAP4 = server.admin(user)
    try:
        typ, data = conn.select(f'"{folder}"', readonly=True)
        assert typ == "OK", data
        return int(data[0] or 0)
    finally:
        conn.logout()


def _colleague_with_shared_sent(server: Dovecot, alice: str) -> str:
    bob = server.new_user()
    server.create_folders(bob, ["Sent"])
    server.share(bob, "Sent", alice)
    return bob


# ---------------------------------------------------------------------- Dovecot, shared folders
def test_a_colleagues_shared_sent_is_never_ours(dovecot_shared: Dovecot, certs: Certs,
                                                smtp_server: SmtpServer) -> None:
    alice = dovecot_shared.new_user()
    # Alice's own Sent has a localized name inboxlink does not know and no special-use.
    dovecot_shared.create_folders(alice, ["Anfonwyd"])
    bob = _colleague_with_shared_sent(dovecot_shared, alice)
    dovecot_shared.public_folder("Sent")
    shared_sent = f"Other Users/{bob}/Sent"
    with ImapMailbox(settings_for(dovecot_shared, alice, certs, smtp_server)) as mailbox:
        by_id = {f.id: f for f in mailbox.folders()}
        # the other users' and the public folders are listed (they can be read) …
        assert {shared_sent, "Public/Sent"} <= set(by_id)
        assert not by_id[shared_sent].personal
        assert not by_id["Public/Sent"].personal
        assert by_id["Anfonwyd"].personal
        assert by_id["INBOX"].personal
        # … but never take a role
        assert [f.id for f in by_id.values() if f.role is not None] == ["INBOX"]
        with pytest.raises(errors.FolderNotFound):
            mailbox.folder(FolderRole.SENT)
        result = mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="private",
                                              text="x"))
        assert result.sent_copy is SentCopy.FAILED  # no Sent folder of her own: said so
    assert _count(dovecot_shared, bob, "Sent") == 0  # nothing written into bob's mailbox
    assert _count(dovecot_shared, alice, "Public/Sent") == 0


def test_the_users_localized_sent_beats_shared_ones(dovecot_shared: Dovecot, certs: Certs,
                                                    smtp_server: SmtpServer) -> None:
    alice = dovecot_shared.new_user()
    dovecot_shared.create_folders(alice, ["Gesendet"])
    _colleague_with_shared_sent(dovecot_shared, alice)
    dovecot_shared.public_folder("Sent")
    with ImapMailbox(settings_for(dovecot_shared, alice, certs, smtp_server)) as mailbox:
        sent = mailbox.folder(FolderRole.SENT)
        assert (sent.id, sent.role_source) == ("Gesendet", RoleSource.NAME)
        result = mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="mine",
                                              text="x"))
        assert result.sent_folder_id == "Gesendet"
    assert _count(dovecot_shared, alice, "Gesendet") == 1


def test_an_explicit_override_may_name_a_shared_folder(dovecot_shared: Dovecot,
                                                       certs: Certs) -> None:
    alice = dovecot_shared.new_user()
    dovecot_shared.public_folder("Team")
    settings = settings_for(dovecot_shared, alice, certs,
                            role_overrides={FolderRole.ARCHIVE: "Public/Team"})
    with ImapMailbox(settings) as mailbox:
        archive = mailbox.folder(FolderRole.ARCHIVE)
        assert (archive.id, archive.role_source) == ("Public/Team", RoleSource.OVERRIDE)


# ---------------------------------------------------------------------- scripted servers
def _scripted(certs: Certs, **kwargs: object) -> ScriptedImap:
    return ScriptedImap(context=certs.server_context(), **kwargs)  # type: ignore[arg-type]


def _settings(server: ScriptedImap, certs: Certs) -> ImapSettings:
    return ImapSettings(address="alice@example.com", imap_host="127.0.0.1",
                        imap_port=server.port, password="pw",
                        ssl_context=certs.client_context(), timeout=5)


def test_special_use_is_asked_for_when_a_plain_list_leaves_it_off(certs: Certs) -> None:
    server = _scripted(
        certs, capabilities="IMAP4rev1 AUTH=PLAIN SPECIAL-USE LIST-EXTENDED",
        folders={
            "LIST": ['() "/" "INBOX"', '() "/" "Copies"', '() "/" "Bin"'],
            "LIST RETURN": ['() "/" "INBOX"', '(\\Sent) "/" "Copies"', '(\\Trash) "/" "Bin"'],
        })
    try:
        with ImapMailbox(_settings(server, certs)) as mailbox:
            roles = {f.role: f for f in mailbox.folders() if f.role}
        assert (roles[FolderRole.SENT].id, roles[FolderRole.SENT].role_source) == \
            ("Copies", RoleSource.SPECIAL_USE)
        assert roles[FolderRole.TRASH].id == "Bin"
        lists = [c for c in server.commands if c.split()[1] == "LIST"]
        assert lists == [lists[0]]
        assert lists[0].endswith('LIST "" "*" RETURN (SPECIAL-USE)')
    finally:
        server.stop()


def test_a_refused_return_option_falls_back_to_a_plain_list(certs: Certs) -> None:
    server = _scripted(
        certs, capabilities="IMAP4rev1 AUTH=PLAIN SPECIAL-USE",
        replies={"LIST RETURN": "BAD Unknown LIST option"},
        folders={"LIST": ['() "/" "INBOX"', '(\\Sent) "/" "Copies"']})
    try:
        with ImapMailbox(_settings(server, certs)) as mailbox:
            assert mailbox.folder(FolderRole.SENT).id == "Copies"
            assert mailbox.open_connections == 1  # a clean refusal keeps the session
        assert [c.split(" ", 1)[1] for c in server.commands if " LIST " in c] == \
            ['LIST "" "*" RETURN (SPECIAL-USE)', 'LIST "" "*"']
    finally:
        server.stop()


def test_cyrus_other_users_folders_are_not_ours_even_with_special_use(certs: Certs) -> None:
    # Cyrus: personal "INBOX.", other users "user.", shared folders at the root ("").
    server = _scripted(
        certs, capabilities="IMAP4rev1 AUTH=PLAIN NAMESPACE SPECIAL-USE",
        namespace='(("INBOX." ".")) (("user." ".")) (("" "."))',
        folders={"LIST RETURN": [
            '() "." "INBOX"', '() "." "INBOX.Verschickt"', '() "." "INBOX.Trash"',
            '(\\Sent) "." "user.bob.Sent"', '() "." "user.bob.Drafts"',
            '() "." "Sent"', '(\\Junk) "." "Team.Junk"',
        ]})
    try:
        with ImapMailbox(_settings(server, certs)) as mailbox:
            folders = {f.id: f for f in mailbox.folders()}
            mailbox.folders(refresh=True)
        # one NAMESPACE per connection (it cannot change), one LIST per refresh
        assert [c.split()[1] for c in server.commands].count("NAMESPACE") == 1
        assert [c.split()[1] for c in server.commands].count("LIST") == 2
        assert [i for i, f in folders.items() if not f.personal] == \
            ["user.bob.Sent", "user.bob.Drafts", "Sent", "Team.Junk"]
        roles = {f.role: f.id for f in folders.values() if f.role}
        assert roles == {FolderRole.INBOX: "INBOX", FolderRole.TRASH: "INBOX.Trash"}
    finally:
        server.stop()
