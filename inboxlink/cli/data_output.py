"""What the data commands (``changes``, ``search``, ``mark``, ``mv``, ``rm``, ``watch`` …)
print, and where: data on stdout, errors and progress on stderr.

The JSON shapes built here are the documented, stable ``--json`` schema (``docs/cli.md``):
fields are only ever added, never renamed or removed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from inboxlink.changes import ChangeHint, ChangeSet
from inboxlink.models import Address, Folder, Message, MessageSummary, SendResult

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["EXIT_CODES", "EXIT_PARTIAL", "EXIT_TOKEN_EXPIRED", "address_json", "batch_json", "changes_json",
           "escape", "folder_json", "hint_json", "message_json", "print_data", "print_json",
           "send_json", "stderr_console", "summary_json", "summary_line"]

#: a bulk action was done on every id that exists, but some ids do not exist
EXIT_PARTIAL = 4
#: ``changes`` was given a token the provider no longer knows: take a new ``sync-token``
EXIT_TOKEN_EXPIRED = 3

#: every exit code of the data commands and what it means (documented in docs/cli.md)
EXIT_CODES: Mapping[int, str] = {
    0: "done",
    1: "failed: a typed error with its remedy is on stderr",
    2: "usage error (bad option or argument)",
    EXIT_TOKEN_EXPIRED: "the sync token expired: take a new one with sync-token and re-list",
    EXIT_PARTIAL: "some ids were not found; every other id was acted on",
    130: "interrupted (Ctrl-C)",
}


def stderr_console() -> Console:
    """A console on standard error for errors, warnings and progress.

    Made when needed (not once at import) so it writes to whatever ``sys.stderr`` is then.
    """
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def escape(text: str) -> str:
    """``text`` shown literally in rich markup (a folder named ``[work]`` is not a style)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def print_data(console: Console, text: str) -> None:
    """One line of data on stdout, exactly as given: no markup, wrapping or cropping,
    so scripts can read it (a token with brackets or quotes stays intact)."""
    console.out(text, highlight=False)


def print_json(console: Console, value: Any) -> None:
    """One JSON document on one line (JSON Lines friendly)."""
    print_data(console, json.dumps(value, ensure_ascii=False, sort_keys=False))


def _when(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def address_json(address: Address | None) -> dict[str, str | None] | None:
    """``{"email", "name"}`` or ``None``."""
    if address is None:
        return None
    return {"email": address.email, "name": address.name}


def summary_json(summary: MessageSummary) -> dict[str, Any]:
    """A message summary as JSON (the ``message`` object of the schema)."""
    return {
        "id": summary.id,
        "folder_id": summary.folder_id,
        "message_id": summary.message_id,
        "subject": summary.subject,
        "from": address_json(summary.from_),
        "to": [address_json(a) for a in summary.to],
        "cc": [address_json(a) for a in summary.cc],
        "date": _when(summary.date),
        "received_at": _when(summary.received_at),
        "in_reply_to": summary.in_reply_to,
        "references": list(summary.references),
        "flags": sorted(summary.flags),
        "seen": summary.seen,
        "flagged": "\\Flagged" in summary.flags,
        "size": summary.size,
        "thread_id": summary.thread_id,
    }


def folder_json(folder: Folder) -> dict[str, Any]:
    """A folder as JSON (the ``folder`` object of the schema; ``role`` and ``role_source``
    are the enum values, e.g. ``"sent"`` / ``"special-use"``)."""
    return {
        "id": folder.id,
        "path": folder.path,
        "name": folder.name,
        "role": folder.role.value if folder.role is not None else None,
        "role_source": folder.role_source.value if folder.role_source is not None else None,
        "parent_id": folder.parent_id,
        "total": folder.total,
        "unread": folder.unread,
    }


def message_json(message: Message) -> dict[str, Any]:
    """A full message as JSON: the ``message`` object's header fields, plus ``text``,
    ``html`` and ``attachments`` (``{"filename", "content_type", "size", "inline"}``).
    Fields a full message does not carry (``received_at``, ``size`` of the summary) are
    ``null``; ``size`` is the raw byte count."""
    return {
        "id": message.id,
        "folder_id": message.folder_id,
        "message_id": message.message_id,
        "subject": message.subject,
        "from": address_json(message.from_),
        "to": [address_json(a) for a in message.to],
        "cc": [address_json(a) for a in message.cc],
        "date": _when(message.date),
        "received_at": None,
        "in_reply_to": message.in_reply_to,
        "references": list(message.references),
        "flags": sorted(message.flags),
        "seen": "\\Seen" in message.flags,
        "flagged": "\\Flagged" in message.flags,
        "size": len(message.raw),
        "thread_id": message.thread_id,
        "text": message.text,
        "html": message.html,
        "attachments": [{"filename": a.filename, "content_type": a.content_type,
                         "size": len(a.data), "inline": a.inline}
                        for a in message.attachments],
    }


def send_json(result: SendResult) -> dict[str, Any]:
    """What ``send --json`` prints: ``{"message_id", "sent_copy", "sent_folder_id",
    "refused": {address: reply}, "warning": {"error", "code", "remedy"} | null}``."""
    warning = None
    if result.error is not None:
        warning = {"error": type(result.error).__name__, "code": result.error.code,
                   "message": result.error.message, "remedy": result.error.remedy}
    return {"message_id": result.message_id, "sent_copy": result.sent_copy.value,
            "sent_folder_id": result.sent_folder_id, "refused": dict(result.refused),
            "warning": warning}


def batch_json(batch: ChangeSet) -> dict[str, Any]:
    """The changes of a `ChangeSet` as JSON: added/updated messages and removed ids."""
    return {
        "added": [summary_json(s) for s in batch.added],
        "updated": [summary_json(s) for s in batch.updated],
        "removed": list(batch.removed),
    }


def changes_json(folder: Folder, batch: ChangeSet) -> dict[str, Any]:
    """A `ChangeSet` as JSON: added/updated messages, removed ids, token, more."""
    return {"folder": folder.path, "folder_id": folder.id, **batch_json(batch),
            "token": batch.token, "more": batch.more}


def hint_json(folder: Folder, hint: ChangeHint) -> dict[str, Any]:
    """A `ChangeHint` as JSON."""
    return {"event": "hint", "folder": folder.path, "folder_id": hint.folder_id,
            "reason": hint.reason, "at": hint.at.isoformat()}


def summary_line(mark: str, summary: MessageSummary) -> str:
    """``MARK  ID  DATE  FROM  SUBJECT`` — one message on one line, columns split by two
    spaces (a mark of ``+`` added, ``~`` updated, ``-`` removed, ``*`` found)."""
    when = summary.received_at or summary.date
    return "  ".join((mark, summary.id, when.strftime("%Y-%m-%d %H:%M") if when else "-",
                      str(summary.from_ or "-"), summary.subject or ""))
