"""The fake's change feed, actions and search, on the server's per-folder change log.

`FakeFeed` is the part of `FakeMailbox` that reads and
changes stored messages by id: ``sync_token``/``changes``/``watch`` and
``set_read``/``move``/``delete``/``search`` with the same typed errors as the real adapters.
"""

from __future__ import annotations

from typing import Any

from inboxlink import errors, mime
from inboxlink.changes import ChangeHint, ChangeSet
from inboxlink.cursor import CursorCodec
from inboxlink.mailbox import BaseMailbox
from inboxlink.mailbox_sync import Watch
from inboxlink.models import Folder, MessageSummary, Page
from inboxlink.query import SearchQuery, matches
from inboxlink.testing.fake_server import (
    FakeMailServer,
    _FolderState,
    _Stored,
    parse_message_id,
    summary,
)

__all__ = ["FakeFeed", "listing_cursor"]

_CURSORS = CursorCodec("fake")
_TOKENS = CursorCodec("fake", kind="sync", error=errors.SyncTokenExpired)


def _token(state: _FolderState, modseq: int) -> str:
    return _TOKENS.encode(state.path, {"v": state.uidvalidity, "m": modseq})


def listing_cursor(state: _FolderState, before_uid: int) -> str:
    return _CURSORS.encode(state.path, {"v": state.uidvalidity, "b": before_uid})


class FakeFeed(BaseMailbox):
    """Change feed, actions and search of the fake (see `FakeMailbox`)."""

    server: FakeMailServer
    closed: bool

    def _guard(self, operation: str) -> None:
        if self.closed:
            raise errors.MailboxClosed(provider="fake")
        self.server._check(operation, self.address)

    def _state(self, folder: Folder) -> _FolderState:
        return self.server._folder(self.address, folder.id)

    @staticmethod
    def _cursor_position(state: _FolderState, cursor: str) -> int:
        data = _CURSORS.decode(cursor, state.path)
        if data.get("v") != state.uidvalidity or not isinstance(data.get("b"), int):
            raise errors.CursorExpired(provider="fake", code="UIDVALIDITY")
        return int(data["b"])

    def _lookup(self, message_id: str) -> tuple[_FolderState, _Stored] | None:
        parsed = parse_message_id(message_id)
        if parsed is None:
            return None
        path, validity, uid = parsed
        state = self.server.account(self.address).folders.get(path)
        if state is None or state.uidvalidity != validity or uid not in state.messages:
            return None
        return state, state.messages[uid]

    # ------------------------------------------------------------------ change feed
    def _sync_token(self, folder: Folder) -> str:
        self._guard("sync_token")
        with self.server._lock:
            state = self._state(folder)
            return _token(state, state.modseq)

    def _changes(self, folder: Folder, token: str, limit: int) -> ChangeSet:
        self._guard("changes")
        with self.server._lock:
            state = self._state(folder)
            since = self._token_modseq(state, token)
            events: list[tuple[int, str, Any]] = [
                (m.modseq, "added" if m.created > since else "updated", m)
                for m in state.messages.values() if m.modseq > since]
            events += [(seq, "removed", uid) for seq, uid in state.expunged if seq > since]
            events.sort(key=lambda e: e[0])
            chosen, more = events[:limit], len(events) > limit
            last = chosen[-1][0] if more else state.modseq
            view = {"added": [], "updated": [], "removed": []}  # type: dict[str, list[Any]]
            for _, kind, item in chosen:
                if kind == "removed":
                    view[kind].append(f"{state.path}:{state.uidvalidity}:{item}")
                else:
                    view[kind].append(summary(state.path, state.uidvalidity, item))
            return ChangeSet(added=view["added"], updated=view["updated"],
                             removed=view["removed"], token=_token(state, last), more=more)

    @staticmethod
    def _token_modseq(state: _FolderState, token: str) -> int:
        data = _TOKENS.decode(token, state.path)
        modseq = data.get("m")
        if data.get("v") != state.uidvalidity or not isinstance(modseq, int) \
                or modseq > state.modseq:
            raise errors.SyncTokenExpired(provider="fake", code="UIDVALIDITY")
        return modseq

    def _wait_for_change(self, watch: Watch) -> ChangeHint | None:
        self._guard("watch")
        with self.server._changed:
            state = self._state(watch.folder)
            seen = (state.modseq, state.uidvalidity)
            while (state.modseq, state.uidvalidity) == seen:
                if watch.expired() or self.closed:
                    return None
                left = watch.remaining()
                self.server._changed.wait(0.25 if left is None else min(0.25, left))
        return ChangeHint(folder_id=watch.folder.id, reason="changed")

    # ------------------------------------------------------------------ actions
    def _set_flag(self, ids: list[str], flag: str, value: bool) -> list[str]:
        self._guard("set_flags")
        missing = []
        with self.server._lock:
            for message_id in ids:
                found = self._lookup(message_id)
                if found is None:
                    missing.append(message_id)
                    continue
                state, stored = found
                if (flag in stored.flags) != value:
                    (stored.flags.add if value else stored.flags.discard)(flag)
                    self.server._touch(state, stored)
        return missing

    def _move(self, ids: list[str], target: Folder) -> dict[str, str | None]:
        self._guard("move")
        moved: dict[str, str | None] = {}
        with self.server._lock:
            for message_id in ids:
                found = self._lookup(message_id)
                if found is None:
                    continue
                state, stored = found
                if state.path == target.id:
                    moved[message_id] = message_id
                    continue
                self.server._expunge(state, stored.uid)
                moved[message_id] = self.server._store(self.address, target.id, stored.raw,
                                                       stored.flags)
        return moved

    def _delete(self, ids: list[str], permanent: bool) -> list[str]:
        if not permanent:
            return super()._delete(ids, permanent)
        self._guard("delete")
        missing = []
        with self.server._lock:
            for message_id in ids:
                found = self._lookup(message_id)
                if found is None:
                    missing.append(message_id)
                else:
                    self.server._expunge(found[0], found[1].uid)
        return missing

    def _search(self, folder: Folder, query: SearchQuery, limit: int,
                cursor: str | None) -> Page[MessageSummary]:
        self._guard("search")
        with self.server._lock:
            state = self._state(folder)
            before = self._cursor_position(state, cursor) if cursor else None
            hits = []
            for uid in sorted(state.messages, reverse=True):
                if before is not None and uid >= before:
                    continue
                stored = state.messages[uid]
                item = summary(state.path, state.uidvalidity, stored)
                # The headers decide most queries; the body is parsed only when they pass
                # and the query asks about text or attachments.
                if not matches(query, item):
                    continue
                if query.text is not None or query.has_attachments is not None:
                    parsed = mime.parse(stored.raw)
                    body = " ".join(filter(None, (mime.body_text(parsed, "plain"),
                                                  mime.body_text(parsed, "html"))))
                    if not matches(query, item, body=body, has_attachments=any(
                            True for _ in mime.attachments(parsed))):
                        continue
                hits.append(item)
                if len(hits) > limit:
                    break
        next_cursor = None
        if len(hits) > limit:
            last = parse_message_id(hits[limit - 1].id)
            assert last is not None
            next_cursor = listing_cursor(state, last[2])
        return Page(hits[:limit], next_cursor)
