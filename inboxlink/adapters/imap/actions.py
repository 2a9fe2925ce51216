"""Acting on and finding IMAP mail: UID STORE / MOVE / EXPUNGE, SEARCH, replies and threads.

Every action groups the ids by folder and works in chunks of UIDs sent as compact sets
(``1:500,502``): per chunk one ``UID SEARCH UID <set>`` (which of them still exist — STORE
and MOVE are silent about UIDs that do not) and one ``UID STORE``/``UID MOVE``.

* move: ``UID MOVE`` (RFC 6851) when offered, else ``UID COPY`` + ``\\Deleted`` +
  ``UID EXPUNGE`` (RFC 4315); new ids from ``COPYUID``.
* delete: a move to the Trash role folder (found like Sent); ``permanent=True`` (or ids
  already in Trash) is ``\\Deleted`` + ``UID EXPUNGE`` of exactly those UIDs — a plain
  EXPUNGE would also remove what other clients marked deleted, so without UIDPLUS a
  permanent delete is refused.
* search: one ``UID SEARCH`` (``CHARSET UTF-8`` when a value is not ASCII) narrowing the
  folder, then the page's summaries are checked against `inboxlink.query.matches`
  (IMAP dates ignore time and zone; ``has_attachments`` is read from BODYSTRUCTURE).
* replies and threads: ``SEARCH HEADER`` on In-Reply-To / References / Message-ID, folder
  by folder. ``THREAD=REFERENCES`` is not used: RFC 5256 merges threads that merely share
  a subject, and replies are never matched by subject (DESIGN §7).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from imapclient import IMAPClient

from inboxlink import errors
from inboxlink.adapters.imap import _fetch, _ids, convert
from inboxlink.adapters.imap import _imapclient_shim as shim
from inboxlink.adapters.imap.connection import Session, select_checked
from inboxlink.adapters.imap.errors import PROVIDER
from inboxlink.models import Folder, FolderRole, MessageSummary, Page
from inboxlink.query import SearchQuery, matches

__all__ = ["criteria", "delete", "find_replies", "move", "search", "select_checked", "selectable",
           "set_flag", "thread"]

R = TypeVar("R")
#: how the mailbox runs work on a pooled session (``reconnect=False`` for moves/deletes)
Runner = Callable[..., Any]
_Group = dict[tuple[str, int], list[tuple[str, int]]]


def _group(message_ids: Iterable[str], missing: list[str]) -> _Group:
    """Ids by (folder, UIDVALIDITY); malformed ids go to ``missing``."""
    groups: _Group = {}
    for value in message_ids:
        try:
            ref = _ids.parse_message_id(value)
        except errors.MessageNotFound:
            missing.append(value)
            continue
        groups.setdefault((ref.folder, ref.uidvalidity), []).append((value, ref.uid))
    return groups


def _chunks(items: Sequence[tuple[str, int]], size: int) -> Iterable[Sequence[tuple[str, int]]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _existing(client: IMAPClient, uids: Iterable[int]) -> set[int]:
    """Which of ``uids`` exist in the selected folder (one ``UID SEARCH UID <set>``)."""
    return {int(u) for u in client.search(["UID", _fetch.uid_set(uids)])}


def _each_group(run: Runner, message_ids: list[str], work: Callable[..., list[str]],
                **kwargs: Any) -> list[str]:
    """Run ``work(session, folder, validity, refs, **kwargs)`` per folder; the missing _ids."""
    missing: list[str] = []
    for (folder, validity), refs in _group(message_ids, missing).items():
        missing += run(lambda s, f=folder, v=validity, r=refs: work(s, f, v, r, **kwargs))
    return missing


# ---------------------------------------------------------------------------- flags
def _on_present(session: Session, folder: str, validity: int, refs: list[tuple[str, int]],
                chunk: int, act: Callable[[list[int]], None]) -> list[str]:
    """``act`` on the UIDs of ``refs`` that still exist, chunk by chunk (one SEARCH and one
    command each); returns the ids that do not."""
    if not select_checked(session, folder, validity, readonly=False):
        return [i for i, _ in refs]
    missing: list[str] = []
    for part in _chunks(refs, chunk):
        present = _existing(session.client, (uid for _, uid in part))
        missing += [i for i, uid in part if uid not in present]
        if present:
            act(sorted(present))
    return missing


def _flag_on(session: Session, folder: str, validity: int, refs: list[tuple[str, int]], *,
             flag: str, value: bool, chunk: int) -> list[str]:
    store = session.client.add_flags if value else session.client.remove_flags
    return _on_present(session, folder, validity, refs, chunk,
                       lambda uids: store(_fetch.uid_set(uids), [flag.encode("ascii")],
                                          silent=True))


def set_flag(run: Runner, message_ids: list[str], flag: str, value: bool, *,
             chunk: int) -> list[str]:
    """Add or remove ``flag``; the ids that do not exist."""
    return _each_group(run, message_ids, _flag_on, flag=flag, value=value, chunk=chunk)


# ---------------------------------------------------------------------------- move / delete
def _ordered(text: bytes) -> list[int]:
    """A UID set in the order written (COPYUID pairs source and destination by position)."""
    result: list[int] = []
    for part in text.split(b","):
        first, _, last = part.partition(b":")
        low, high = int(first), int(last or first)
        step = 1 if high >= low else -1
        result.extend(range(low, high + step, step))
    return result


def _copyuid(lines: Iterable[Any]) -> dict[int, tuple[int, int]]:
    """``COPYUID <validity> <source set> <destination set>`` → source UID → (validity, UID)."""
    mapping: dict[int, tuple[int, int]] = {}
    for line in lines:
        text = line if isinstance(line, bytes) else str(line).encode()
        text = text.split(b"]", 1)[0].replace(b"[COPYUID", b"").strip()
        parts = text.split()
        if len(parts) != 3:
            continue
        try:
            validity, sources, targets = int(parts[0]), _ordered(parts[1]), _ordered(parts[2])
        except ValueError:
            continue
        mapping.update({s: (validity, t) for s, t in zip(sources, targets, strict=False)})
    return mapping


def _move_on(session: Session, folder: str, validity: int, refs: list[tuple[str, int]], *,
             target: str, chunk: int, into: dict[str, str | None]) -> list[str]:
    if not select_checked(session, folder, validity, readonly=False):
        return [i for i, _ in refs]
    client = session.client
    missing: list[str] = []
    for part in _chunks(refs, chunk):
        present = _existing(client, (uid for _, uid in part))
        missing += [i for i, uid in part if uid not in present]
        if not present:
            continue
        uid_text = _fetch.uid_set(present)
        shim.pop_untagged(client, "COPYUID")
        if "MOVE" in session.capabilities:
            client.move(uid_text, target)
        else:
            client.copy(uid_text, target)
        # imaplib files COPYUID under its untagged responses whether it came in the tagged
        # OK (COPY) or an untagged OK (MOVE, RFC 6851).
        new = _copyuid(shim.pop_untagged(client, "COPYUID"))
        if "MOVE" not in session.capabilities:
            client.add_flags(uid_text, [b"\\Deleted"], silent=True)
            _expunge(session, uid_text)
        shim.forget_expunges(client)
        for value_id, uid in part:
            if uid in present:
                where = new.get(uid)
                into[value_id] = _ids.message_id(target, *where) if where else None
    return missing


def _expunge(session: Session, uid_text: str) -> None:
    if "UIDPLUS" not in session.capabilities:
        raise errors.UnsupportedOperation(
            "The server lacks UIDPLUS, so deleted messages cannot be expunged without also "
            "expunging what other clients marked deleted.", provider=PROVIDER,
            code="UIDPLUS", remedy="The messages are marked \\Deleted; expunge them in your "
            "mail client, or ask the administrator for a server with UIDPLUS.")
    session.client.uid_expunge(uid_text)


def move(run: Runner, message_ids: list[str], target: Folder, *,
         chunk: int) -> dict[str, str | None]:
    """Move into ``target``: old id → new id (None when the server does not say)."""
    moved: dict[str, str | None] = {}
    _each_group(run, message_ids, _move_on, target=target.id, chunk=chunk, into=moved)
    return moved


def _expunge_on(session: Session, folder: str, validity: int, refs: list[tuple[str, int]], *,
                chunk: int) -> list[str]:
    def expunge(uids: list[int]) -> None:
        uid_text = _fetch.uid_set(uids)
        session.client.add_flags(uid_text, [b"\\Deleted"], silent=True)
        _expunge(session, uid_text)
        shim.forget_expunges(session.client)

    return _on_present(session, folder, validity, refs, chunk, expunge)


def delete(run: Runner, message_ids: list[str], trash: Folder | None, *,
           chunk: int) -> list[str]:
    """Move to ``trash`` (``None``: expunge for good); ids already in Trash are expunged."""
    if trash is None:
        return _each_group(run, message_ids, _expunge_on, chunk=chunk)
    in_trash = [i for i in message_ids if i.rsplit(":", 2)[0] == trash.id]
    elsewhere = [i for i in message_ids if i not in set(in_trash)]
    missing = _each_group(run, in_trash, _expunge_on, chunk=chunk) if in_trash else []
    if elsewhere:
        moved = move(run, elsewhere, trash, chunk=chunk)
        missing += [i for i in elsewhere if i not in moved]
    return missing


# ---------------------------------------------------------------------------- search
def criteria(query: SearchQuery) -> list[Any]:
    """The IMAP SEARCH keys for ``query`` (a superset of its matches; dates widened a day
    each way because IMAP compares dates in the server's zone)."""
    keys: list[Any] = []
    if query.from_ is not None:
        keys += ["FROM", query.from_]
    if query.to is not None:
        keys += ["OR", "TO", query.to, "CC", query.to]
    if query.subject is not None:
        keys += ["SUBJECT", query.subject]
    if query.text is not None:
        keys += ["OR", "SUBJECT", query.text, "BODY", query.text]
    if query.since is not None:
        keys += ["SINCE", query.since.date() - dt.timedelta(days=1)]
    if query.before is not None:
        keys += ["BEFORE", query.before.date() + dt.timedelta(days=2)]
    if query.unread is not None:
        keys.append("UNSEEN" if query.unread else "SEEN")
    if query.flagged is not None:
        keys.append("FLAGGED" if query.flagged else "UNFLAGGED")
    if query.message_id is not None:
        keys += ["HEADER", "Message-ID", query.bracketed_message_id]
    return keys or ["ALL"]


def _charset(keys: list[Any]) -> str | None:
    return "UTF-8" if any(isinstance(k, str) and not k.isascii() for k in keys) else None


def _uid_search(client: IMAPClient, keys: list[Any]) -> list[int]:
    return sorted((int(u) for u in client.search(keys, charset=_charset(keys))), reverse=True)


def _summaries(session: Session, folder: str, uids: list[int],
               extra: tuple[str, ...] = ()) -> list[tuple[MessageSummary, dict[bytes, Any]]]:
    if not uids:
        return []
    data = _fetch.uid_fetch(session.client, _fetch.uid_set(uids), convert.SUMMARY_ITEMS + extra)
    validity = session.uidvalidity
    return [(convert.summary(_ids.message_id(folder, validity, uid), folder, data[uid]),
             data[uid]) for uid in uids if uid in data]


def _search_on(session: Session, folder: Folder, query: SearchQuery, limit: int,
               position: _ids.Cursor | None) -> Page[MessageSummary]:
    if not select_checked(session, folder.id, None):
        raise errors.FolderNotFound(f"The folder {folder.path!r} no longer exists.",
                                    provider=PROVIDER)
    if position is not None and position.uidvalidity != session.uidvalidity:
        raise errors.CursorExpired("The folder was rebuilt on the server (UIDVALIDITY "
                                   "changed).", provider=PROVIDER, code="UIDVALIDITY")
    found = _uid_search(session.client, criteria(query))
    if position is not None:
        found = [u for u in found if u < position.below]
    extra = ("BODYSTRUCTURE",) if query.has_attachments is not None else ()
    items: list[MessageSummary] = []
    examined = 0
    while examined < len(found) and len(items) < limit:
        step = found[examined:examined + limit - len(items)]
        examined += len(step)
        for item, data in _summaries(session, folder.id, step, extra):
            attached = None
            if extra:
                attached = bool(convert.attachment_sections(data.get(b"BODYSTRUCTURE")))
            if matches(query, item, has_attachments=attached):
                items.append(item)
    cursor = None
    if examined < len(found):
        cursor = _ids.encode_cursor(_ids.Cursor(folder.id, session.uidvalidity,
                                              found[examined - 1]))
    return Page(items=items, next_cursor=cursor)


def search(run: Runner, folder: Folder, query: SearchQuery, limit: int,
           cursor: str | None) -> Page[MessageSummary]:
    """One page of ``folder``'s messages matching ``query``, newest first."""
    position = _ids.decode_cursor(cursor) if cursor else None
    if position is not None and position.folder != folder.id:
        raise errors.CursorExpired("This cursor belongs to another folder's search.",
                                   provider=PROVIDER)
    result: Page[MessageSummary] = run(lambda s: _search_on(s, folder, query, limit, position))
    return result


# ---------------------------------------------------------------------------- replies
def selectable(folders: Iterable[Folder]) -> list[Folder]:
    """Folders that can hold messages (not ``\\Noselect``/``\\NonExistent`` parents)."""
    return [f for f in folders
            if not {a.lower() for a in f.attributes} & {"\\noselect", "\\nonexistent"}]


def _header_hits(session: Session, folder: Folder, keys: list[Any]) -> list[MessageSummary]:
    if not select_checked(session, folder.id, None):
        return []
    return [item for item, _ in _summaries(session, folder.id,
                                            _uid_search(session.client, keys))]


def _any_of(terms: list[list[Any]]) -> list[Any]:
    """``OR a OR b c`` for a list of search terms."""
    keys: list[Any] = list(terms[-1])
    for term in reversed(terms[:-1]):
        keys = ["OR", *term, *keys]
    return keys


def find_replies(run: Runner, folders: Iterable[Folder], message_id: str) -> list[MessageSummary]:
    """Candidates citing ``message_id`` in In-Reply-To or References, per folder (our own
    Sent and Drafts are never searched: replies come from others)."""
    folders = [f for f in folders if f.role not in (FolderRole.SENT, FolderRole.DRAFTS)]
    keys = _any_of([["HEADER", "In-Reply-To", message_id], ["HEADER", "References", message_id]])
    found: list[MessageSummary] = []
    for folder in selectable(folders):
        found += run(lambda s, f=folder: _header_hits(s, f, keys))
    return found


def thread(run: Runner, folders: list[Folder], message_id: str, *,
           rounds: int = 8) -> list[MessageSummary]:
    """The conversation: every message linked to ``message_id`` through Message-ID,
    In-Reply-To and References, followed in both directions with server-side searches."""
    known = {message_id}
    frontier = {message_id}
    members: dict[str, MessageSummary] = {}
    for _ in range(rounds):
        if not frontier:
            break
        terms = [["HEADER", name, value] for value in sorted(frontier)
                 for name in ("Message-ID", "In-Reply-To", "References")]
        keys = _any_of(terms)
        fresh: list[MessageSummary] = []
        for folder in selectable(folders):
            hits = run(lambda s, f=folder, k=keys: _header_hits(s, f, k))
            fresh += [s for s in hits if s.id not in members]
        linked = set()
        for item in fresh:
            # SEARCH HEADER is a substring match: keep only real links.
            item_ids = {item.message_id, item.in_reply_to, *item.references} - {None}
            if item_ids & known:
                members[item.id] = item
                linked |= {i for i in item_ids if i}
        frontier = linked - known
        known |= linked
    # INTERNALDATE has one-second resolution, so a quick reply ties with its original; the
    # caller's sort by date is stable, so hand the members over parents first.
    return sorted(members.values(), key=lambda s: len({*s.references, s.in_reply_to} - {None}))
