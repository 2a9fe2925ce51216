"""Value types of the change feed: `ChangeSet` (what ``changes()`` returns) and
`ChangeHint` (what ``watch()`` yields).

A sync token is an opaque, JSON-safe string: store it anywhere and resume with it in another
process or on another machine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import attrs

from inboxlink.models import MessageSummary

__all__ = ["ChangeHint", "ChangeSet"]


def _summaries(value: Iterable[MessageSummary]) -> tuple[MessageSummary, ...]:
    return tuple(value)


def _ids(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class ChangeSet:
    """What changed in one folder since a sync token.

    An id appears in at most one of ``added``, ``updated`` and ``removed``. A message that
    arrived and left again between two calls may be reported only as removed, so handlers
    must tolerate removing an id they never saw. Handle the batch, *then* store ``token``:
    a crash in between replays the batch (at least once), never skips it.
    """

    #: messages that arrived or were moved into the folder since the token
    added: tuple[MessageSummary, ...] = attrs.field(default=(), converter=_summaries)
    #: messages whose flags, read state or labels changed (their current summary)
    updated: tuple[MessageSummary, ...] = attrs.field(default=(), converter=_summaries)
    #: ids (as ``list_messages`` gave them) of messages deleted or moved out
    removed: tuple[str, ...] = attrs.field(default=(), converter=_ids)
    #: pass this to the next ``changes()`` call
    token: str = ""
    #: ``True`` when more changes are waiting: call ``changes()`` again at once
    more: bool = False

    def __bool__(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def __len__(self) -> int:
        return len(self.added) + len(self.updated) + len(self.removed)


@attrs.frozen
class ChangeHint:
    """A sign that something changed in a folder: call ``changes()`` to learn what."""

    folder_id: str
    #: why the adapter thinks so: ``"exists"``, ``"expunge"``, ``"flags"``, ``"poll"``,
    #: ``"notification"`` … (informational; never needed to act on a hint)
    reason: str = "changed"
    at: dt.datetime = attrs.field(factory=lambda: dt.datetime.now(dt.timezone.utc))
