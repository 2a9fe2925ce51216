"""What inboxlink checks about an Exchange server while connecting (exchangelib does not).

- the version: Exchange 2010 SP2 (build 14.2) or newer → else `UnsupportedExchangeVersion`;
- the mailbox's primary SMTP address (ResolveNames), needed to send → `MissingSmtpAddress`;
- after exchangelib found no usable auth type: what the server *does* offer, so a server
  that takes no password method is told apart from a web page at the URL.

Each failure is built by the EWS error table (`TABLE.error_for`), like every other error,
so its wording, remedy and redaction are the table's.
"""

from __future__ import annotations

from typing import Any

import requests
from exchangelib.errors import ErrorAccessDenied
from exchangelib.version import Build

from inboxlink import errors
from inboxlink.adapters.ews.errors import (
    NO_SMTP_ADDRESS,
    TABLE,
    UNAUTHORIZED_BARE_USERNAME,
    VERSION_TOO_OLD,
)
from inboxlink.adapters.ews.settings import MIN_BUILD
from inboxlink.translate import Signal

__all__ = ["bare_username", "check_version", "no_compatible_auth", "primary_smtp_address"]


def _error(code: str, text: str = "", **details: Any) -> errors.InboxLinkError:
    return TABLE.error_for(Signal("ews", code, text, details=details))


def check_version(version: Any) -> str:
    """``"Exchange2016 (15.1.2507.6)"`` for exchangelib's ``Version``; refuses older than
    2010 SP2."""
    shown = f"{version.fullname} ({version.build})"
    if version.build < Build(*MIN_BUILD):
        # No text: the class words the message around the version it carries.
        raise _error(VERSION_TOO_OLD, server_version=shown)
    return shown


def primary_smtp_address(account: Any, address: str) -> str | None:
    """The SMTP address ``address`` resolves to (``None``: the address book does not say).

    Raises `MissingSmtpAddress` when it resolves to a mailbox without one (EX/X.500 only).
    """
    try:
        results = list(account.protocol.resolve_names(names=[address]))
    except ErrorAccessDenied:
        return None  # the address book is closed to this account: nothing to check against
    boxes = [r for r in results if not isinstance(r, Exception)]
    if not boxes:
        # Not resolvable (e.g. hidden from the address book): the folder look-up that
        # follows still proves the mailbox exists.
        return None
    mine = [b for b in boxes if (b.email_address or "").lower() == address.lower()]
    box = (mine or boxes)[0]
    if (box.routing_type or "SMTP").upper() != "SMTP" or "@" not in (box.email_address or ""):
        raise _error(NO_SMTP_ADDRESS, f"The mailbox {address} resolves to "
                                      f"{box.email_address!r} ({box.routing_type}), not to an "
                                      "SMTP address.")
    found: str = box.email_address
    return found


def bare_username(login: str, text: str) -> errors.InboxLinkError:
    """A 401 for a login that is neither ``DOMAIN\\user`` nor a UPN."""
    return _error(UNAUTHORIZED_BARE_USERNAME, text)


def no_compatible_auth(endpoint: str, timeout: float) -> errors.InboxLinkError | None:
    """After exchangelib found no usable auth type: `BasicAuthDisabled` naming what the server
    offers, if it answers like EWS (401 + ``WWW-Authenticate``); ``None`` if it does not (a web
    page, translated by the table as a wrong URL)."""
    try:
        response = requests.post(endpoint, data=b"", allow_redirects=False, timeout=timeout,
                                 headers={"Content-Type": "text/xml; charset=utf-8"})
    except requests.RequestException:
        return None
    with response:
        offered = response.headers.get("WWW-Authenticate")
        if response.status_code != 401 or not offered:
            return None
    return _error("UnauthorizedError", "No compatible auth type was reported by server (it "
                                       f"offers: {offered}).")
