"""Connection budget, thread safety, reconnecting after a drop, and the imapclient internals
the adapter relies on (so a change in imapclient is noticed here first)."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from imapclient import IMAPClient

from inboxlink import errors
from inboxlink.adapters.imap import ImapMailbox, _fetch
from inboxlink.adapters.imap import _imapclient_shim as shim
from inboxlink.models import OutgoingMessage
from inboxlink.testing.conformance import make_message

from .dovecot import PASSWORD, Dovecot
from .helpers import Certs, settings_for
from .smtp_peer import SmtpServer


def test_reads_reconnect_once_after_a_dropped_connection(dovecot: Dovecot, certs: Certs) -> None:
    user = dovecot.new_user()
    dovecot.deliver(user, make_message(1))
    with ImapMailbox(settings_for(dovecot, user, certs)) as mailbox:
        assert len(mailbox.list_messages("INBOX").items) == 1
        dovecot.kick(user)  # the pooled connection is closed by the server, for sure
        assert len(mailbox.list_messages("INBOX").items) == 1
        assert mailbox.open_connections == 1


def test_at_most_max_connections_under_many_threads(dovecot: Dovecot, smtp_server: SmtpServer,
                                                    certs: Certs) -> None:
    user = dovecot.new_user()
    for n in range(1, 11):
        dovecot.deliver(user, make_message(n))
    settings = settings_for(dovecot, user, certs, smtp_server, max_connections=2)
    peak = 0
    failures: list[BaseException] = []
    with ImapMailbox(settings) as mailbox:
        ids = [s.id for s in mailbox.list_messages("INBOX").items]
        stop = threading.Event()

        def watch() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, mailbox.open_connections)
                time.sleep(0.001)

        def work(n: int) -> None:
            try:
                for _ in range(5):
                    messages = mailbox.fetch_many(ids)
                    assert [m.id for m in messages] == ids
                    assert len(mailbox.list_messages("INBOX", limit=4).items) == 4
                if n % 3 == 0:
                    mailbox.send(OutgoingMessage(to=["carol@example.org"], subject=f"t{n}",
                                                 text="x"))
            except BaseException as exc:  # collected for the main thread
                failures.append(exc)

        watcher = threading.Thread(target=watch)
        watcher.start()
        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stop.set()
        watcher.join()
    assert failures == []
    assert 1 <= peak <= 2
    assert len(smtp_server.messages_for(user)) == 3


def test_default_budget_is_four(dovecot: Dovecot, certs: Certs) -> None:
    with ImapMailbox(settings_for(dovecot, dovecot.new_user(), certs)) as mailbox:
        assert mailbox.settings.max_connections == 4


def test_closed_mailbox_refuses_work(dovecot: Dovecot, certs: Certs) -> None:
    mailbox = ImapMailbox(settings_for(dovecot, dovecot.new_user(), certs))
    mailbox.close()
    mailbox.close()
    assert mailbox.open_connections == 0
    with pytest.raises(errors.InboxLinkError):
        mailbox.list_messages("INBOX", cursor=None)


# ---------------------------------------------------------------------- imapclient internals
def _raw_client(dovecot: Dovecot, certs: Certs, user: str) -> IMAPClient:
    client = IMAPClient("127.0.0.1", dovecot.imaps_port, ssl_context=certs.client_context())
    client.login(user, PASSWORD)
    return client


def test_imapclient_still_turns_imaplib_debug_on(dovecot: Dovecot, certs: Certs) -> None:
    """If this fails, imapclient changed how it logs: revisit shim.quiet_protocol_log."""
    client = _raw_client(dovecot, certs, dovecot.new_user())
    try:
        assert client._imap.debug == 5
        shim.quiet_protocol_log(client)
        assert client._imap.debug == 0
    finally:
        client.logout()


def test_protocol_log_is_kept_when_someone_listens(dovecot: Dovecot, certs: Certs) -> None:
    logger = logging.getLogger(shim.PROTOCOL_LOGGER)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    client = _raw_client(dovecot, certs, dovecot.new_user())
    try:
        shim.quiet_protocol_log(client)
        assert client._imap.debug == 5
    finally:
        logger.setLevel(old)
        client.logout()


def test_uid_fetch_matches_imapclient_fetch(dovecot: Dovecot, certs: Certs) -> None:
    user = dovecot.new_user()
    for n in range(1, 6):
        dovecot.deliver(user, make_message(n))
    client = _raw_client(dovecot, certs, user)
    try:
        client.select_folder("INBOX", readonly=True)
        items = ("UID", "FLAGS", "RFC822.SIZE", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
        ours = _fetch.uid_fetch(client, _fetch.uid_set([1, 2, 3, 5]), items)
        theirs = client.fetch([1, 2, 3, 5], list(items))
        assert {uid: {k: v for k, v in d.items() if k != b"SEQ"} for uid, d in ours.items()} \
            == {uid: {k: v for k, v in d.items() if k != b"SEQ"} for uid, d in theirs.items()}
    finally:
        client.logout()


_BODY = b"BODY[HEADER.FIELDS (SUBJECT)]"


@pytest.mark.parametrize("data", [
    # the shape Dovecot sends
    [(b'1 (UID 7 FLAGS (\\Seen $Label) RFC822.SIZE 42 INTERNALDATE "03-Feb-2026 10:11:12 -0500" '
      + _BODY + b" {14}", b"Subject: x\r\n\r\n"), b")"],
    # items after the literal, NIL and quoted bodies, two messages
    [(b"1 (UID 7 " + _BODY + b" {3}", b"abc"), b" FLAGS ())",
     b'2 (UID 9 FLAGS () BODY[] NIL RFC822.SIZE 0)', b'3 (UID 11 BODY[]<0> "" FLAGS (\\Seen))'],
    # INTERNALDATE forms: one-digit day, negative and odd offsets
    [b'1 (UID 7 INTERNALDATE " 3-Feb-2026 10:11:12 -0530" FLAGS ())',
     b'2 (UID 8 INTERNALDATE "31-Dec-1999 23:59:59 +1245" FLAGS ())'],
    # MODSEQ, which a CONDSTORE/QRESYNC session adds to every FETCH answer
    [b"1 (UID 7 MODSEQ (12345) FLAGS ())"],
    # left to imapclient: an unsolicited FETCH without UID
    [b"4 (FLAGS (\\Deleted))", b"1 (UID 7 FLAGS ())"],
])
def test_fast_fetch_parser_agrees_with_imapclient(data: list[object]) -> None:
    from imapclient.response_parser import parse_fetch_response

    assert _fetch.parse_fetch(list(data), False) == parse_fetch_response(list(data), False, True)
    fast = b"Deleted" not in repr(data).encode()
    if fast:  # the common shapes really take the fast path
        assert _fetch._parse_fast(list(data), False)


@pytest.mark.parametrize(("uids", "expected"), [
    ([], ""), ([7], "7"), ([1, 2, 3, 5], "1:3,5"), ([5, 3, 1, 2, 2], "1:3,5"),
    (list(range(1, 20_001)), "1:20000"), ([1, 3, 5, 6, 7, 9], "1,3,5:7,9"),
])
def test_uid_set_collapses_runs(uids: list[int], expected: str) -> None:
    assert _fetch.uid_set(uids) == expected


def test_sending_with_a_budget_of_one_connection(dovecot: Dovecot, smtp_server: SmtpServer,
                                                 certs: Certs) -> None:
    """The SMTP connection takes the idle IMAP connection's slot; the copy reconnects."""
    user = dovecot.new_user()
    with ImapMailbox(settings_for(dovecot, user, certs, smtp_server,
                                  max_connections=1)) as mailbox:
        assert mailbox.open_connections == 1
        result = mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="one",
                                              text="x"))
        assert result.appended
        assert mailbox.open_connections == 1
    assert len(smtp_server.messages_for(user)) == 1


def test_newest_uids_with_and_without_esearch_agree(dovecot: Dovecot, certs: Certs) -> None:
    user = dovecot.new_user()
    for n in range(1, 13):
        dovecot.deliver(user, make_message(n))
    admin = dovecot.admin(user)
    admin.select("INBOX")
    admin.uid("STORE", "3:5,9", "+FLAGS", "(\\Deleted)")  # leave gaps in the UIDs
    admin.expunge()
    admin.logout()
    client = _raw_client(dovecot, certs, user)
    try:
        assert b"ESEARCH" in client.capabilities()
        client.select_folder("INBOX", readonly=True)
        for below in (None, 13, 12, 10, 9, 6, 3, 2):
            for limit in (1, 2, 3, 20):
                fast = _fetch.newest_uids(client, below, limit, esearch=True)
                plain = _fetch.newest_uids(client, below, limit, esearch=False)
                assert fast == plain, (below, limit)
        assert _fetch.newest_uids(client, None, 3, esearch=True) == ([12, 11, 10], True)
        assert _fetch.newest_uids(client, 6, 5, esearch=True) == ([2, 1], False)
    finally:
        client.logout()
