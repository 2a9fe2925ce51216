"""Microsoft 365 adapter on Microsoft Graph (msgraph-sdk).

Importing this package does not import msgraph-sdk: `GraphMailbox` is loaded on
first use, so `inboxlink.adapters.graph.errors`, the settings and the helpers
(`admin_consent_url`, `lookup_mail_hosting` …) work without the ``graph`` extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from inboxlink.adapters.graph._auth import (
    APPLICATION_ROLES,
    PRIMARY_ALIAS_REMEDY,
    REQUIRED_SCOPES,
    PrimaryAliasWarning,
    admin_consent_url,
    granted_permissions,
    has_primary_alias_problem,
    missing_scopes,
    token_claims,
)
from inboxlink.adapters.graph._mx import MailHosting, lookup_mail_hosting
from inboxlink.adapters.graph.settings import DEFAULT_BASE_URL, GraphSettings

if TYPE_CHECKING:
    from inboxlink.adapters.graph.mailbox import GraphMailbox

__all__ = [
    "APPLICATION_ROLES",
    "DEFAULT_BASE_URL",
    "PRIMARY_ALIAS_REMEDY",
    "REQUIRED_SCOPES",
    "GraphMailbox",
    "GraphSettings",
    "MailHosting",
    "PrimaryAliasWarning",
    "admin_consent_url",
    "granted_permissions",
    "has_primary_alias_problem",
    "lookup_mail_hosting",
    "missing_scopes",
    "token_claims",
]


def __getattr__(name: str) -> Any:
    if name == "GraphMailbox":
        from inboxlink.adapters.graph.mailbox import GraphMailbox

        return GraphMailbox
    if name == "push":
        # The push helpers' module was push.py until the adapter skeleton named it watch.py;
        # code written against the earlier name keeps working.
        from inboxlink.adapters.graph import watch

        return watch
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
