"""Summaries from the header fields of one UID FETCH, parsed on a fast path.

Listing must cost little more than reading the bytes (DESIGN §4): no ENVELOPE, no
``email.policy.default`` per message. Header values that are plain ASCII take a few string
operations; only encoded words, quoted names or address lists fall back to the stdlib.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from inboxlink import mime
from inboxlink.headers import decode_words, parse_addresses, parse_date
from inboxlink.models import MessageSummary

__all__ = ["HEADER_FIELDS", "SUMMARY_ITEMS", "summary"]

HEADER_FIELDS = ("SUBJECT", "FROM", "TO", "CC", "DATE", "MESSAGE-ID", "IN-REPLY-TO", "REFERENCES")
_SECTION = "BODY.PEEK[HEADER.FIELDS (" + " ".join(HEADER_FIELDS) + ")]"
_RESPONSE_KEY = _SECTION.replace(".PEEK", "").encode()
#: the FETCH items of one summary
SUMMARY_ITEMS = ("UID", "FLAGS", "RFC822.SIZE", "INTERNALDATE", _SECTION)

_FOLD = re.compile(rb"\r?\n[ \t]")


def _fields(block: bytes) -> dict[str, str]:
    """Unfolded header fields (lower-case names → raw values, first occurrence wins)."""
    result: dict[str, str] = {}
    for line in _FOLD.sub(b" ", block).split(b"\n"):
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        key = name.strip().lower().decode("ascii", "replace")
        if key not in result:
            result[key] = value.strip().decode("utf-8", "replace")
    return result


def _header_block(data: dict[bytes, Any]) -> bytes:
    block = data.get(_RESPONSE_KEY)
    if block is None:
        # Servers may echo the section spec differently (case, quoting): find it by prefix.
        block = next((v for k, v in data.items()
                      if k.upper().startswith(b"BODY[HEADER.FIELDS")), None)
    return block if isinstance(block, bytes) else b""


def summary(message_id: str, folder_id: str, data: dict[bytes, Any]) -> MessageSummary:
    """A `MessageSummary` from one message's FETCH data."""
    fields = _fields(_header_block(data))
    get = fields.get
    subject = get("subject")
    msgid = get("message-id")
    reply_to = get("in-reply-to")
    internal = data.get(b"INTERNALDATE")
    return MessageSummary(
        id=message_id,
        folder_id=folder_id,
        subject=decode_words(subject) if subject is not None else None,
        from_=next(iter(parse_addresses(get("from"))), None),
        to=parse_addresses(get("to")),
        cc=parse_addresses(get("cc")),
        date=parse_date(get("date")),
        received_at=internal if isinstance(internal, dt.datetime) else None,
        message_id=msgid or None,
        in_reply_to=(mime.split_msgids(reply_to) or (reply_to,))[0] if reply_to else None,
        references=mime.split_msgids(get("references")),
        flags=frozenset(f.decode("utf-8", "replace") if isinstance(f, bytes) else str(f)
                        for f in data.get(b"FLAGS", ())),
        size=data.get(b"RFC822.SIZE"),
    )
