"""Scopes, token claims, the admin-consent link and the outlook_… alias check (no msgraph).

Nothing here verifies a token: claims are read only to explain an error (which scopes
are missing, which tenant and app to build a consent link for).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

__all__ = [
    "APPLICATION_ROLES",
    "PRIMARY_ALIAS_REMEDY",
    "REQUIRED_SCOPES",
    "PrimaryAliasWarning",
    "admin_consent_url",
    "consent_url_for",
    "granted_permissions",
    "has_primary_alias_problem",
    "missing_scopes",
    "token_claims",
]

#: delegated permissions inboxlink needs (calendars are out of scope)
REQUIRED_SCOPES: tuple[str, ...] = ("Mail.ReadWrite", "Mail.Send", "offline_access", "openid",
                                    "email")
#: application permissions for app-only access (``/users/{id}``)
APPLICATION_ROLES: tuple[str, ...] = ("Mail.ReadWrite", "Mail.Send")
# Scopes that belong to the sign-in itself, not to a resource: never prefixed with the host.
_OIDC = {"openid", "email", "profile", "offline_access"}

_ALIAS = re.compile(r"^outlook_[0-9a-f]{8,}@outlook\.com$", re.IGNORECASE)

PRIMARY_ALIAS_REMEDY = (
    "This Microsoft account's primary alias is an outlook_…@outlook.com address that Microsoft "
    "created because the account was registered with another provider's e-mail address. Mail "
    "sent through Microsoft 365 leaves from that alias and replies do not thread. Add an "
    "@outlook.com alias and make it primary (account.microsoft.com > Your info > Account info "
    "> Edit account info), or connect the real mailbox with IMAP instead."
)


class PrimaryAliasWarning(UserWarning):
    """The account's primary address is a generated ``outlook_<hex>@outlook.com`` alias."""


def has_primary_alias_problem(address: str | None) -> bool:
    """Whether ``address`` is a generated ``outlook_<hex>@outlook.com`` primary alias."""
    return bool(address and _ALIAS.match(address.strip()))


def token_claims(token: str | None) -> dict[str, Any]:
    """The payload of a JWT access token, unverified; ``{}`` when it is not a JWT.

    Microsoft personal-account tokens are opaque, so callers must cope with ``{}``.
    """
    if not token or token.count(".") != 2:
        return {}
    payload = token.split(".")[1]
    try:
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(decoded)
    except (ValueError, UnicodeDecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def granted_permissions(claims: Mapping[str, Any]) -> tuple[set[str], bool] | None:
    """``(permissions, app_only)`` from ``scp`` (delegated) or ``roles`` (application)."""
    scp = claims.get("scp")
    if isinstance(scp, str):
        return {s.lower() for s in scp.split()}, False
    roles = claims.get("roles")
    if isinstance(roles, list):
        return {str(r).lower() for r in roles}, True
    return None


def missing_scopes(granted: str | Iterable[str],
                   required: Iterable[str] = REQUIRED_SCOPES) -> tuple[str, ...]:
    """The ``required`` scopes absent from ``granted`` (a space-separated string or names).

    Comparison ignores case and a resource prefix (``https://graph.microsoft.com/Mail.Send``).
    """
    names = granted.split() if isinstance(granted, str) else list(granted)
    have = {name.rsplit("/", 1)[-1].lower() for name in names}
    return tuple(scope for scope in required if scope.lower() not in have)


def admin_consent_url(
    tenant: str | None,
    client_id: str,
    scopes: Iterable[str] = REQUIRED_SCOPES,
    redirect_uri: str | None = None,
    *,
    authority: str = "https://login.microsoftonline.com",
    resource: str = "https://graph.microsoft.com",
    state: str | None = None,
) -> str:
    """The link a tenant's administrator opens to consent to the app for everyone.

    Uses the Microsoft identity platform's v2.0 admin-consent endpoint; resource scopes are
    qualified with ``resource`` (``https://graph.microsoft.com/Mail.Send``), OpenID scopes are
    left as they are. ``tenant`` defaults to ``organizations`` (the admin picks theirs).
    """
    qualified = [s if s in _OIDC or "://" in s else f"{resource.rstrip('/')}/{s}" for s in scopes]
    params = {"client_id": client_id, "scope": " ".join(qualified)}
    if redirect_uri:
        params["redirect_uri"] = redirect_uri
    if state:
        params["state"] = state
    return (f"{authority.rstrip('/')}/{tenant or 'organizations'}/v2.0/adminconsent?"
            + urlencode(params))


def consent_url_for(claims: Mapping[str, Any], *, client_id: str | None,
                    tenant_id: str | None, app_only: bool,
                    redirect_uri: str | None = None) -> str | None:
    """The admin-consent link for the app a token was issued to, or ``None`` without an app id.

    The app and tenant come from the settings, else from the token's ``appid``/``azp`` and
    ``tid`` claims. App-only permissions are consented as a whole, through ``/.default``.
    """
    app = client_id or claims.get("appid") or claims.get("azp")
    if not app:
        return None
    tenant = tenant_id or claims.get("tid")
    scopes = ("https://graph.microsoft.com/.default",) if app_only else REQUIRED_SCOPES
    return admin_consent_url(tenant if isinstance(tenant, str) else None, str(app), scopes,
                             redirect_uri)
