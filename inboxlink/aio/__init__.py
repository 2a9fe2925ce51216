"""inboxlink for asyncio (and trio, through anyio): the same contract as coroutines.

>>> from inboxlink import aio
>>> async def main():
...     async with await aio.connect("fake://alice@example.com") as mailbox:
...         return await mailbox.list_messages()

Graph runs natively on the caller's loop (`.native`); the synchronous adapters run in
worker threads with a per-mailbox limit equal to their connection budget (`.threaded`),
so the event loop never blocks. Needs ``anyio`` and ``greenlet`` (installed with the
``graph`` extra, or ``pip install 'inboxlink[aio]'``).
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread

from inboxlink.aio.native import NativeAsyncMailbox, NativeWatch
from inboxlink.aio.protocol import AsyncMailbox, AsyncWatch
from inboxlink.aio.threaded import ThreadedAsyncMailbox, ThreadedWatch
from inboxlink.mailbox import Mailbox

__all__ = ["AsyncMailbox", "AsyncWatch", "NativeAsyncMailbox", "NativeWatch",
           "ThreadedAsyncMailbox", "ThreadedWatch", "connect", "wrap"]


def wrap(mailbox: Mailbox, *, concurrency: int | None = None) -> AsyncMailbox:
    """The async face of an open synchronous mailbox (state shared with it).

    An adapter whose client library is asynchronous (``async_native``: Graph) runs on the
    caller's loop; the others run in worker threads, at most ``concurrency`` at once.
    """
    if getattr(mailbox, "async_native", False):
        return NativeAsyncMailbox(mailbox, concurrency=concurrency)
    return ThreadedAsyncMailbox(mailbox, concurrency=concurrency,
                                inline=mailbox.provider == "fake")


async def connect(url: str, /, **options: Any) -> AsyncMailbox:
    """Like `inboxlink.connect()`, for asyncio: the connection is opened in a thread."""
    from inboxlink.registry import connect as connect_sync

    mailbox = await anyio.to_thread.run_sync(lambda: connect_sync(url, **options))
    return wrap(mailbox)
