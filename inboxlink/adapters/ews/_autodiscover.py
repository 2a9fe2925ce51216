"""Finding the EWS URL from the mailbox address (autodiscover), when ``url=`` is left out.

With ``autodiscover_url=`` one ``GetUserSettings`` asks that service directly; otherwise
exchangelib's `Autodiscovery` tries the DNS-derived hosts, with DNS waits capped so a
set-up flow does not hang for exchangelib's 120 s per query.
"""

from __future__ import annotations

from typing import Any

from exchangelib import Configuration, FailFast
from exchangelib.autodiscover import Autodiscovery

from inboxlink import errors
from inboxlink.adapters.ews._tls import protocol_class
from inboxlink.adapters.ews.errors import TABLE
from inboxlink.adapters.ews.settings import EwsSettings
from inboxlink.translate import Signal

__all__ = ["discover"]


def discover(settings: EwsSettings, credentials: Any) -> str:
    """The EWS URL autodiscover gives for ``settings.address``.

    Raises exchangelib's errors (translated at the mailbox's boundary), or
    `AutodiscoverFailed` when the answer names no EWS URL.
    """
    if settings.autodiscover_url:
        url = _ask_service(settings, credentials)
    else:
        discovery = Autodiscovery(email=settings.address, credentials=credentials)
        # exchangelib allows 120 s per DNS query; a set-up flow should not wait that long.
        discovery.DNS_RESOLVER_LIFETIME = min(settings.timeout, 15.0)
        discovery.DNS_RESOLVER_ATTRS = {"timeout": min(settings.timeout, 5.0)}
        _, protocol = discovery.discover()
        url = protocol.service_endpoint
    if not url:
        raise _no_url()
    return str(url)


def _ask_service(settings: EwsSettings, credentials: Any) -> str | None:
    from exchangelib.autodiscover.protocol import AutodiscoverProtocol
    from exchangelib.services import GetUserSettings

    cls = protocol_class(settings.ssl_context, settings.verify_tls, AutodiscoverProtocol)
    protocol = cls(config=Configuration(
        service_endpoint=settings.autodiscover_url, credentials=credentials,
        auth_type=settings.exchangelib_auth_type(), retry_policy=FailFast()))
    try:
        response = GetUserSettings(protocol=protocol).get(
            users=[settings.address], settings=["external_ews_url", "internal_ews_url"])
    finally:
        protocol.close()
    response.raise_errors()
    url: str | None = response.ews_url
    return url


def _no_url() -> errors.InboxLinkError:
    return TABLE.error_for(Signal("ews", "AutoDiscoverFailed", "Autodiscover returned no EWS URL."))
