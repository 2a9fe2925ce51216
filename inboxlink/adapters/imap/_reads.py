"""The read primitives' work on one session: folders, a listing page, message bodies, a stream.

Each function runs on a session the mailbox lends it (inside its error boundary) and
returns models; the commands are in `_fetch`, the conversions in `convert`.
"""

from __future__ import annotations

import imaplib
import os
from typing import IO, Any

from inboxlink import errors
from inboxlink.adapters.imap import _fetch, _ids, convert
from inboxlink.adapters.imap import _imapclient_shim as shim
from inboxlink.adapters.imap.connection import Session, select_checked
from inboxlink.adapters.imap.errors import PROVIDER
from inboxlink.models import Folder, Message, MessageSummary, Page, save_stream

__all__ = ["bodies_on", "folders_on", "page_on", "stream_on"]


def folders_on(session: Session) -> list[Folder]:
    """Every folder, with the roles the server states for the user's own ones.

    Where the server offers SPECIAL-USE (or LIST-EXTENDED), the attributes are asked for
    with ``LIST "" "*" RETURN (SPECIAL-USE)``: RFC 6154 lets a server leave them off a plain
    LIST. Folders outside the personal namespace (NAMESPACE, RFC 2342) never take a role.
    """
    client = session.client
    capabilities = session.capabilities
    rows = None
    if "SPECIAL-USE" in capabilities or "LIST-EXTENDED" in capabilities:
        try:
            rows = convert.list_rows(shim.list_special_use(client), client.folder_encode)
        except imaplib.IMAP4.error as exc:
            if isinstance(exc, imaplib.IMAP4.abort):
                raise
            # A server advertising SPECIAL-USE without the extended LIST syntax may refuse
            # the RETURN option (a clean tagged BAD): its plain LIST then carries the roles.
            rows = None
    if rows is None:
        rows = client.xlist_folders() if "XLIST" in capabilities else client.list_folders()
    if session.namespaces is None:
        session.namespaces = _namespaces(session) if "NAMESPACE" in capabilities else ([], [])
    personal, foreign = session.namespaces
    return [convert.folder(flags, delimiter, name,
                           personal=convert.is_personal(name, personal, foreign))
            for flags, delimiter, name in rows]


def _namespaces(session: Session) -> tuple[list[convert.Namespace], list[convert.Namespace]]:
    """The personal namespaces, and the other users' and shared ones (RFC 2342)."""
    found = session.client.namespace()

    def pairs(group: Any) -> list[convert.Namespace]:
        return [(_text(prefix), _text(delimiter) if delimiter is not None else None)
                for prefix, delimiter in (group or ())]

    return pairs(found.personal), pairs(found.other) + pairs(found.shared)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def page_on(session: Session, folder: Folder, limit: int,
            position: _ids.Cursor | None) -> Page[MessageSummary]:
    """One listing page, newest first, below ``position`` when continuing."""
    # A continuing page may reuse the selection: UIDVALIDITY cannot change while a
    # folder is selected, and new arrivals (above the cursor) do not concern it.
    session.select(folder.id, refresh=position is None)
    if position is not None and position.uidvalidity != session.uidvalidity:
        raise errors.CursorExpired(
            f"The folder {folder.path!r} was rebuilt on the server (UIDVALIDITY changed "
            f"from {position.uidvalidity} to {session.uidvalidity}).", provider=PROVIDER,
            code="UIDVALIDITY",
        )
    if session.exists == 0 or (position is not None and position.below <= 1):
        return Page(items=())
    chunk, more = _fetch.newest_uids(session.client, position.below if position else None,
                                     limit, esearch="ESEARCH" in session.capabilities)
    if not chunk:
        return Page(items=())
    data = _fetch.uid_fetch(session.client, _fetch.uid_set(chunk), convert.SUMMARY_ITEMS)
    validity = session.uidvalidity
    items = [convert.summary(_ids.message_id(folder.id, validity, uid), folder.id, data[uid])
             for uid in chunk if uid in data]
    next_cursor = None
    if more:
        next_cursor = _ids.encode_cursor(_ids.Cursor(folder.id, validity, chunk[-1]))
    return Page(items=items, next_cursor=next_cursor)


def bodies_on(session: Session, folder: str, group: list[_ids.MessageRef],
              chunk: int) -> dict[str, Message]:
    """The messages of ``group`` (one folder) still there, by id, ``chunk`` UIDs per FETCH."""
    validity = group[0].uidvalidity
    if not select_checked(session, folder, validity):
        return {}
    wanted = sorted({r.uid for r in group if r.uidvalidity == validity})
    result: dict[str, Message] = {}
    for start in range(0, len(wanted), chunk):
        data = _fetch.uid_fetch(session.client, _fetch.uid_set(wanted[start:start + chunk]),
                                ("UID", "FLAGS", "BODY.PEEK[]"))
        for uid, item in data.items():
            message_id = _ids.message_id(folder, validity, uid)
            found = convert.message(message_id, folder, item)
            if found is not None:
                result[message_id] = found
    return result


def stream_on(session: Session, ref: _ids.MessageRef,
              target: str | os.PathLike[str] | IO[bytes], step: int) -> int:
    """The raw message written to ``target`` in partial FETCHes of ``step`` bytes."""
    if not select_checked(session, ref.folder, ref.uidvalidity):
        raise _ids.gone(ref)
    if ref.uid not in _fetch.uid_fetch(session.client, str(ref.uid), ("UID",)):
        raise _ids.gone(ref)
    return save_stream(_fetch.section_chunks(session.client, ref.uid, "", step), target)
