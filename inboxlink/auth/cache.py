"""The token cache the user owns: one JSON file per account, 0600, atomic, locked.

A cache file is a small JSON document::

    {"format": "inboxlink-token-cache", "version": 1,
     "provider": "microsoft", "protocol": "graph", "account": "alice@contoso.com",
     "url": "graph://alice@contoso.com", "settings": {"client_id": …, "authority": …},
     "msal": {…msal SerializableTokenCache…}}          # Microsoft
     "google": {…google authorized-user JSON…}          # Google

It never holds a password: only what the identity provider issued (refresh and access
tokens) and the public settings needed to refresh them. Writes go to a temporary file in
the same directory, are flushed to disk, then ``os.replace``-d over the old file, so a
crash leaves either the old or the new document, never half of one. Every
read-refresh-write cycle holds an exclusive lock on ``<file>.lock`` (filelock: ``fcntl``
on POSIX, ``msvcrt`` on Windows), so two processes refreshing at once take turns and the
second sees the first one's fresh tokens instead of spending a rotated refresh token.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import attrs

from inboxlink import errors
from inboxlink.auth.targets import SignInTarget

__all__ = ["CACHE_FORMAT", "TokenCacheDir", "default_cache_dir", "read_document",
           "write_document"]

CACHE_FORMAT = "inboxlink-token-cache"
CACHE_VERSION = 1
#: how long a process waits for another one's refresh before giving up (seconds)
LOCK_TIMEOUT = 60.0


def default_cache_dir() -> Path:
    """The platform's per-user config directory + ``inboxlink/tokens``.

    ``$XDG_CONFIG_HOME`` (default ``~/.config``) on Linux and other POSIX systems,
    ``~/Library/Application Support`` on macOS, ``%APPDATA%`` on Windows.
    """
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "inboxlink" / "tokens"


def _cache_error(message: str, path: Path, exc: BaseException | None = None,
                 remedy: str | None = None) -> errors.ConfigurationError:
    # The path is the user's own file name, never a secret; the contents are never shown.
    error = errors.ConfigurationError(
        f"{message} ({path})",
        remedy=remedy or "Check that the token cache directory exists and belongs to you, "
                         "or choose another one with --cache-dir / token_cache=.")
    if exc is not None:
        error.__cause__ = exc
    return error


def read_document(path: Path) -> dict[str, Any] | None:
    """The cache document at ``path``; ``None`` if there is none. Never shows its contents."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _cache_error("The token cache file cannot be read.", path, exc) from exc
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict) or document.get("format") != CACHE_FORMAT:
        raise _cache_error("The token cache file is not an inboxlink token cache.", path,
                           remedy="Sign in again (inboxlink login URL) to replace it.")
    return document


def write_document(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` to ``path`` atomically with mode 0600."""
    data = json.dumps(document, indent=1, sort_keys=True).encode("utf-8")
    # mkstemp creates the file 0600 from the start: the tokens are never world-readable,
    # not even for the moment before a chmod.
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp)
        raise


@attrs.define
class TokenCacheDir:
    """A directory of per-account token cache files (created 0700 on first write).

    Args:
        directory: where the files live; `default_cache_dir` when ``None``.
    """

    directory: Path = attrs.field(factory=default_cache_dir, converter=Path)

    def path_for(self, target: SignInTarget) -> Path:
        """The cache file of ``target``'s account (it may not exist yet)."""
        return self.directory / f"{target.key}.json"

    def ensure(self) -> None:
        """Create the directory with mode 0700 (and tighten an existing one we own)."""
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            owner = self.directory.stat().st_uid if os.name == "posix" else None
            if owner is not None and owner == os.getuid():
                os.chmod(self.directory, 0o700)
        except OSError as exc:
            raise _cache_error("The token cache directory cannot be created.", self.directory,
                               exc) from exc
        if owner is not None and owner != os.getuid():
            # Someone else could read, replace or plant token files here.
            raise _cache_error("The token cache directory belongs to another user.",
                               self.directory)

    @contextmanager
    def locked(self, path: Path) -> Iterator[None]:
        """Hold the cross-process lock of one cache file for a read-refresh-write cycle."""
        from filelock import FileLock, Timeout

        self.ensure()
        lock = FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT, mode=0o600)
        try:
            lock.acquire()
        except Timeout as exc:
            raise errors.TransientError(
                f"Another process kept the token cache locked for {LOCK_TIMEOUT:.0f} s "
                f"({path}).", remedy="Retry; if it persists, look for a stuck inboxlink "
                "process.") from exc
        try:
            yield
        finally:
            lock.release()

    def remove(self, target: SignInTarget) -> bool:
        """Delete ``target``'s cache file (under its lock); whether there was one."""
        path = self.path_for(target)
        if not path.exists():
            return False
        with self.locked(path):
            try:
                path.unlink()
            except FileNotFoundError:
                return False
        with suppress(OSError):
            Path(str(path) + ".lock").unlink()
        return True
