"""inboxlink for asyncio (and trio, through anyio): the same contract as coroutines.

>>> from inboxlink import aio
>>> async def main():
...     async with await aio.connect("fake://alice@example.com") as mailbox:
...         return await mailbox.list_messages()

Synchronous adapters run in worker threads with a per-mailbox limit equal to their
connection budget, so the event loop never blocks. Needs ``anyio`` (installed with the
``graph`` extra, or ``pip install 'inboxlink[aio]'``).
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread

from inboxlink.aio.protocol import AsyncMailbox, AsyncWatch
from inboxlink.aio.threaded import ThreadedAsyncMailbox, ThreadedWatch
from inboxlink.mailbox import Mailbox

__all__ = ["AsyncMailbox", "AsyncWatch", "ThreadedAsyncMailbox", "ThreadedWatch", "connect",
           "wrap"]


def wrap(mailbox: Mailbox, *, concurrency: int | None = None) -> AsyncMailbox:
    """The async face of an open synchronous mailbox (state shared with it)."""
    return ThreadedAsyncMailbox(mailbox, concurrency=concurrency,
                                inline=mailbox.provider == "fake")


async def connect(url: str, /, **options: Any) -> AsyncMailbox:
    """Like `inboxlink.connect()`, for asyncio: the connection is opened in a thread."""
    from inboxlink.registry import connect as connect_sync

    mailbox = await anyio.to_thread.run_sync(lambda: connect_sync(url, **options))
    return wrap(mailbox)
