"""The round-2 commands imapclient cannot express, sent through imaplib's own machinery.

Everything here touches imapclient/imaplib internals (``client._imap``, imaplib's
``untagged_responses``); ``tests/imap/test_imapclient_shim.py`` holds canary tests that fail
if either library changes what we rely on:

* ``EXAMINE folder (QRESYNC (uidvalidity modseq))`` (RFC 7162): imapclient's
  ``select_folder`` takes no parameters, and its parsed result drops ``VANISHED``. imaplib's
  ``select`` sends the mailbox argument verbatim, sets the SELECTED state and keeps every
  untagged response (``VANISHED``, ``FETCH``, ``HIGHESTMODSEQ`` …) for us to read.
* ``COPYUID`` (RFC 4315) of ``UID MOVE`` arrives in an *untagged* OK (RFC 6851);
  imapclient's ``move`` returns only the tagged text, imaplib files the code under
  ``untagged_responses['COPYUID']``.
"""

from __future__ import annotations

from typing import Any

from imapclient import IMAPClient

__all__ = ["examine", "forget_expunges", "is_selected", "pop_untagged", "quote_folder", "raw_command"]


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
