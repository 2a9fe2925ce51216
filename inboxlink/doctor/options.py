"""How the doctor runs: `DoctorOptions`, shared by its checks and its command line.

Kept apart from the checks so that whoever builds the options (the ``inboxlink doctor``
command, an application embedding the doctor) imports only this.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

__all__ = ["DoctorOptions"]


@attrs.frozen
class DoctorOptions:
    """How to run the checks. ``connect_options`` may hold secrets: they are never reported."""

    imap_url: str | None = None
    smtp_url: str | None = None
    ews_url: str | None = None
    #: the Graph/Gmail API root instead of the public one (national cloud, local emulator)
    api_url: str | None = None
    ca_file: str | None = None
    insecure: bool = False
    timeout: float = 10.0
    #: seconds one DNS look-up may take; a DNS that does not answer costs this once in all
    dns_timeout: float = 5.0
    send_test: str | None = None
    #: other options for connect() (username, sent_folder …); never secrets
    connect_options: Mapping[str, Any] = attrs.field(factory=dict)
    #: "password" / "access_token" → value, given up front; never reported
    secrets: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    #: asks for a missing secret once the provider is known: (kind, url) → value or None
    ask_secret: Callable[[str, str], str | None] | None = attrs.field(default=None, repr=False)
