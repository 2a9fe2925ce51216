"""Helpers shared by the Gmail tests."""

from __future__ import annotations

from inboxlink.adapters.gmail import GmailMailbox, GmailSettings
from inboxlink.retry import RetryPolicy

from .emulator import GmailEmulator


def make_mailbox(emulator: GmailEmulator, **options: object) -> GmailMailbox:
    """A mailbox on ``emulator`` with a static token; ``options`` override settings."""
    settings: dict[str, object] = {
        "address": emulator.address, "access_token": "good-token",
        "api_endpoint": emulator.url, "retry": RetryPolicy(max_attempts=3),
    }
    settings.update(options)
    return GmailMailbox(GmailSettings(**settings))  # type: ignore[arg-type]
