"""Run a call in a thread of its own so that a deadlock fails the test instead of hanging it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def in_thread(fn: Callable[[], Any], timeout: float = 10.0) -> Any:
    """``fn()`` in a fresh daemon thread: its result, or its exception re-raised here; an
    assertion error when it is still running after ``timeout`` seconds."""
    outcome: list[tuple[str, Any]] = []

    def target() -> None:
        try:
            outcome.append(("ok", fn()))
        except BaseException as exc:  # handed back to the test
            outcome.append(("error", exc))

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"still running after {timeout} s: deadlocked"
    kind, value = outcome[0]
    if kind == "error":
        raise value
    return value
