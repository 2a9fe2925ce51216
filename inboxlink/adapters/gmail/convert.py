"""Gmail JSON resources → inboxlink models (labels → folders, metadata → summaries)."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterable, Mapping
from typing import IO, Any

from inboxlink import mime
from inboxlink.headers import decode_words, parse_addresses, parse_date
from inboxlink.models import Folder, FolderRole, MessageSummary, RoleSource

__all__ = [
    "ARCHIVE_ID",
    "LOCATION_LABELS",
    "METADATA_HEADERS",
    "SYSTEM_ROLES",
    "b64decode",
    "b64encode",
    "flags_for",
    "folder_for",
    "folders_from_labels",
    "in_folder",
    "list_scope",
    "summary_from_metadata",
    "write_raw_field",
]

#: Gmail system labels that are folders, with the role each one is
SYSTEM_ROLES: Mapping[str, FolderRole] = {
    "INBOX": FolderRole.INBOX,
    "SENT": FolderRole.SENT,
    "DRAFT": FolderRole.DRAFTS,
    "TRASH": FolderRole.TRASH,
    "SPAM": FolderRole.JUNK,
    "STARRED": FolderRole.FLAGGED,
    "IMPORTANT": FolderRole.IMPORTANT,
}

#: The Archive folder. Gmail has no archive label: "archiving" removes INBOX and the message
#: stays in All Mail. This virtual folder is All Mail minus Inbox, Drafts, Spam and Trash
#: (sent mail not in the Inbox is in it), listed with ``q=`` instead of a label id.
ARCHIVE_ID = "ARCHIVE"
_ARCHIVE_QUERY = "-in:inbox -in:drafts"

#: labels that say *where* a message is (as opposed to tags such as STARRED or UNREAD);
#: ``move()`` takes a message out of these and into the target
LOCATION_LABELS = ("INBOX", "SPAM", "TRASH")

# Messages with these labels are listed only in their own folder (Gmail's includeSpamTrash).
_HIDDEN = frozenset({"SPAM", "TRASH"})
_NOT_ARCHIVED = frozenset({"INBOX", "DRAFT", "SPAM", "TRASH"})

#: the only headers a summary needs: messages.get(format=metadata) returns just these
METADATA_HEADERS: tuple[str, ...] = (
    "Subject", "From", "To", "Cc", "Date", "Message-ID", "In-Reply-To", "References",
)

# Which label a message "is in" when it has several, most telling first.
_HOME_ORDER = ("DRAFT", "SENT", "INBOX", "SPAM", "TRASH")

_LABEL_FLAGS: Mapping[str, str] = {"STARRED": "\\Flagged", "DRAFT": "\\Draft"}


def folders_from_labels(labels: Iterable[Mapping[str, Any]]) -> list[Folder]:
    """Folders for the mailbox's labels: system folders with roles, then user labels.

    Flag-like system labels (UNREAD, CHAT, CATEGORY_*) are not folders. Nested user labels
    use ``/`` in their names; a label's parent is the label named by its name's prefix.
    """
    labels = list(labels)
    by_name = {str(lb.get("name")): str(lb.get("id")) for lb in labels if lb.get("type") == "user"}
    result: list[Folder] = []
    for label in labels:
        label_id = str(label.get("id"))
        name = str(label.get("name") or label_id)
        if label.get("type") == "system":
            role = SYSTEM_ROLES.get(label_id)
            if role is None:
                continue
            result.append(Folder(id=label_id, name=name, path=name, role=role,
                                 role_source=RoleSource.PROVIDER, attributes={"system"}))
            continue
        parent_name, _, leaf = name.rpartition("/")
        result.append(Folder(id=label_id, name=leaf or name, path=name,
                             parent_id=by_name.get(parent_name) if parent_name else None,
                             attributes={"user"}))
    result.append(Folder(id=ARCHIVE_ID, name="Archive", path=ARCHIVE_ID,
                         role=FolderRole.ARCHIVE, role_source=RoleSource.PROVIDER,
                         attributes={"virtual"}))
    order = [*SYSTEM_ROLES, ARCHIVE_ID]
    result.sort(key=lambda f: (0, order.index(f.id)) if f.id in order else (1, f.path))
    return result


def in_folder(folder_id: str, label_ids: Iterable[str]) -> bool:
    """Whether a message with these labels is listed in ``folder_id`` (Spam and Trash hide
    a message from every other folder, as ``messages.list`` does)."""
    labels = set(label_ids)
    if folder_id == ARCHIVE_ID:
        return not labels & _NOT_ARCHIVED
    if folder_id in _HIDDEN:
        return folder_id in labels
    return folder_id in labels and not labels & _HIDDEN


def list_scope(folder_id: str) -> dict[str, Any]:
    """The ``messages.list`` arguments that select ``folder_id`` (a label, or the archive)."""
    if folder_id == ARCHIVE_ID:
        return {"q": _ARCHIVE_QUERY}
    return {"labelIds": [folder_id], "includeSpamTrash": folder_id in _HIDDEN}


def flags_for(label_ids: Iterable[str]) -> frozenset[str]:
    """IMAP-style flags from a message's labels (no UNREAD label = ``\\Seen``)."""
    labels = set(label_ids)
    flags = {flag for label, flag in _LABEL_FLAGS.items() if label in labels}
    if "UNREAD" not in labels:
        flags.add("\\Seen")
    return frozenset(flags)


def folder_for(label_ids: Iterable[str], default: str = "") -> str:
    """The folder (label id) a message is reported in."""
    labels = list(label_ids)
    for candidate in _HOME_ORDER:
        if candidate in labels:
            return candidate
    return default or (labels[0] if labels else "")


def _subject(value: str | None) -> str | None:
    return None if value is None else decode_words(value)


def summary_from_metadata(message: Mapping[str, Any], folder_id: str) -> MessageSummary:
    """A summary from a ``messages.get(format=metadata)`` resource."""
    headers: dict[str, str] = {}
    for header in (message.get("payload") or {}).get("headers") or ():
        # The first occurrence wins, as in a parsed message.
        headers.setdefault(str(header.get("name", "")).lower(), str(header.get("value", "")))
    labels = message.get("labelIds") or ()
    internal = message.get("internalDate")
    received = (dt.datetime.fromtimestamp(int(internal) / 1000, dt.timezone.utc)
                if internal else None)
    sender = parse_addresses(headers.get("from"))
    in_reply_to = mime.split_msgids(headers.get("in-reply-to"))
    message_ids = mime.split_msgids(headers.get("message-id"))
    return MessageSummary(
        id=str(message["id"]),
        folder_id=folder_id,
        subject=_subject(headers.get("subject")),
        from_=sender[0] if sender else None,
        to=parse_addresses(headers.get("to")),
        cc=parse_addresses(headers.get("cc")),
        date=parse_date(headers.get("date")),
        received_at=received,
        message_id=message_ids[0] if message_ids else (headers.get("message-id") or None),
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=mime.split_msgids(headers.get("references")),
        flags=flags_for(labels),
        size=message.get("sizeEstimate"),
        thread_id=message.get("threadId"),
    )


def b64encode(raw: bytes) -> str:
    """base64url, as Gmail's ``raw`` field wants it."""
    return base64.urlsafe_b64encode(raw).decode("ascii")


def b64decode(data: str | bytes) -> bytes:
    """Decode Gmail's base64url ``raw`` (padded or not)."""
    if isinstance(data, str):
        data = data.encode("ascii")
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


#: base64 characters decoded per write (a multiple of 4): 256 KiB in, 192 KiB out
_CHUNK = 256 * 1024


def write_raw_field(body: bytes, target: IO[bytes], key: str = "raw") -> int:
    """Decode the base64url string ``key`` (``"raw"``, or an attachment's ``"data"``) of a
    JSON body straight into ``target``, piece by piece.

    Neither the decoded content nor a parsed JSON copy is ever held whole. Base64url has
    no quotes or backslashes, so the field is the bytes between two quotes.
    """
    quoted = f'"{key}"'.encode()
    at = body.find(quoted)
    if at < 0:
        raise ValueError(f"the response has no {key!r} field")
    start = body.index(b'"', body.index(b":", at + len(quoted))) + 1
    end = body.index(b'"', start)
    view = memoryview(body)[start:end]
    written = 0
    for offset in range(0, len(view), _CHUNK):
        piece = bytes(view[offset:offset + _CHUNK])
        decoded = base64.urlsafe_b64decode(piece + b"=" * (-len(piece) % 4))
        target.write(decoded)
        written += len(decoded)
    return written
