"""Message ids and listing cursors: opaque, JSON-safe strings that survive a new process.

A message id is ``<folder>:<UIDVALIDITY>:<UID>`` (split from the right, so folder names may
contain colons). A cursor is URL-safe base64 of a small JSON object naming the folder, its
UIDVALIDITY and the UID the next page starts below.
"""

from __future__ import annotations

import base64
import binascii
import json

import attrs

from inboxlink import errors

__all__ = [
    "Cursor", "MessageRef", "decode_cursor", "encode_cursor", "gone", "message_id",
    "parse_message_id",
]


@attrs.frozen
class MessageRef:
    """Where a message lives on the server."""

    folder: str
    uidvalidity: int
    uid: int


@attrs.frozen
class Cursor:
    """Where the next page of a listing starts."""

    folder: str
    uidvalidity: int
    below: int  #: the next page holds UIDs strictly below this one


def message_id(folder: str, uidvalidity: int, uid: int) -> str:
    """The opaque id of a message."""
    return f"{folder}:{uidvalidity}:{uid}"


def parse_message_id(value: str) -> MessageRef:
    """The location a message id names; ``MessageNotFound`` for anything malformed."""
    try:
        folder, validity, uid = value.rsplit(":", 2)
        ref = MessageRef(folder, int(validity), int(uid))
    except (ValueError, AttributeError) as exc:
        raise errors.MessageNotFound(f"{value!r} is not a message id of this mailbox.",
                                     provider="imap") from exc
    if ref.uid < 1 or not folder:
        raise errors.MessageNotFound(f"{value!r} is not a message id of this mailbox.",
                                     provider="imap")
    return ref


def gone(ref: MessageRef) -> errors.MessageNotFound:
    """The error for a message that is no longer where its id says."""
    return errors.MessageNotFound(f"Message {ref.uid} is not in {ref.folder!r}.",
                                  provider="imap")


def encode_cursor(cursor: Cursor) -> str:
    """The opaque string form."""
    payload = json.dumps({"f": cursor.folder, "v": cursor.uidvalidity, "b": cursor.below},
                         separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(payload).decode("ascii").rstrip("=")


def decode_cursor(value: str) -> Cursor:
    """Parse a cursor; a malformed one is a typed error, never a wrong listing."""
    try:
        padded = value + "=" * (-len(value) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        cursor = Cursor(str(data["f"]), int(data["v"]), int(data["b"]))
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError) as exc:
        raise errors.CursorExpired(
            "This is not a listing cursor of the IMAP adapter.", provider="imap",
            remedy="Pass the next_cursor of a previous page unchanged, or start without one.",
        ) from exc
    return cursor
