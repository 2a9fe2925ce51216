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
"""

from __future__ import annotations

import imaplib
import logging
from collections.abc import Sequence
from typing import Any

from imapclient import IMAPClient

__all__ = ["PROTOCOL_LOGGER", "esearch_all", "examine", "forget_expunges", "imaplib_of",
           "is_selected", "list_special_use", "pop_untagged", "quiet_protocol_log",
           "quote_folder", "raw_command", "uid_fetch_raw"]

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
