"""Real google-auth credentials whose token endpoint is the emulator's."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from .emulator import GmailEmulator

SCOPES = ["https://www.googleapis.com/auth/gmail.modify"]


def user_credentials(emulator: GmailEmulator, *, expired: bool = True) -> Any:
    """User OAuth credentials with a refresh token; expired, so the first call refreshes."""
    from google.oauth2.credentials import Credentials

    expiry = dt.datetime.utcnow() - dt.timedelta(hours=1) if expired else None
    return Credentials(token="stale-token", refresh_token="refresh-token-secret",
                       token_uri=emulator.token_uri, client_id="client-id.apps",
                       client_secret="client-secret", scopes=SCOPES, expiry=expiry)


@functools.lru_cache(maxsize=1)
def _private_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def service_account_credentials(emulator: GmailEmulator) -> Any:
    """A service account (domain-wide delegation is applied by the adapter's subject)."""
    from google.oauth2 import service_account

    info = {
        "type": "service_account", "project_id": "acme", "private_key_id": "k1",
        "private_key": _private_key(), "client_email": "crm@acme.iam.gserviceaccount.com",
        "client_id": "1234567890", "token_uri": emulator.token_uri,
    }
    return service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
