"""Canaries for ``_imapclient_shim``: fail loudly if imaplib or imapclient change what it uses."""

from __future__ import annotations

import imaplib
import inspect

from imapclient import IMAPClient

from inboxlink.adapters.imap import _imapclient_shim as shim
from inboxlink.testing.conformance import make_message

from .dovecot import Dovecot
from .helpers import Certs, raw_client


def test_the_private_names_still_exist() -> None:
    for name in ("_checkok", "_normalise_folder"):
        assert callable(getattr(IMAPClient, name)), name
    for name in ("select", "_command", "_command_complete"):
        assert callable(getattr(imaplib.IMAP4, name)), name
    # (``client._imap`` and ``imap.untagged_responses`` are instance attributes: the live
    # tests below use them.)
    # imaplib.select sends its argument verbatim (no quoting of our parameters)
    assert "_simple_command(name, mailbox)" in inspect.getsource(imaplib.IMAP4.select)
    assert "self.untagged_responses = {}" in inspect.getsource(imaplib.IMAP4.select)


def test_examine_with_qresync_keeps_vanished_and_fetch(dovecot: Dovecot, certs: Certs) -> None:
    user = dovecot.new_user()
    for n in range(1, 4):
        dovecot.deliver(user, make_message(n))
    ours, theirs = raw_client(dovecot, user, certs), raw_client(dovecot, user, certs)
    try:
        ours.enable("QRESYNC")
        first = shim.examine(ours, "INBOX")
        validity = int(first["UIDVALIDITY"][0])
        modseq = int(first["HIGHESTMODSEQ"][0])
        assert shim.is_selected(ours)
        theirs.select_folder("INBOX")
        theirs.add_flags([1], [b"\\Deleted"])
        theirs.uid_expunge([1])
        theirs.add_flags([2], [b"\\Seen"])
        answer = shim.examine(ours, "INBOX", f"(QRESYNC ({validity} {modseq}))")
        assert answer["VANISHED"] == [b"(EARLIER) 1"]
        assert len(answer["FETCH"]) == 1
        assert b"UID 2" in answer["FETCH"][0]
        assert b"MODSEQ" in answer["FETCH"][0]
        assert ours._imap.untagged_responses == {}
        # UID FETCH … (CHANGEDSINCE m VANISHED) on the open folder: FETCH answers come back,
        # the VANISHED (EARLIER) line stays for pop_untagged
        theirs.add_flags([3], [b"\\Flagged"])
        ours.noop()
        shim.forget_expunges(ours)
        lines = shim.raw_command(ours, "UID", "FETCH", "1:*", "(UID FLAGS)",
                                 f"(CHANGEDSINCE {modseq} VANISHED)", untagged="FETCH")
        assert sorted(b"UID 2" in line or b"UID 3" in line for line in lines) == [True, True]
        assert shim.pop_untagged(ours, "VANISHED") == [b"(EARLIER) 1"]
    finally:
        ours.logout()
        theirs.logout()


def test_copyuid_is_filed_under_untagged_responses(dovecot: Dovecot, certs: Certs) -> None:
    user = dovecot.new_user()
    dovecot.deliver(user, make_message(1))
    dovecot.deliver(user, make_message(2))
    client = raw_client(dovecot, user, certs)
    try:
        client.select_folder("INBOX")
        client.copy([1], "Archive")  # COPYUID in the tagged OK
        copied = shim.pop_untagged(client, "COPYUID")
        client.move([2], "Archive")  # COPYUID in an untagged OK (RFC 6851)
        moved = shim.pop_untagged(client, "COPYUID")
        assert len(copied) == 1
        assert copied[0].split()[1:] == [b"1", b"1"]
        assert len(moved) == 1
        assert moved[0].split()[1:] == [b"2", b"2"]
        assert shim.pop_untagged(client, "COPYUID") == []
        assert shim.quote_folder(client, "Ärger") == b'"&AMQ-rger"'
        shim.forget_expunges(client)
        assert "EXPUNGE" not in client._imap.untagged_responses
    finally:
        client.logout()


def test_the_command_helpers_still_find_what_they_use() -> None:
    # uid_fetch_raw / esearch_all / raw_command go through these imaplib internals
    for name in ("_command", "_command_complete", "_simple_command", "_untagged_response"):
        assert callable(getattr(imaplib.IMAP4, name)), name
    assert "untagged_responses" in inspect.getsource(imaplib.IMAP4._untagged_response)
    # imapclient keeps the imaplib connection in ``_imap`` (set in __init__)
    assert "self._imap = " in inspect.getsource(IMAPClient.__init__)


def test_list_special_use_returns_the_attributes_and_the_names(dovecot: Dovecot,
                                                               certs: Certs) -> None:
    from inboxlink.adapters.imap import convert

    user = dovecot.new_user()
    dovecot.create_folders(user, ["&AMQ-rger"])  # "Ärger" in modified UTF-7
    client = raw_client(dovecot, user, certs)
    try:
        assert isinstance(shim.imaplib_of(client), imaplib.IMAP4)
        rows = convert.list_rows(shim.list_special_use(client), client.folder_encode)
        by_name = {name: flags for flags, _, name in rows}
        assert b"\\Sent" in by_name["Sent"]
        assert b"\\Trash" in by_name["Trash"]
        assert "Ärger" in by_name
        assert "INBOX" in by_name
        assert client._imap.untagged_responses.get("LIST") is None  # taken, not left behind
    finally:
        client.logout()
