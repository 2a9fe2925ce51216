"""Canaries for ``_imapclient_shim.append_streamed``: the streamed APPEND repeats the steps of
imaplib's ``IMAP4._command`` with a literal; if imaplib or imapclient change them, these fail
before a user's Sent copy does."""

from __future__ import annotations

import datetime as dt
import imaplib
import inspect

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from inboxlink.adapters.imap import _imapclient_shim as shim

from .dovecot import Dovecot
from .helpers import Certs, raw_client

WHEN = dt.datetime(2026, 11, 30, 1, 2, 3, tzinfo=dt.timezone.utc)


def test_the_steps_of_imaplib_command_are_still_these() -> None:
    for name in ("_new_tag", "_get_response", "_command_complete", "send", "_mesg"):
        assert callable(getattr(imaplib.IMAP4, name)), name
    assert callable(IMAPClient._checkok)
    assert imaplib.Commands["APPEND"] == ("AUTH", "SELECTED")
    # a new tag is registered as pending (None) until its tagged answer arrives
    assert "self.tagged_commands[tag] = None" in inspect.getsource(imaplib.IMAP4._new_tag)
    # _get_response answers None for a "+" continuation, and files tagged answers
    response = inspect.getsource(imaplib.IMAP4._get_response)
    assert "return None     # NB: indicates continuation" in response
    assert "self.tagged_commands[tag] = (typ, [dat])" in response
    # the literal goes out only after the "+", then a CRLF: what append_streamed repeats
    command = inspect.getsource(imaplib.IMAP4._command)
    assert command.index("self.send(data + CRLF)") < command.index("while self._get_response()") \
        < command.index("if self.tagged_commands[tag]:") < command.index("self.send(literal)") \
        < command.index("self.send(CRLF)")


def _pieces(raw: bytes, size: int) -> list[bytes]:
    return [raw[i:i + size] for i in range(0, len(raw), size)]


def test_a_literal_written_in_pieces_is_stored_byte_exact(dovecot: Dovecot, certs: Certs) -> None:
    user = dovecot.new_user()
    raw = (b"From: a@example.com\r\nTo: b@example.com\r\nSubject: pieces\r\n"
           b"Message-ID: <pieces@example.com>\r\n\r\n" + b"line\r\n.dot\r\n" * 5000)
    client = raw_client(dovecot, user, certs)
    try:
        answer = shim.append_streamed(client, "Sent", b"\\Seen", WHEN, len(raw),
                                      _pieces(raw, 4096))
        assert answer.startswith(b"[APPENDUID ")
        uid = int(answer.split()[2].rstrip(b"]"))
        client.select_folder("Sent")
        item = client.fetch([uid], ["BODY.PEEK[]", "FLAGS", "INTERNALDATE"])[uid]
        assert item[b"BODY[]"] == raw
        assert b"\\Seen" in item[b"FLAGS"]
        assert item[b"INTERNALDATE"].astimezone(dt.timezone.utc) == WHEN
        assert client.noop()  # the session is in step for the next command
    finally:
        client.logout()


def test_a_refusal_before_the_continuation_is_imapclients_error(dovecot: Dovecot,
                                                                certs: Certs) -> None:
    user = dovecot.new_user()
    client = raw_client(dovecot, user, certs)
    try:
        with pytest.raises(IMAPClientError, match="TRYCREATE"):
            shim.append_streamed(client, "No such folder", b"\\Seen", WHEN, 10,
                                 iter([b"0123456789"]))
        assert client.noop()  # nothing was written: still usable
    finally:
        client.logout()


@pytest.mark.parametrize(("announced", "pieces"), [(100, [b"short"]), (3, [b"too long"])],
                         ids=["fewer", "more"])
def test_other_bytes_than_announced_are_an_incomplete_literal(
        dovecot: Dovecot, certs: Certs, announced: int, pieces: list[bytes]) -> None:
    user = dovecot.new_user()
    client = raw_client(dovecot, user, certs)
    try:
        with pytest.raises(shim.LiteralIncomplete):
            shim.append_streamed(client, "Sent", b"\\Seen", WHEN, announced, iter(pieces))
    finally:
        client.shutdown()  # in the middle of a literal: only good for closing
    admin = dovecot.admin(user)
    try:
        typ, data = admin.select('"Sent"', readonly=True)
        assert typ == "OK"
        assert int(data[0] or 0) == 0  # nothing stored
    finally:
        admin.logout()
