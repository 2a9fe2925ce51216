"""Run the conformance suite through an `AsyncMailbox`.

`blocking()` turns an async mailbox into a synchronous one whose every call runs the
coroutine on a private event loop thread, so the very same mixins check the async face::

    class AcmeAsyncFixtures(AcmeFixtures):
        @pytest.fixture
        def mailbox(self, sync_mailbox):
            with conformance.aio.blocking(aio.wrap(sync_mailbox)) as mailbox:
                yield mailbox
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from types import ModuleType, TracebackType
from typing import Any, TypeVar

import pytest

from inboxlink.aio.protocol import AsyncMailbox, AsyncWatch
from inboxlink.changes import ChangeHint

__all__ = ["AsyncFace", "BlockingMailbox", "async_twins", "blocking"]

R = TypeVar("R")


class _Loop:
    """One event loop in a daemon thread, shared by every blocking proxy."""

    _lock = threading.Lock()
    _loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def get(cls) -> asyncio.AbstractEventLoop:
        with cls._lock:
            if cls._loop is None or cls._loop.is_closed():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, daemon=True,
                                 name="inboxlink-conformance-loop").start()
                cls._loop = loop
            return cls._loop


def _run(coro: Coroutine[Any, Any, R]) -> R:
    return asyncio.run_coroutine_threadsafe(coro, _Loop.get()).result()


class _BlockingWatch:
    def __init__(self, watch: AsyncWatch) -> None:
        self._watch = watch
        self.stopped = False

    def __iter__(self) -> _BlockingWatch:
        return self

    def __next__(self) -> ChangeHint:
        async def step() -> ChangeHint | None:
            try:
                return await self._watch.__anext__()
            except StopAsyncIteration:
                return None

        hint = _run(step())
        if hint is None:
            self.stopped = True
            raise StopIteration
        return hint

    def stop(self) -> None:
        self.stopped = True
        self._watch.stop()


class BlockingMailbox:
    """A synchronous proxy over an async mailbox (for the conformance suite)."""

    def __init__(self, mailbox: AsyncMailbox) -> None:
        self.aio = mailbox

    @classmethod
    def from_url(cls, url: str, /, **options: Any) -> BlockingMailbox:
        """Open through `inboxlink.aio.connect()` (the async face's constructor)."""
        from inboxlink import aio

        return cls(_run(aio.connect(url, **options)))

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.aio, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            result = target(*args, **kwargs)
            if asyncio.iscoroutine(result):
                return _run(result)
            return result

        return call

    def iter_messages(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        iterator: AsyncIterator[Any] = self.aio.iter_messages(*args, **kwargs)

        async def step() -> tuple[bool, Any]:
            try:
                return True, await iterator.__anext__()
            except StopAsyncIteration:
                return False, None

        while True:
            more, item = _run(step())
            if not more:
                return
            yield item

    def watch(self, *args: Any, **kwargs: Any) -> _BlockingWatch:
        return _BlockingWatch(self.aio.watch(*args, **kwargs))

    def close(self) -> None:
        _run(self.aio.aclose())

    def __enter__(self) -> BlockingMailbox:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def blocking(mailbox: AsyncMailbox) -> BlockingMailbox:
    """A synchronous proxy running each call of ``mailbox`` on a private event loop."""
    return BlockingMailbox(mailbox)


class AsyncFace:
    """Mix in before an adapter's fixtures class to run the same tests through its async
    face: ``mailbox`` becomes :func:`blocking` over ``aio.wrap`` of a mailbox the adapter's
    own ``reconnect`` fixture opens::

        class TestImapAsyncSync(conformance.SyncTests, AsyncFace, DovecotFixtures): pass
    """

    @pytest.fixture
    def mailbox(self, reconnect: Any) -> Iterator[BlockingMailbox]:
        from inboxlink import aio

        with blocking(aio.wrap(reconnect())) as mailbox:
            yield mailbox


def async_twins(module: ModuleType) -> dict[str, type]:
    """Every conformance test class of ``module`` again, through the async face.

    Each ``Test…`` class whose fixtures are `conformance.MailboxFixtures` gets a twin
    ``Test…Async…`` with `AsyncFace` mixed in first, so its per-adapter settings (watch
    latency, large file size …) carry over. Put them in a test module's namespace::

        from . import test_conformance
        globals().update(conformance.aio.async_twins(test_conformance))
    """
    from inboxlink.testing.conformance._core import MailboxFixtures

    twins: dict[str, type] = {}
    for name, cls in vars(module).items():
        if (name.startswith("Test") and isinstance(cls, type)
                and issubclass(cls, MailboxFixtures) and cls.__module__ == module.__name__):
            twin = f"TestAsync{name[len('Test'):]}"
            twins[twin] = type(twin, (AsyncFace, cls), {"__doc__": cls.__doc__})
    return twins
