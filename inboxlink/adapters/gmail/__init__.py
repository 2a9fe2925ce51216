"""Gmail adapter (Gmail API through google-api-python-client).

Importing this package does not import the client library: `GmailMailbox` is loaded
on first use, so ``inboxlink.adapters.gmail.errors`` works without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from inboxlink.adapters.gmail.settings import GmailSettings

if TYPE_CHECKING:
    from inboxlink.adapters.gmail.mailbox import GmailMailbox

__all__ = ["GmailMailbox", "GmailSettings"]


def __getattr__(name: str) -> Any:
    if name == "GmailMailbox":
        from inboxlink.adapters.gmail.mailbox import GmailMailbox

        return GmailMailbox
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
