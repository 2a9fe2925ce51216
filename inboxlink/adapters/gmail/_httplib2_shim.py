"""The one place the Gmail adapter touches httplib2's internals: its connection pool.

``httplib2.Http`` keeps its open connections in ``Http.connections`` (a dict keyed by
scheme and authority), which is not documented API. After a transport error mid-answer
httplib2 leaves the half-read connection in that pool, and the next request would read the
rest of the broken answer; closing a mailbox must also close its sockets. Both need the pool.
``tests/gmail/test_shim_canary.py`` fails loudly if httplib2 stops keeping it there.
"""

from __future__ import annotations

import contextlib
from typing import Any

__all__ = ["close_connections", "pooled_connections"]


def _pool(http: Any) -> dict[Any, Any] | None:
    # An AuthorizedHttp wraps the httplib2.Http as ``.http``.
    inner = getattr(http, "http", http)
    pool = getattr(inner, "connections", None)
    return pool if isinstance(pool, dict) else None


def pooled_connections(http: Any) -> int:
    """How many connections ``http`` (an ``httplib2.Http`` or ``AuthorizedHttp``) keeps open."""
    pool = _pool(http)
    return len(pool) if pool is not None else 0


def close_connections(http: Any) -> None:
    """Close and forget every pooled connection of ``http``."""
    pool = _pool(http)
    if pool is None:
        return
    for conn in list(pool.values()):
        with contextlib.suppress(OSError):  # already gone
            conn.close()
    pool.clear()
