"""Keeping a lease in Redis alive while a block of work runs (budget slots, sync chains).

A lease is renewed every third of its life from a background thread: two renewals may fail
(the store briefly away) before the lease lapses and another worker may take over.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

__all__ = ["renewing"]


@contextlib.contextmanager
def renewing(renew: Callable[[], object], lease: float, *, name: str,
             tolerated: tuple[type[BaseException], ...]) -> Iterator[None]:
    """Call ``renew()`` every ``lease / 3`` seconds while the block runs.

    A failure in ``tolerated`` is passed over (the lease still lasts ``lease`` seconds, the
    next renewal may land); the thread is stopped and joined when the block ends.
    """
    stop = threading.Event()

    def keep() -> None:
        while not stop.wait(lease / 3):
            with contextlib.suppress(*tolerated):
                renew()

    keeper = threading.Thread(target=keep, daemon=True, name=name)
    keeper.start()
    try:
        yield
    finally:
        stop.set()
        keeper.join()
