"""The IMAP change feed: ``sync_token`` and ``changes`` on CONDSTORE/QRESYNC, or on UIDs.

Native path (the server offers QRESYNC, RFC 7162 — Dovecot does): the token holds the
folder, its UIDVALIDITY, HIGHESTMODSEQ and UIDNEXT. One ``EXAMINE folder (QRESYNC
(uidvalidity modseq))`` answers with ``VANISHED (EARLIER)`` for what left and a FETCH of
UID/FLAGS/MODSEQ for every message changed or added since; one ``UID FETCH`` then reads the
summaries of the page. A no-change call is that single EXAMINE (plus ``ENABLE QRESYNC``
once per connection) — or, on a connection that has the folder open already (a sync loop),
``NOOP`` + ``UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE m VANISHED)``, which spares the server
re-opening the folder.

Fallback (no QRESYNC): the token also carries the folder's UIDs and the UIDs holding each
tracked system flag, as compact sets (``1:500,502``). One EXAMINE and one
``UID FETCH 1:* (UID FLAGS)`` give the current state; the difference is the change set.
It costs bytes in proportion to the folder (and a token that grows with it), which is why
the native path is preferred.

Paging: when more changes wait than ``limit``, the native token keeps the round's base
mod-sequence, the HIGHESTMODSEQ the round ends at (``snapshot``) and the last change handed
out; the fallback token simply records what was handed out. Changes made during a round are
reported by the next round at the latest, so nothing is skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import attrs
from imapclient.response_parser import parse_fetch_response

from inboxlink import errors
from inboxlink.adapters.imap import _fetch, _ids, convert
from inboxlink.adapters.imap import _imapclient_shim as shim
from inboxlink.adapters.imap.connection import Session
from inboxlink.adapters.imap.errors import PROVIDER
from inboxlink.changes import ChangeSet
from inboxlink.models import Folder, MessageSummary

__all__ = ["TRACKED_FLAGS", "Token", "changes", "decode_token", "encode_token", "sync_token",
           "uses_qresync"]

#: flags whose change makes a message "updated" on the fallback path (keywords are not
#: tracked there: the token would grow with every custom keyword)
TRACKED_FLAGS = ("\\Seen", "\\Flagged", "\\Answered", "\\Draft", "\\Deleted")
#: untagged answers to NOOP that mean the open folder cannot be trusted any more
_TROUBLE = ("NO", "BAD", "BYE", "UIDVALIDITY", "CLOSED")
#: a VANISHED answer larger than this is treated as a forgotten state (re-list instead)
_MAX_VANISHED = 1_000_000


@attrs.frozen
class Token:
    """What a sync token says (see the module docstring)."""

    folder: str
    uidvalidity: int
    uidnext: int
    #: HIGHESTMODSEQ the token stands at; ``None`` for a fallback (UID set) token
    modseq: int | None = None
    #: native paging: the HIGHESTMODSEQ the current round ends at
    snapshot: int | None = None
    #: native paging: the last change handed out, as its sort key
    after: tuple[int, int, int] | None = None
    #: native paging: UIDNEXT when the round began
    round_uidnext: int | None = None
    #: fallback: the folder's UIDs, and for each tracked flag the UIDs holding it
    uids: str = ""
    flags: dict[str, str] = attrs.field(factory=dict)


def encode_token(token: Token) -> str:
    """The opaque string form: compact JSON (JSON-safe, readable when debugging)."""
    data: dict[str, Any] = {"folder": token.folder, "uidvalidity": token.uidvalidity,
                            "uidnext": token.uidnext}
    if token.modseq is not None:
        data["highestmodseq"] = token.modseq
        if token.snapshot is not None:
            data["round"] = [token.snapshot, list(token.after or ()), token.round_uidnext]
    else:
        data["uids"] = token.uids
        data["flags"] = token.flags
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _expired(message: str, code: str = "bad-token") -> errors.SyncTokenExpired:
    return errors.SyncTokenExpired(message, provider=PROVIDER, code=code)


def decode_token(value: str, folder: Folder) -> Token:
    """Parse a token of ``folder``; anything else is ``SyncTokenExpired``, never a wrong feed."""
    try:
        data = json.loads(value)
        token = Token(folder=str(data["folder"]), uidvalidity=int(data["uidvalidity"]),
                      uidnext=int(data["uidnext"]))
        if "highestmodseq" in data:
            snapshot, after, round_next = data.get("round") or (None, None, None)
            token = attrs.evolve(
                token, modseq=int(data["highestmodseq"]),
                snapshot=None if snapshot is None else int(snapshot),
                after=tuple(int(x) for x in after) if after else None,  # type: ignore[arg-type]
                round_uidnext=None if round_next is None else int(round_next))
        else:
            flags = {str(k): str(v) for k, v in dict(data["flags"]).items()}
            _expand(str(data["uids"]).encode())  # validates the set
            for text in flags.values():
                _expand(text.encode())
            token = attrs.evolve(token, uids=str(data["uids"]), flags=flags)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _expired("This is not a sync token of the IMAP adapter.") from exc
    if token.folder != folder.id:
        raise _expired(f"This sync token belongs to the folder {token.folder!r}, "
                       f"not {folder.id!r}.", code="other-folder")
    if token.after is not None and len(token.after) != 3:
        raise _expired("This is not a sync token of the IMAP adapter.")
    return token


def uses_qresync(session: Session) -> bool:
    """Whether the native feed is available on this server."""
    return {"QRESYNC", "ENABLE"} <= session.capabilities


def _expand(text: bytes) -> set[int]:
    """A compact UID set (``1:3,7``) as Python ints; ``b''`` is empty."""
    result: set[int] = set()
    if not text:
        return result
    for part in text.split(b","):
        first, _, last = part.partition(b":")
        low, high = sorted((int(first), int(last or first)))
        if low < 1 or high - low + len(result) > _MAX_VANISHED:
            raise ValueError("UID set out of range")
        result.update(range(low, high + 1))
    return result


# ---------------------------------------------------------------------------- native
def _enable(session: Session) -> None:
    """``ENABLE QRESYNC`` once per connection (only legal with nothing selected)."""
    if session.qresync:
        return
    if shim.is_selected(session.client):
        # UNSELECT leaves without expunging; CLOSE would expunge \Deleted mail of a
        # writable selection, so without UNSELECT the folder is re-opened read-only first.
        if "UNSELECT" in session.capabilities:
            session.client.unselect_folder()
        else:
            session.client.select_folder(session.selected or "INBOX", readonly=True)
            session.client.close_folder()
    session.selected = None
    session.client.enable("QRESYNC")
    session.qresync = True


def _number(responses: dict[str, list[Any]], name: str) -> int:
    values = responses.get(name) or [b"0"]
    return int(values[-1])


def _examine(session: Session, folder: Folder, parameters: str = "") -> dict[str, list[Any]]:
    responses = shim.examine(session.client, folder.id, parameters)
    session.selected = folder.id
    session.readonly = True
    session.uidvalidity = _number(responses, "UIDVALIDITY")
    session.exists = _number(responses, "EXISTS")
    session.uidnext = _number(responses, "UIDNEXT")
    session.highestmodseq = _number(responses, "HIGHESTMODSEQ")
    return responses


def _native_token(session: Session, folder: Folder) -> Token:
    _enable(session)
    responses = _examine(session, folder)
    modseq = _number(responses, "HIGHESTMODSEQ")
    if modseq == 0:  # NOMODSEQ: this folder keeps no mod-sequences
        return _fallback_token(session, folder)
    return Token(folder.id, session.uidvalidity, session.uidnext, modseq=modseq)


def _changed_keys(fetch_lines: list[Any], snapshot: int | None) -> list[tuple[int, int, int]]:
    """``(1, modseq, uid)`` for every FETCH answer (at or below ``snapshot`` if given)."""
    keys = []
    for uid, item in parse_fetch_response(fetch_lines, False, True).items():
        modseq = int((item.get(b"MODSEQ") or (0,))[0])
        if isinstance(uid, int) and (snapshot is None or modseq <= snapshot):
            keys.append((1, modseq, uid))
    return sorted(keys)


def _warm_changes(session: Session, folder: Folder, token: Token,
                  limit: int) -> ChangeSet | None:
    """The cheap path on a connection that has the folder open already: ``NOOP`` (the
    server brings this connection's view up to date) and one
    ``UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE m VANISHED)``. A no-change call costs those
    two commands, well under a millisecond on Dovecot, where re-opening a 10,000-message
    folder costs tens. ``None`` when something was expunged: the expunges' mod-sequence is
    not reported here, so the full EXAMINE (QRESYNC) path gives the next token."""
    assert token.modseq is not None
    client = session.client
    client.noop()
    # A folder deleted (and maybe re-created) under this connection shows only as an untagged
    # NO or BYE here (Dovecot: "Internal error"), or a new UIDVALIDITY: re-open it instead.
    trouble = [shim.pop_untagged(client, name) for name in _TROUBLE]
    shim.forget_expunges(client)  # VANISHED (EARLIER) below reports them again, by modseq
    if any(trouble):
        session.selected = None
        return None
    lines = shim.raw_command(client, "UID", "FETCH", "1:*", "(UID FLAGS)",
                             f"(CHANGEDSINCE {token.modseq} VANISHED)", untagged="FETCH")
    if shim.pop_untagged(client, "VANISHED"):
        return None
    keys = _changed_keys(lines, None)
    if not keys:
        return ChangeSet(token=encode_token(token))
    # Every message added since the token has a mod-sequence above it, so it is in ``keys``.
    uidnext = max(token.uidnext, max(uid for _, _, uid in keys) + 1)
    snapshot = max(m for _, m, _ in keys)
    session.highestmodseq = max(session.highestmodseq, snapshot)  # the server is at least there
    return _native_page(session, folder, token, keys, snapshot=snapshot, round_next=uidnext,
                        limit=limit)


def _native_changes(session: Session, folder: Folder, token: Token, limit: int) -> ChangeSet:
    assert token.modseq is not None
    _enable(session)
    if (token.snapshot is None and session.selected == folder.id
            and session.uidvalidity == token.uidvalidity
            and 0 < token.modseq <= session.highestmodseq):
        quick = _warm_changes(session, folder, token, limit)
        if quick is not None:
            return quick
    responses = _examine(session, folder, f"(QRESYNC ({token.uidvalidity} {token.modseq}))")
    _check_validity(session, token)
    highest = _number(responses, "HIGHESTMODSEQ")
    snapshot = token.snapshot if token.snapshot is not None else highest
    if highest < max(token.modseq, snapshot):
        raise _expired("The server's folder state is older than the sync token (restored "
                       "from a backup?).", code="HIGHESTMODSEQ")
    vanished: set[int] = set()
    try:
        for line in responses.get("VANISHED", []):
            vanished |= _expand(bytes(line).replace(b"(EARLIER)", b"").strip())
    except ValueError as exc:
        raise _expired("The server no longer knows what was removed since this token.",
                       code="VANISHED") from exc
    keys = [(0, uid, 0) for uid in sorted(vanished)]
    keys += _changed_keys(responses.get("FETCH", []), snapshot)
    round_next = token.round_uidnext if token.round_uidnext is not None else session.uidnext
    return _native_page(session, folder, token, keys, snapshot=snapshot, round_next=round_next,
                        limit=limit)


def _native_page(session: Session, folder: Folder, token: Token,
                 keys: list[tuple[int, int, int]], *, snapshot: int, round_next: int,
                 limit: int) -> ChangeSet:
    """The page after ``token.after`` of the round's ordered changes, and the next token."""
    if token.after is not None:
        keys = [k for k in keys if k > token.after]
    page, more = keys[:limit], len(keys) > limit
    changed_uids = [k[2] for k in page if k[0] == 1]
    batch = _summaries(session, folder, {u for u in changed_uids if u >= token.uidnext},
                       removed=[k[1] for k in page if k[0] == 0], changed=changed_uids)
    if more:
        after = page[-1]
        next_token = attrs.evolve(token, snapshot=snapshot, after=(after[0], after[1], after[2]),
                                  round_uidnext=round_next)
    else:
        next_token = Token(folder.id, token.uidvalidity, round_next, modseq=snapshot)
    return attrs.evolve(batch, token=encode_token(next_token), more=more)


# ---------------------------------------------------------------------------- fallback
def _flag_names(item: dict[bytes, Any]) -> set[str]:
    return {f.decode("utf-8", "replace") if isinstance(f, bytes) else str(f)
            for f in item.get(b"FLAGS", ())}


def _state(session: Session) -> dict[int, set[str]]:
    """Every UID of the selected folder with its tracked flags (one UID FETCH)."""
    if session.exists == 0:
        return {}
    data = _fetch.uid_fetch(session.client, "1:*", ("UID", "FLAGS"))
    return {uid: _flag_names(item) & set(TRACKED_FLAGS) for uid, item in data.items()}


def _state_token(folder: Folder, validity: int, uidnext: int,
                 state: dict[int, set[str]]) -> Token:
    flags = {flag: _fetch.uid_set(u for u, held in state.items() if flag in held)
             for flag in TRACKED_FLAGS}
    return Token(folder.id, validity, uidnext, uids=_fetch.uid_set(state),
                 flags={k: v for k, v in flags.items() if v})


def _fallback_token(session: Session, folder: Folder) -> Token:
    session.select(folder.id)
    return _state_token(folder, session.uidvalidity, session.uidnext, _state(session))


def _fallback_changes(session: Session, folder: Folder, token: Token, limit: int) -> ChangeSet:
    session.select(folder.id)
    _check_validity(session, token)
    known: dict[int, set[str]] = {uid: set() for uid in _expand(token.uids.encode())}
    for flag, text in token.flags.items():
        for uid in _expand(text.encode()):
            if uid in known:
                known[uid].add(flag)
    current = _state(session)
    keys = [(0, uid) for uid in sorted(known.keys() - current.keys())]
    keys += [(1, uid) for uid in sorted(known.keys() & current.keys())
             if known[uid] != current[uid]]
    keys += [(2, uid) for uid in sorted(current.keys() - known.keys())]
    page, more = keys[:limit], len(keys) > limit
    batch = _summaries(session, folder, {u for kind, u in page if kind == 2},
                       removed=[u for kind, u in page if kind == 0],
                       changed=[u for kind, u in page if kind != 0])
    # The next token is exactly the old state with this page applied.
    for kind, uid in page:
        if kind == 0:
            known.pop(uid, None)
        else:
            known[uid] = current[uid]
    uidnext = session.uidnext if not more else token.uidnext
    return attrs.evolve(batch, more=more, token=encode_token(
        _state_token(folder, token.uidvalidity, uidnext, known)))


# ---------------------------------------------------------------------------- shared
def _check_validity(session: Session, token: Token) -> None:
    if session.uidvalidity != token.uidvalidity:
        raise _expired(
            f"The folder {token.folder!r} was rebuilt on the server (UIDVALIDITY changed from "
            f"{token.uidvalidity} to {session.uidvalidity}).", code="UIDVALIDITY")


def _summaries(session: Session, folder: Folder, new: set[int], *, removed: Iterable[int],
               changed: list[int]) -> ChangeSet:
    """The page as a ChangeSet: summaries of ``changed`` UIDs (one UID FETCH); those in
    ``new`` are added, the others updated; a UID gone meanwhile is removed."""
    validity = session.uidvalidity
    data = _fetch.uid_fetch(session.client, _fetch.uid_set(changed),
                          convert.SUMMARY_ITEMS) if changed else {}
    added: list[MessageSummary] = []
    updated: list[MessageSummary] = []
    gone = list(removed)
    for uid in changed:
        if uid not in data:
            gone.append(uid)
            continue
        item = convert.summary(_ids.message_id(folder.id, validity, uid), folder.id, data[uid])
        (added if uid in new else updated).append(item)
    return ChangeSet(added=added, updated=updated,
                     removed=[_ids.message_id(folder.id, validity, uid) for uid in gone])


def sync_token(session: Session, folder: Folder) -> str:
    """A token for "now" in ``folder``."""
    token = _native_token(session, folder) if uses_qresync(session) else \
        _fallback_token(session, folder)
    return encode_token(token)


def changes(session: Session, folder: Folder, value: str, limit: int) -> ChangeSet:
    """Changes in ``folder`` since the token ``value``, at most ``limit`` of them."""
    token = decode_token(value, folder)
    if token.modseq is not None:
        if not uses_qresync(session):
            raise _expired("This sync token needs QRESYNC, which the server no longer offers.",
                           code="QRESYNC")
        return _native_changes(session, folder, token, limit)
    return _fallback_changes(session, folder, token, limit)
