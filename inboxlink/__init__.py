"""inboxlink: one typed Mailbox interface for IMAP/SMTP, Exchange (EWS), Microsoft 365 and Gmail.

>>> import inboxlink
>>> mailbox = inboxlink.connect("fake://alice@example.com")
>>> mailbox.folder(inboxlink.FolderRole.SENT).name
'Sent'

Adapters and their client libraries are imported only when a URL needs them.
"""

from __future__ import annotations

from inboxlink import errors
from inboxlink.changes import ChangeHint, ChangeSet
from inboxlink.errors import InboxLinkError
from inboxlink.mailbox import BaseMailbox, Mailbox
from inboxlink.mailbox_sync import PollPolicy, Watch
from inboxlink.models import (
    Address,
    Attachment,
    AttachmentInfo,
    Capability,
    Folder,
    FolderRole,
    Message,
    MessageSummary,
    OutgoingMessage,
    Page,
    RoleSource,
    SendResult,
    SentCopy,
)
from inboxlink.query import SearchQuery
from inboxlink.registry import connect, register_adapter
from inboxlink.retry import RetryPolicy

#: the installed distribution's version (``importlib.metadata``), looked up on first use:
#: reading package metadata costs tens of milliseconds, and ``import inboxlink`` stays light
__version__: str


def _version() -> str:
    # The installed distribution's metadata is the one source of the version (pyproject).
    # A source tree used without installing has none: say so instead of guessing a number.
    from importlib import metadata

    try:
        return metadata.version("inboxlink")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def __getattr__(name: str) -> str:
    if name == "__version__":
        value = _version()
        globals()["__version__"] = value  # computed once
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Address",
    "Attachment",
    "AttachmentInfo",
    "BaseMailbox",
    "Capability",
    "ChangeHint",
    "ChangeSet",
    "Folder",
    "FolderRole",
    "InboxLinkError",
    "Mailbox",
    "Message",
    "MessageSummary",
    "OutgoingMessage",
    "Page",
    "PollPolicy",
    "RetryPolicy",
    "RoleSource",
    "SearchQuery",
    "SendResult",
    "SentCopy",
    "Watch",
    "__version__",
    "connect",
    "errors",
    "register_adapter",
]
