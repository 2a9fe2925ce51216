"""The EWS change feed: ``SyncFolderItems`` with a ``SyncState``.

A token (`inboxlink.cursor.CursorCodec`, kind ``sync``) holds the folder and Exchange's
SyncState: the folder lets ``changes()`` refuse another folder's token before asking the
server, and the SyncState is Exchange's own (it keeps no per-client state, so tokens resume
anywhere).

Costs, in EWS requests:

- ``changes()`` with nothing new: **one** SyncFolderItems (ids only).
- ``changes()`` with changes: that one plus one GetItem per ``fetch_batch_size`` created or
  updated items for their summaries (deletions need none).
- ``sync_token()``: EWS has no "current state" call — a SyncFolderItems without a state
  replays the whole folder as creations. The baseline pages that replay with the ids-only
  shape and the documented maximum of 512 changes per call, so it costs
  ⌈items in the folder / 512⌉ requests (20 for 10,000 messages, about 120 bytes per item)
  and tracks *every* message of the folder from then on, old ones included.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from exchangelib.items import ID_ONLY

from inboxlink import errors
from inboxlink.adapters.ews._exchangelib_shim import SyncItemIds
from inboxlink.changes import ChangeSet
from inboxlink.cursor import CursorCodec
from inboxlink.models import Folder, MessageSummary

if TYPE_CHECKING:
    from exchangelib import Account
    from exchangelib.folders import Folder as EwsFolder

__all__ = ["MAX_CHANGES", "TOKENS", "EwsSync"]

#: sync tokens: Exchange's SyncState
TOKENS = CursorCodec("ews", kind="sync", error=errors.SyncTokenExpired)
#: SyncFolderItems' MaxChangesReturned range is 1..512 (EWS schema)
MAX_CHANGES = 512


def encode_token(folder_id: str, state: str) -> str:
    """The token for ``state`` of ``folder_id``."""
    return TOKENS.encode(folder_id, {"s": state})


def decode_token(token: str, folder_id: str) -> str:
    """The SyncState in ``token``; ``SyncTokenExpired`` if it is not a token of ``folder_id``."""
    state = TOKENS.decode(token, folder_id).get("s")
    if not isinstance(state, str) or not state:
        raise errors.SyncTokenExpired("The sync token is damaged.", provider="ews",
                                      code="bad-cursor")
    return state


class EwsSync:
    """``_sync_token``/``_changes`` for `EwsMailbox`."""

    #: one SyncFolderItems returns at most 512 changes
    max_changes: ClassVar[int] = MAX_CHANGES

    if TYPE_CHECKING:
        @property
        def account(self) -> Account: ...
        def _boundary(self) -> Any: ...
        def _ews_folder(self, folder: Folder) -> EwsFolder: ...
        def _summaries_of(self, ids: list[str]) -> dict[str, MessageSummary]: ...

    def _sync_round(self, folder: Folder, state: str | None,
                    limit: int) -> tuple[list[tuple[str, str]], SyncItemIds]:
        syncer = SyncItemIds(account=self.account)
        changes = []
        for entry in syncer.call(folder=self._ews_folder(folder), shape=ID_ONLY,
                                 additional_fields=None, sync_state=state, ignore=None,
                                 max_changes_returned=limit, sync_scope="NormalItems"):
            if isinstance(entry, Exception):
                raise entry
            changes.append(entry)
        return changes, syncer

    def _sync_token(self, folder: Folder) -> str:
        with self._boundary():
            state = None
            while True:
                _, syncer = self._sync_round(folder, state, MAX_CHANGES)
                # Exchange has been seen to answer "more" with an unchanged state (exchangelib
                # guards against it too): that state is as current as it gets.
                if syncer.includes_last_item_in_range or syncer.sync_state == state:
                    return encode_token(folder.id, syncer.sync_state)
                state = syncer.sync_state

    def _changes(self, folder: Folder, token: str, limit: int) -> ChangeSet:
        state = decode_token(token, folder.id)
        with self._boundary():
            changes, syncer = self._sync_round(folder, state, min(limit, MAX_CHANGES))
            net: dict[str, str] = {}
            for kind, item_id in changes:
                # One id once: a deletion wins, a creation stays a creation.
                if kind == "delete" or net.get(item_id) != "create":
                    net[item_id] = kind
            alive = [i for i, kind in net.items() if kind != "delete"]
            # Items deleted after this answer are left out; the next round reports them.
            summaries = self._summaries_of(alive) if alive else {}
        return ChangeSet(
            added=[summaries[i] for i, k in net.items() if k == "create" and i in summaries],
            updated=[summaries[i] for i, k in net.items() if k == "update" and i in summaries],
            removed=[i for i, k in net.items() if k == "delete"],
            token=encode_token(folder.id, syncer.sync_state),
            more=not syncer.includes_last_item_in_range,
        )
