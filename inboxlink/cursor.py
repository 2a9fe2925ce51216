"""Opaque, JSON-safe cursors and sync tokens, once for every adapter.

A cursor must survive a trip through JSON, a database and another process (DESIGN §2), be
refused — typed — when it is garbage, came from another adapter, or belongs to another
folder, and never be mistaken for a sync token (or the reverse). `CursorCodec` does
all of that; the adapter keeps only what *its* provider needs to resume (an offset, a page
token, a delta link) in the state mapping::

    LISTING = CursorCodec("jmap")                               # listing cursors
    SYNC = CursorCodec("jmap", kind="sync", error=errors.SyncTokenExpired)

    cursor = LISTING.encode(folder.id, {"position": 500, "query_state": "s42"})
    state = LISTING.decode(cursor, folder.id)   # {"position": 500, "query_state": "s42"}

The encoded form is ``<provider>.<kind><version>.<base64url(JSON)>``: ASCII, URL- and
JSON-safe. The folder is stored as a short digest of its id (ids can be long), enough to
tell folders apart, and the state is *not* signed: a cursor is a bookmark, not a
credential — the provider still checks every request made with it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import attrs

from inboxlink import errors

__all__ = ["CursorCodec"]


def _folder_digest(folder_id: str) -> str:
    return hashlib.sha256(folder_id.encode("utf-8")).hexdigest()[:16]


@attrs.frozen
class CursorCodec:
    """One adapter's cursor (or sync-token) format.

    Args:
        provider: the adapter's name; part of every cursor, so one adapter's cursor is
            refused by another.
        kind: ``"cursor"`` for listings, ``"sync"`` for sync tokens … — a cursor of one
            kind is refused where another is expected.
        version: bump it when the state's meaning changes; older cursors are then refused
            (typed) instead of misread.
        error: the class raised for a cursor that does not apply: ``CursorExpired`` for
            listings, ``SyncTokenExpired`` for sync tokens.
    """

    provider: str
    kind: str = "cursor"
    version: int = 1
    error: type[errors.CursorExpired] = errors.CursorExpired

    @property
    def _prefix(self) -> str:
        return f"{self.provider}.{self.kind}{self.version}."

    def encode(self, folder_id: str, state: Mapping[str, Any]) -> str:
        """An opaque string for ``state`` (JSON-serialisable values) in ``folder_id``.

        Raises ``TypeError`` for state JSON cannot hold: that is a bug in the adapter, not
        a condition to translate.
        """
        payload = json.dumps({"f": _folder_digest(folder_id), "s": dict(state)},
                             separators=(",", ":"), sort_keys=True, allow_nan=False)
        body = base64.urlsafe_b64encode(payload.encode("utf-8")).decode("ascii").rstrip("=")
        return self._prefix + body

    def decode(self, cursor: str, folder_id: str) -> dict[str, Any]:
        """The state `encode()` stored, after checking the cursor is this codec's and
        ``folder_id``'s; otherwise raises `error` (``code`` says which check failed:
        ``"bad-cursor"``, ``"wrong-folder"``)."""
        if not isinstance(cursor, str) or not cursor.startswith(self._prefix):
            raise self._refuse("bad-cursor", "It is not one of this adapter's "
                               f"{self.kind} values (or is from an older version).")
        body = cursor[len(self._prefix):]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            data = json.loads(raw.decode("utf-8"))
            digest, state = data["f"], data["s"]
        except (binascii.Error, ValueError, UnicodeDecodeError, TypeError, KeyError):
            raise self._refuse("bad-cursor", "It is damaged.") from None
        if not isinstance(state, dict) or not isinstance(digest, str):
            raise self._refuse("bad-cursor", "It is damaged.")
        if digest != _folder_digest(folder_id):
            raise self._refuse("wrong-folder", "It belongs to another folder.")
        return state

    def _refuse(self, code: str, why: str) -> errors.CursorExpired:
        remedy = (
            "Take a new sync_token() and re-list the folder once."
            if issubclass(self.error, errors.SyncTokenExpired)
            else "Pass page.next_cursor unchanged, with the folder it came from, or start "
                 "the listing again without a cursor.")
        return self.error(f"The {self.kind} does not apply here. {why}",
                          provider=self.provider, code=code, remedy=remedy)
