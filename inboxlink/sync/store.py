"""Where the sync runner keeps each mailbox folder's token: one small protocol, two stores.

A store holds only opaque sync tokens keyed by the application's mailbox key and a folder
name — never credentials. Tokens are written only after the application's handler has
returned, so a crash replays a batch rather than losing it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import Any, Protocol, runtime_checkable

__all__ = ["RedisStore", "SQLiteStore", "TokenStore"]


@runtime_checkable
class TokenStore(Protocol):
    """Keeps the last handled sync token per (mailbox key, folder)."""

    def load(self, key: str, folder: str) -> str | None:
        """The stored token, or ``None`` when the folder has no baseline yet."""
        ...

    def save(self, key: str, folder: str, token: str) -> None:
        """Store ``token`` (after its batch was handled)."""
        ...

    def forget(self, key: str) -> None:
        """Drop every token of ``key`` (the mailbox was removed)."""
        ...


class SQLiteStore:
    """Tokens in a SQLite file (stdlib, the embedded default); safe across threads and
    processes on one machine (WAL journal, one short transaction per write).

    Args:
        path: the database file (created with mode 0600 if missing); ``":memory:"`` for tests.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        if self.path != ":memory:" and not os.path.exists(self.path):
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30,
                                   isolation_level=None)
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS inboxlink_tokens (key TEXT NOT NULL, folder TEXT NOT NULL,"
            " token TEXT NOT NULL, updated REAL NOT NULL DEFAULT (julianday('now')),"
            " PRIMARY KEY (key, folder))"
        )

    def load(self, key: str, folder: str) -> str | None:
        """The stored token, or ``None``."""
        with self._lock:
            row = self._db.execute(
                "SELECT token FROM inboxlink_tokens WHERE key = ? AND folder = ?", (key, folder)
            ).fetchone()
        return None if row is None else str(row[0])

    def save(self, key: str, folder: str, token: str) -> None:
        """Insert or replace the token."""
        with self._lock:
            self._db.execute(
                "INSERT INTO inboxlink_tokens (key, folder, token) VALUES (?, ?, ?) "
                "ON CONFLICT (key, folder) DO UPDATE SET token = excluded.token, "
                "updated = julianday('now')", (key, folder, token))

    def forget(self, key: str) -> None:
        """Drop every token of ``key``."""
        with self._lock:
            self._db.execute("DELETE FROM inboxlink_tokens WHERE key = ?", (key,))

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"


class RedisStore:
    """Tokens in Redis hashes (``<prefix>:<key>`` → folder → token), shared by every worker.

    Args:
        url: a ``redis://`` URL (password in it is never shown in the repr), or pass
            ``client=`` an existing ``redis.Redis``.
        prefix: key prefix, so several applications can share a database.
    """

    def __init__(self, url: str | None = None, *, client: Any = None,
                 prefix: str = "inboxlink:sync") -> None:
        if client is None:
            if url is None:
                raise ValueError("RedisStore needs a url= or a client=")
            import redis

            client = redis.Redis.from_url(url, decode_responses=True)
        self._redis = client
        self.prefix = prefix

    def _name(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    def load(self, key: str, folder: str) -> str | None:
        """The stored token, or ``None``."""
        value = self._redis.hget(self._name(key), folder)
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    def save(self, key: str, folder: str, token: str) -> None:
        """Store the token."""
        self._redis.hset(self._name(key), folder, token)

    def forget(self, key: str) -> None:
        """Drop every token of ``key``."""
        self._redis.delete(self._name(key))

    def __repr__(self) -> str:
        return f"RedisStore(prefix={self.prefix!r})"
