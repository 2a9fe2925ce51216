"""Which `FakeMailServer` a ``connect("fake://…")`` without ``server=`` reaches.

An application under test opens its own mailboxes (``inboxlink.connect(url)``); for it to
see the test's mail, those mailboxes must land on the test's server. The pytest plugin wraps
each test that uses ``fake_mail_server`` in `use_server()`; outside one, every
``fake://`` connection gets a private new server, as before.

The server is held in a context variable (so concurrent contexts, e.g. asyncio tasks of
different tests, do not mix) *and* as the process-wide fallback, because threads started by
the code under test (worker pools) begin with an empty context and must still reach it.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inboxlink.testing.fake_server import FakeMailServer

__all__ = ["current_server", "use_server"]

_current: contextvars.ContextVar[FakeMailServer | None] = contextvars.ContextVar(
    "inboxlink_fake_server", default=None)
_lock = threading.Lock()
#: innermost last; the process-wide fallback for threads with an empty context
_stack: list[FakeMailServer] = []


def current_server() -> FakeMailServer | None:
    """The server ``fake://`` URLs reach now, or ``None`` (each gets a private one)."""
    found = _current.get()
    if found is not None:
        return found
    with _lock:
        return _stack[-1] if _stack else None


@contextmanager
def use_server(server: FakeMailServer) -> Iterator[FakeMailServer]:
    """Route ``connect("fake://…")`` calls without ``server=`` to ``server`` while inside.

    >>> from inboxlink.testing import FakeMailServer, use_server
    >>> import inboxlink
    >>> with use_server(FakeMailServer()) as server:
    ...     inboxlink.connect("fake://alice@example.com").server is server
    True
    """
    token = _current.set(server)
    with _lock:
        _stack.append(server)
    try:
        yield server
    finally:
        with _lock:
            # Remove this entry, not the last one: nested uses may end out of order across
            # threads.
            for index in range(len(_stack) - 1, -1, -1):
                if _stack[index] is server:
                    del _stack[index]
                    break
        try:
            _current.reset(token)
        except ValueError:
            # Ended in another context than it began (a fixture torn down elsewhere):
            # clearing is the closest to "restore".
            _current.set(None)
