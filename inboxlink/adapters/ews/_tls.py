"""Per-mailbox TLS trust for exchangelib: a Protocol subclass with its own HTTP adapter.

exchangelib's documented knob for TLS is the ``HTTP_ADAPTER_CLS`` class attribute of its
protocol classes; setting it on exchangelib's own class would change every connection in the
process. Each mailbox that needs its own trust (``ssl_context=``, ``verify_tls=False``) gets a
subclass instead, so other mailboxes and other exchangelib users keep the defaults.
"""

from __future__ import annotations

import ssl
from typing import Any

import requests.adapters
from exchangelib.protocol import NoVerifyHTTPAdapter, Protocol

__all__ = ["protocol_class"]


def _context_adapter(context: ssl.SSLContext) -> type[requests.adapters.HTTPAdapter]:
    class ContextAdapter(requests.adapters.HTTPAdapter):
        """Verifies the server with the caller's SSLContext (its CA, its minimum version)."""

        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["ssl_context"] = context
            super().init_poolmanager(*args, **kwargs)

        def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
            kwargs["ssl_context"] = context
            return super().proxy_manager_for(*args, **kwargs)

    return ContextAdapter


def protocol_class(ssl_context: ssl.SSLContext | None, verify_tls: bool,
                   base: type[Any] = Protocol) -> type[Any]:
    """``base`` (exchangelib's Protocol), or a subclass that trusts as the caller asked."""
    if verify_tls and ssl_context is None:
        return base
    if not verify_tls:
        adapter: type[requests.adapters.HTTPAdapter] = NoVerifyHTTPAdapter
    else:
        assert ssl_context is not None
        adapter = _context_adapter(ssl_context)
    return type(f"Inboxlink{base.__name__}", (base,), {"HTTP_ADAPTER_CLS": adapter})
