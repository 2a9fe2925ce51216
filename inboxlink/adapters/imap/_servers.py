"""Who the server is: its family from the greeting, and whether inboxlink refuses it.

Both are read from the greeting alone, before anything (credentials above all) is sent.
`unsupported_server` is the one verdict the adapter and ``inboxlink doctor`` share.
"""

from __future__ import annotations

import re

from inboxlink import errors
from inboxlink.adapters.imap.errors import PROVIDER, TABLE
from inboxlink.translate import Signal

__all__ = ["SERVER_FAMILIES", "server_family", "unsupported_server"]

#: greeting / capability fingerprints → server family; a login refusal names the family
#: (``"LOGIN (iCloud): …"``) because the same words mean different things per server.
SERVER_FAMILIES = (
    (re.compile(r"iSCREAM|XAPPLEPUSHSERVICE"), "iCloud"),
    (re.compile(r"Microsoft Exchange"), "Microsoft 365"),
    (re.compile(r"Zimbra"), "Zimbra"),
    (re.compile(r"Gimap|X-GM-EXT-1"), "Gmail"),
    (re.compile(r"Courier-IMAP"), "Courier"),
    (re.compile(r"Cyrus IMAP"), "Cyrus"),
    (re.compile(r"Dovecot"), "Dovecot"),
)


def server_family(greeting: str) -> str:
    """The server family a greeting reveals, or ``"IMAP"``."""
    return next((name for regex, name in SERVER_FAMILIES if regex.search(greeting)), "IMAP")


#: the catalogue entry of the refusals ``allow_courier=True`` lifts
_COURIER = "imap.courier.detected"


def unsupported_server(greeting: str, *,
                       allow_courier: bool = False) -> errors.InboxLinkError | None:
    """The refusal of a server inboxlink does not support, judged from its greeting alone.

    Courier-IMAP by name or, behind a customised greeting, by its capability fingerprint
    (the ``GREETING`` rows of `TABLE`), unless ``allow_courier`` (the adapter's setting of
    that name) accepts the risk. The adapter and ``inboxlink doctor`` both ask this one
    function, with the same option, before sending credentials, so the doctor never signs
    in to a server the adapter would then refuse, nor refuses one the adapter accepts.
    """
    signal = Signal(provider=PROVIDER, code="GREETING", text=greeting)
    rule = TABLE.match(signal)
    if rule is None or rule.code != "GREETING" or (allow_courier and rule.source == _COURIER):
        return None
    return TABLE.error_for(signal)
