"""Opaque, JSON-safe strings for the EWS adapter's cursors and sync tokens.

Each is a prefix naming its kind and version (``ews1.`` listing cursor, ``ews-search1.``
search cursor, ``ews-sync1.`` sync token) followed by base64url JSON without padding, so it
can be stored anywhere and used again in another process.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

__all__ = ["decode", "encode"]


def encode(prefix: str, payload: dict[str, Any]) -> str:
    """``prefix`` + base64url of ``payload`` as compact JSON."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return prefix + base64.urlsafe_b64encode(body).decode().rstrip("=")


def decode(prefix: str, token: str) -> dict[str, Any]:
    """The payload of a string `encode` made; ``ValueError`` for anything else."""
    if not isinstance(token, str) or not token.startswith(prefix):
        raise ValueError("not a token of this kind")
    body = token[len(prefix):]
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise ValueError("malformed token") from exc
    if not isinstance(data, dict):
        raise ValueError("malformed token")
    return data
