"""IMAP/SMTP adapter: imapclient for reading, smtplib for sending.

``import inboxlink.adapters.imap`` does not import imapclient: `ImapMailbox` is
loaded on first access, so the settings and the error table work without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from inboxlink.adapters.imap.settings import ImapSettings, Security

if TYPE_CHECKING:
    from inboxlink.adapters.imap.mailbox import ImapMailbox

__all__ = ["ImapMailbox", "ImapSettings", "Security"]


def __getattr__(name: str) -> Any:
    if name == "ImapMailbox":
        from inboxlink.adapters.imap.mailbox import ImapMailbox

        return ImapMailbox
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
