"""Exchange Web Services adapter (``ews://``), built on exchangelib.

Importing this package does not import exchangelib: `EwsMailbox` is loaded on first
use, so ``inboxlink.adapters.ews.errors`` and `EwsSettings` work without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from inboxlink.adapters.ews.settings import EwsSettings

if TYPE_CHECKING:
    from inboxlink.adapters.ews.mailbox import EwsMailbox

__all__ = ["EwsMailbox", "EwsSettings"]


def __getattr__(name: str) -> Any:
    if name == "EwsMailbox":
        from inboxlink.adapters.ews.mailbox import EwsMailbox

        return EwsMailbox
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
