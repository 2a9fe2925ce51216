"""The only place that touches imapclient/imaplib internals; tests/imap/test_wire.py checks them.

* imapclient sets imaplib's ``debug = 5`` on every connection so imaplib formats a printable
  copy of every response line, even with logging off: body downloads run several times
  slower. We switch it off unless the protocol logger is enabled for DEBUG.
* imapclient's ``fetch`` takes a list of UIDs and sends them comma-separated; a long list
  overflows the server's line limit. :func:`uid_fetch` sends a collapsed UID set
  (``1:500,502``) and parses the reply with imapclient's own parser.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from imapclient import IMAPClient
from imapclient.response_parser import parse_fetch_response

__all__ = ["PROTOCOL_LOGGER", "quiet_protocol_log", "uid_fetch", "uid_set"]

#: the logger imapclient routes imaplib's protocol trace to
PROTOCOL_LOGGER = "imapclient.imaplib"


def quiet_protocol_log(client: IMAPClient) -> None:
    """Stop imaplib formatting every response when nobody reads the protocol log."""
    if not logging.getLogger(PROTOCOL_LOGGER).isEnabledFor(logging.DEBUG):
        client._imap.debug = 0


def uid_set(uids: Iterable[int]) -> str:
    """UIDs as a compact IMAP set: ``[1, 2, 3, 5]`` → ``"1:3,5"``."""
    ordered = sorted(set(uids))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}:{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def uid_fetch(client: IMAPClient, uids: str, items: Sequence[str]) -> dict[int, dict[bytes, Any]]:
    """``UID FETCH <uids> (<items>)`` → ``{uid: {b'ITEM': value}}`` as imapclient parses it."""
    imap = client._imap
    tag = imap._command("UID", "FETCH", uids, "(" + " ".join(items) + ")")
    typ, data = imap._command_complete("FETCH", tag)
    client._checkok("fetch", typ, data)
    typ, data = imap._untagged_response(typ, data, "FETCH")
    parsed: dict[int, dict[bytes, Any]] = parse_fetch_response(data, client.normalise_times, True)
    return parsed
