"""The exact bytes of a message or a file, held in memory or in a temporary file on disk.

A 100 MB attachment must reach the wire without inboxlink ever holding it in memory: the
MIME layer writes a large message into a `Spool` on disk, and adapters stream it from
there (SMTP ``DATA``, IMAP ``APPEND``, resumable and ranged uploads). Small messages stay
in memory, behind the same interface, so adapter code has one path for both.

A spool never changes once finished. Every `Spool.open` is a fresh read handle, so the
same bytes can be streamed again (a resumed upload, the Sent copy after the send). A
temporary file is removed when its last `Spool` is garbage-collected.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import weakref
from collections.abc import Iterator
from types import TracebackType
from typing import Any, BinaryIO

import attrs

__all__ = ["CHUNK", "Prefixed", "PrefixedSpool", "Spool", "SpoolWriter"]

#: the default read size when streaming: large enough for few system calls, small enough
#: that a stream never holds more than this in memory per step
CHUNK = 1 << 20


class Spool:
    """Immutable bytes, in memory or in a file on disk; stream them with `open` or `chunks`."""

    __slots__ = ("__weakref__", "_data", "_owned", "_path", "_size")

    def __init__(self, *, data: bytes | None = None, path: str | None = None,
                 owned: bool = False) -> None:
        # Private: build one with `of`, `from_path` or `writer`.
        if (data is None) == (path is None):
            raise TypeError("a Spool holds either data or a path")
        self._data = data
        self._path = path
        self._owned = owned
        self._size = len(data) if data is not None else os.stat(path or "").st_size
        if owned and path is not None:
            weakref.finalize(self, _remove, path)

    @classmethod
    def of(cls, data: bytes | bytearray | memoryview | Spool) -> Spool:
        """``data`` as a spool (a spool is returned as it is)."""
        if isinstance(data, Spool):
            return data
        return cls(data=bytes(data))

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> Spool:
        """An existing file, read when streamed and never deleted by inboxlink."""
        return cls(path=os.fspath(path))

    @classmethod
    def writer(cls) -> SpoolWriter:
        """A writer filling a new temporary file; `SpoolWriter.finish` gives the spool."""
        return SpoolWriter()

    @property
    def size(self) -> int:
        """Number of bytes."""
        return self._size

    @property
    def path(self) -> str | None:
        """The file holding the bytes, or ``None`` in memory."""
        return self._path

    @property
    def on_disk(self) -> bool:
        """Whether the bytes live in a file rather than in memory."""
        return self._path is not None

    def open(self) -> BinaryIO:
        """A new read handle at offset 0; the caller closes it."""
        if self._data is not None:
            return io.BytesIO(self._data)
        assert self._path is not None
        return open(self._path, "rb")

    def read(self) -> bytes:
        """All the bytes, in memory: only for messages known to be small."""
        if self._data is not None:
            return self._data
        with self.open() as fh:
            return fh.read()

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        """The bytes in order, at most ``size`` at a time."""
        with self.open() as fh:
            while block := fh.read(size):
                yield block

    def read_range(self, start: int, length: int) -> bytes:
        """``length`` bytes from ``start`` (fewer at the end), e.g. one upload chunk."""
        if self._data is not None:
            return self._data[start:start + length]
        with self.open() as fh:
            fh.seek(start)
            return fh.read(length)

    def __len__(self) -> int:
        return self._size

    def __eq__(self, other: object) -> bool:
        if isinstance(other, bytes | bytearray | memoryview):
            return self._size == len(other) and self.read() == bytes(other)
        if not isinstance(other, Spool):
            return NotImplemented
        if other is self:
            return True
        return self._size == other._size and all(
            a == b for a, b in zip(self.chunks(), other.chunks(), strict=False))

    __hash__ = None  # type: ignore[assignment]  # compared by content, like bytes

    def __reduce__(self) -> tuple[object, ...]:
        # Crossing a process (an error in a Celery result): carry the bytes, not a path
        # to a temporary file the sending process removes.
        return (Spool.of, (self.read(),))

    def __repr__(self) -> str:
        where = "on disk" if self.on_disk else "in memory"
        return f"<Spool {self._size} bytes {where}>"


class SpoolWriter:
    """Writes a new spool into a temporary file (see `Spool.writer`)."""

    def __init__(self) -> None:
        fd, self._path = tempfile.mkstemp(prefix="inboxlink-", suffix=".spool")
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        self._finished = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Append ``data``."""
        if self._file is None:
            raise ValueError("the spool is already finished")
        self._file.write(data)

    def copy_from(self, source: BinaryIO, size: int = CHUNK) -> None:
        """Append everything ``source`` still has to read, ``size`` bytes at a time."""
        while block := source.read(size):
            self.write(block)

    def finish(self) -> Spool:
        """Close the file and hand it to the spool, which removes it when collected.

        The writer keeps no reference, so the spool's lifetime is the caller's alone.
        """
        if self._file is None:
            raise ValueError("the spool is already finished")
        self._file.close()
        self._file = None
        self._finished = True
        return Spool(path=self._path, owned=True)

    def abandon(self) -> None:
        """Close and remove the file (writing failed)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if not self._finished:
            _remove(self._path)

    def __enter__(self) -> SpoolWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is not None:
            self.abandon()


@attrs.frozen
class PrefixedSpool:
    """``prefix`` then ``body``'s bytes, without copying ``body``: a header line put in
    front of a spooled message (see `inboxlink.mime.PreparedMessage.with_bcc_header`)."""

    prefix: bytes
    body: Spool

    @property
    def size(self) -> int:
        """Number of bytes, the prefix included."""
        return len(self.prefix) + self.body.size

    def read(self) -> bytes:
        """All the bytes, in memory: only for messages known to be small."""
        return self.prefix + self.body.read() if self.prefix else self.body.read()

    def open(self) -> Prefixed:
        """A new seekable read handle at offset 0; the caller closes it."""
        return Prefixed(self.prefix, self.body.open(), self.body.size)


class Prefixed(io.RawIOBase):
    """A seekable read-only stream of ``prefix`` followed by ``body`` (``body_size`` bytes)."""

    def __init__(self, prefix: bytes, body: BinaryIO, body_size: int) -> None:
        super().__init__()
        self._prefix = prefix
        self._body = body
        self._size = len(prefix) + body_size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), self._size - self._pos)
        if wanted <= 0:
            return 0
        done = 0
        if self._pos < len(self._prefix):
            head = self._prefix[self._pos:self._pos + wanted]
            view[:len(head)] = head
            done = len(head)
        if done < wanted:
            self._body.seek(self._pos + done - len(self._prefix))
            data = self._body.read(wanted - done)
            view[done:done + len(data)] = data
            done += len(data)
        self._pos += done
        return done

    def close(self) -> None:
        self._body.close()
        super().close()


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
