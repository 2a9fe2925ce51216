"""The one place that touches imapclient's internals (and imaplib's below it, via imapclient).

Everything here uses ``client._imap``, imaplib's command machinery or its
``untagged_responses``; ``tests/imap/test_imapclient_shim.py`` and
``tests/imap/test_connections.py`` hold canary tests that fail if either library changes
what we rely on:

* imapclient sets imaplib's ``debug = 5`` on every connection so imaplib formats a printable
  copy of every response line, even with logging off: body downloads run several times
  slower. `quiet_protocol_log` switches it off unless the protocol logger is enabled.
* ``UID FETCH`` with a verbatim UID set and item list (`uid_fetch_raw`): imapclient's
  ``fetch`` sends UID lists comma-separated and parses with its slow general lexer.
* ``UID SEARCH RETURN (ALL)`` (RFC 4731, `esearch_all`): imapclient's ``search`` cannot ask
  for the compact ESEARCH answer.
* ``LIST "" "*" RETURN (SPECIAL-USE)`` (RFC 6154 / RFC 5258, `list_special_use`):
  imapclient's ``list_folders`` sends a plain LIST, which servers may answer without the
  special-use attributes.

* ``EXAMINE folder (QRESYNC (uidvalidity modseq))`` (RFC 7162): imapclient's
  ``select_folder`` takes no parameters, and its parsed result drops ``VANISHED``. imaplib's
  ``select`` sends the mailbox argument verbatim, sets the SELECTED state and keeps every
  untagged response (``VANISHED``, ``FETCH``, ``HIGHESTMODSEQ`` …) for us to read.
* ``COPYUID`` (RFC 4315) of ``UID MOVE`` arrives in an *untagged* OK (RFC 6851);
  imapclient's ``move`` returns only the tagged text, imaplib files the code under
  ``untagged_responses['COPYUID']``.
* ``APPEND`` with a literal written in pieces: imaplib (and imapclient's ``append`` on top)
  wants the whole message as one ``bytes``. `append_streamed` sends the command line
  through imaplib's tag counter, waits for the ``+`` with imaplib's own reader, writes the
  literal piece by piece with ``IMAP4.send`` and reads the tagged answer with
  ``_command_complete`` — the steps of ``IMAP4._command`` with a bytes literal.
  ``tests/imap/test_append_shim_canary.py`` checks those steps are still imaplib's.
"""

from __future__ import annotations

import datetime as dt
import imaplib
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from imapclient import IMAPClient

__all__ = ["PROTOCOL_LOGGER", "LiteralIncomplete", "append_streamed", "esearch_all", "examine",
           "forget_expunges", "imaplib_of", "is_selected", "list_special_use", "pop_untagged",
           "quiet_protocol_log", "quote_folder", "raw_command", "uid_fetch_raw"]

#: the logger imapclient routes imaplib's protocol trace to
PROTOCOL_LOGGER = "imapclient.imaplib"


def imaplib_of(client: IMAPClient) -> imaplib.IMAP4:
    """The imaplib connection under an imapclient client (for `_imaplib_shim`)."""
    imap: imaplib.IMAP4 = client._imap
    return imap


def quiet_protocol_log(client: IMAPClient) -> None:
    """Stop imaplib formatting every response when nobody reads the protocol log."""
    if not logging.getLogger(PROTOCOL_LOGGER).isEnabledFor(logging.DEBUG):
        client._imap.debug = 0


def uid_fetch_raw(client: IMAPClient, uids: str, items: str) -> list[Any]:
    """``UID FETCH <uids> <items>`` sent verbatim; the untagged FETCH data as imaplib keeps it."""
    imap = client._imap
    tag = imap._command("UID", "FETCH", uids, items)
    typ, data = imap._command_complete("FETCH", tag)
    client._checkok("fetch", typ, data)
    typ, data = imap._untagged_response(typ, data, "FETCH")
    return list(data)


def esearch_all(client: IMAPClient, criteria: Sequence[str]) -> bytes:
    """``UID SEARCH RETURN (ALL) <criteria>``: the ESEARCH line (``b""`` when nothing matched)."""
    imap = client._imap
    typ, data = imap._simple_command("UID", "SEARCH", "RETURN", "(ALL)", *criteria)
    client._checkok("search", typ, data)
    typ, data = imap._untagged_response(typ, data, "ESEARCH")
    return next((d for d in data if isinstance(d, bytes)), b"")


def list_special_use(client: IMAPClient) -> list[Any]:
    """``LIST "" "*" RETURN (SPECIAL-USE)``: the untagged LIST data, unparsed."""
    return raw_command(client, "LIST", '""', '"*"', "RETURN", "(SPECIAL-USE)")


def quote_folder(client: IMAPClient, folder: str) -> bytes:
    """The folder name as imapclient would send it (modified UTF-7, quoted)."""
    quoted: bytes = client._normalise_folder(folder)
    return quoted


def examine(client: IMAPClient, folder: str, parameters: str = "", *,
            readonly: bool = True) -> dict[str, list[Any]]:
    """``EXAMINE``/``SELECT`` with optional parameters; every untagged response by name."""
    imap = client._imap
    argument = quote_folder(client, folder).decode("ascii")
    if parameters:
        argument += " " + parameters
    typ, data = imap.select(argument, readonly)
    client._checkok("select", typ, data)
    # imaplib flushes the dict at the start of every SELECT, so this is exactly its answer.
    responses: dict[str, list[Any]] = dict(imap.untagged_responses)
    imap.untagged_responses = {}
    return responses


def pop_untagged(client: IMAPClient, name: str) -> list[Any]:
    """Take (and forget) the untagged responses of one kind received so far."""
    found: list[Any] = client._imap.untagged_responses.pop(name, [])
    return found


def raw_command(client: IMAPClient, name: str, *args: str,
                untagged: str | None = None) -> list[Any]:
    """Send one command with verbatim (ASCII) arguments; its untagged ``untagged`` data."""
    imap = client._imap
    pop_untagged(client, untagged or name)
    tag = imap._command(name, *args)
    typ, data = imap._command_complete(name, tag)
    client._checkok(name.lower(), typ, data)
    return pop_untagged(client, untagged or name)


def is_selected(client: IMAPClient) -> bool:
    """Whether a folder is selected (imaplib refuses ENABLE then, and so does RFC 5161)."""
    return bool(client._imap.state == "SELECTED")


def forget_expunges(client: IMAPClient) -> None:
    """Drop the EXPUNGE/VANISHED/RECENT/EXISTS notices imaplib keeps collecting.

    imaplib appends every untagged response to a dict that only a SELECT clears; on a
    long-lived pooled connection moving thousands of messages it would grow without end.
    """
    for name in ("EXPUNGE", "VANISHED", "RECENT", "EXISTS", "FETCH"):
        client._imap.untagged_responses.pop(name, None)


class LiteralIncomplete(imaplib.IMAP4.abort):
    """The connection failed before an APPEND's literal was written in full.

    The server cannot have stored the message (it never had all of it), so the APPEND may
    be repeated on a new connection.
    """


def append_streamed(client: IMAPClient, folder: str, flags: bytes, when: dt.datetime,
                    size: int, pieces: Iterable[bytes]) -> bytes:
    """``APPEND folder (flags) "date" {size}``, the literal written from ``pieces``.

    Returns the tagged OK's text (``[APPENDUID v uid] …`` when the server has UIDPLUS).
    A refusal before the ``+`` (``NO [TRYCREATE]``, over quota) is the usual
    ``IMAPClientError`` from imapclient's own check; a connection failure before the last
    byte of the literal left raises `LiteralIncomplete`, after it a plain ``IMAP4.abort``.
    """
    imap = client._imap
    if imap.state not in imaplib.Commands["APPEND"]:
        raise imaplib.IMAP4.error(f"command APPEND illegal in state {imap.state}")
    for kind in ("OK", "NO", "BAD"):  # a stale one would be taken for this command's
        imap.untagged_responses.pop(kind, None)
    tag: bytes = imap._new_tag()
    line = b" ".join((tag, b"APPEND", quote_folder(client, folder), b"(" + flags + b")",
                      imaplib.Time2Internaldate(when).encode("ascii"), b"{%d}" % size))
    if imap.debug >= 4:  # the protocol trace imapclient routes into logging
        imap._mesg(f"> {line!r}")
    try:
        imap.send(line + b"\r\n")
    except OSError as exc:
        raise LiteralIncomplete(f"socket error: {exc}") from exc
    try:
        continued = _await_continuation(imap, tag)
    except (imaplib.IMAP4.abort, OSError) as exc:  # EOF, reset, timeout: nothing written
        raise LiteralIncomplete(str(exc)) from exc
    if continued:
        _write_literal(imap, size, pieces)
    typ, data = imap._command_complete("APPEND", tag)
    client._checkok("append", typ, data)
    answer: bytes = data[0] if data and isinstance(data[0], bytes) else b""
    return answer


def _await_continuation(imap: imaplib.IMAP4, tag: bytes) -> bool:
    """Read until the server's ``+`` (True) or its tagged refusal of the APPEND (False)."""
    while imap._get_response():  # None means a continuation request
        if imap.tagged_commands[tag]:
            return False
    return True


def _write_literal(imap: imaplib.IMAP4, size: int, pieces: Iterable[bytes]) -> None:
    written = 0
    try:
        for piece in pieces:
            if written + len(piece) > size:
                break  # never more than announced: the excess would be read as a command
            imap.send(piece)
            written += len(piece)
    except OSError as exc:
        raise LiteralIncomplete(f"socket error after {written} of {size} bytes: {exc}") from exc
    if written != size:
        # The server still waits for the rest: this connection cannot be used again.
        raise LiteralIncomplete(f"the message did not have the {size} bytes announced")
    try:
        imap.send(b"\r\n")
    except OSError as exc:
        raise imaplib.IMAP4.abort(f"socket error: {exc}") from exc
