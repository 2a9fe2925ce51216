"""Graph JSON ↔ inboxlink models (pure functions, no msgraph).

The field lists here are the contract with the emulator in ``tests/graph`` as much as with
Microsoft Graph: only summary fields are selected, threading headers come from two MAPI
extended properties, and an appended Sent copy is created with ``PR_MESSAGE_FLAGS`` so it
is a sent (not draft) item.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping
from typing import Any

from inboxlink import mime
from inboxlink.models import Address, Folder, FolderRole, MessageSummary, RoleSource

__all__ = [
    "FOLDER_SELECT",
    "SUMMARY_EXPAND",
    "SUMMARY_SELECT",
    "WELL_KNOWN_FOLDERS",
    "folder_from_json",
    "message_json_from_mime",
    "parse_datetime",
    "summary_from_json",
]

#: Graph well-known folder names → roles (mailFolder has no wellKnownName in v1.0, so
#: inboxlink asks for each by name in one $batch)
WELL_KNOWN_FOLDERS: Mapping[str, FolderRole] = {
    "inbox": FolderRole.INBOX,
    "sentitems": FolderRole.SENT,
    "drafts": FolderRole.DRAFTS,
    "deleteditems": FolderRole.TRASH,
    "junkemail": FolderRole.JUNK,
    "archive": FolderRole.ARCHIVE,
}

FOLDER_SELECT = ("id", "displayName", "parentFolderId", "childFolderCount", "totalItemCount",
                 "unreadItemCount")
SUMMARY_SELECT = ("id", "subject", "from", "toRecipients", "ccRecipients", "sentDateTime",
                  "receivedDateTime", "internetMessageId", "isRead", "isDraft", "flag",
                  "conversationId")

# MAPI properties (MS-OXPROPS): PR_IN_REPLY_TO_ID, PR_INTERNET_REFERENCES, PR_MESSAGE_FLAGS,
# PR_CLIENT_SUBMIT_TIME, PR_MESSAGE_DELIVERY_TIME, PR_MESSAGE_SIZE.
PROP_IN_REPLY_TO = "String 0x1042"
PROP_REFERENCES = "String 0x1039"
PROP_MESSAGE_FLAGS = "Integer 0x0E07"
PROP_SUBMIT_TIME = "SystemTime 0x0039"
PROP_DELIVERY_TIME = "SystemTime 0x0E06"
PROP_SIZE = "Integer 0x0E08"
MSGFLAG_READ = 0x1  # without MSGFLAG_UNSENT (0x8) the item is a sent message, not a draft

SUMMARY_EXPAND = (
    f"singleValueExtendedProperties($filter=id eq '{PROP_IN_REPLY_TO}' "
    f"or id eq '{PROP_REFERENCES}' or id eq '{PROP_SIZE}')",
)


def parse_datetime(value: Any) -> dt.datetime | None:
    """An ISO 8601 Graph timestamp as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    # Graph sends up to 7 fractional digits; fromisoformat takes at most 6 before 3.11.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits):]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _address(value: Any) -> Address | None:
    if not isinstance(value, Mapping):
        return None
    inner = value.get("emailAddress")
    if not isinstance(inner, Mapping) or not inner.get("address"):
        return None
    return Address(email=str(inner["address"]), name=inner.get("name") or None)


def _addresses(values: Any) -> tuple[Address, ...]:
    if not isinstance(values, list):
        return ()
    return tuple(a for a in map(_address, values) if a is not None)


def _extended(item: Mapping[str, Any]) -> dict[str, str]:
    props = item.get("singleValueExtendedProperties")
    if not isinstance(props, list):
        return {}
    return {str(p.get("id", "")).lower(): str(p.get("value", ""))
            for p in props if isinstance(p, Mapping)}


def summary_from_json(item: Mapping[str, Any], folder_id: str) -> MessageSummary:
    """A `MessageSummary` from one ``message`` of a listing."""
    extended = _extended(item)
    flags = set()
    if item.get("isRead"):
        flags.add("\\Seen")
    if item.get("isDraft"):
        flags.add("\\Draft")
    flag = item.get("flag")
    if isinstance(flag, Mapping) and flag.get("flagStatus") == "flagged":
        flags.add("\\Flagged")
    in_reply_to = extended.get(PROP_IN_REPLY_TO.lower()) or None
    size = extended.get(PROP_SIZE.lower(), "")
    return MessageSummary(
        id=str(item["id"]),
        folder_id=folder_id,
        subject=item.get("subject"),
        from_=_address(item.get("from")),
        to=_addresses(item.get("toRecipients")),
        cc=_addresses(item.get("ccRecipients")),
        date=parse_datetime(item.get("sentDateTime")),
        received_at=parse_datetime(item.get("receivedDateTime")),
        message_id=item.get("internetMessageId") or None,
        in_reply_to=in_reply_to.strip() if in_reply_to else None,
        references=mime.split_msgids(extended.get(PROP_REFERENCES.lower())),
        flags=frozenset(flags),
        size=int(size) if size.isdigit() else None,
        thread_id=item.get("conversationId") or None,
    )


def folder_from_json(item: Mapping[str, Any], parent_path: str | None,
                     roles: Mapping[str, FolderRole]) -> Folder:
    """A `Folder` from a ``mailFolder``; ``roles`` maps folder ids to well-known roles."""
    name = str(item.get("displayName") or "")
    folder_id = str(item["id"])
    role = roles.get(folder_id)
    return Folder(
        id=folder_id,
        name=name,
        path=f"{parent_path}/{name}" if parent_path else name,
        role=role,
        role_source=RoleSource.PROVIDER if role else None,
        parent_id=item.get("parentFolderId"),
        total=item.get("totalItemCount"),
        unread=item.get("unreadItemCount"),
    )


def _recipients(addresses: tuple[Address, ...]) -> list[dict[str, Any]]:
    return [{"emailAddress": {"address": a.email, **({"name": a.name} if a.name else {})}}
            for a in addresses]


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def message_json_from_mime(raw: bytes) -> dict[str, Any]:
    """The ``message`` body that re-creates an already sent MIME message as a sent item.

    Graph creates MIME uploads only as drafts, and ``PR_MESSAGE_FLAGS`` can be set only when
    an item is created, so the copy is built from the parsed message: addresses, subject,
    bodies, attachments, Message-ID, threading headers and the original Date. Other headers
    are not kept (see docs/graph.md, "append_to_sent").
    """
    email = mime.parse(raw)

    def header(name: str) -> str | None:
        return mime.header_str(email, name)

    sent_at = mime.parse_date(header("Date")) or dt.datetime.now(dt.timezone.utc)
    html = mime.body_text(email, "html")
    text = mime.body_text(email, "plain")
    body = ({"contentType": "html", "content": html} if html is not None
            else {"contentType": "text", "content": text or ""})
    sender = Address.parse_list(header("From"))
    props = [
        {"id": PROP_MESSAGE_FLAGS, "value": str(MSGFLAG_READ)},
        {"id": PROP_SUBMIT_TIME, "value": _iso(sent_at)},
        {"id": PROP_DELIVERY_TIME, "value": _iso(sent_at)},
    ]
    in_reply_to = header("In-Reply-To")
    if in_reply_to:
        props.append({"id": PROP_IN_REPLY_TO, "value": in_reply_to.strip()})
    references = mime.split_msgids(header("References"))
    if references:
        props.append({"id": PROP_REFERENCES, "value": " ".join(references)})
    message: dict[str, Any] = {
        "subject": header("Subject") or "",
        "body": body,
        "toRecipients": _recipients(Address.parse_list(header("To"))),
        "ccRecipients": _recipients(Address.parse_list(header("Cc"))),
        "bccRecipients": _recipients(Address.parse_list(header("Bcc"))),
        "replyTo": _recipients(Address.parse_list(header("Reply-To"))),
        "isRead": True,
        "singleValueExtendedProperties": props,
    }
    if sender:
        message["from"] = _recipients(sender[:1])[0]
        message["sender"] = message["from"]
    message_id = header("Message-ID")
    if message_id:
        message["internetMessageId"] = message_id.strip()
    attachments = [
        {
            "@odata.type": "#microsoft.graph.fileAttachment",
            "name": part.filename or "attachment",
            "contentType": part.content_type,
            "contentBytes": base64.b64encode(part.data).decode("ascii"),
            "isInline": part.inline,
            **({"contentId": part.content_id} if part.content_id else {}),
        }
        for part in mime.attachments(email)
    ]
    if attachments:
        message["attachments"] = attachments
    return message
