"""EWS requests in flight through a shared `inboxlink.budget.Budget`.

exchangelib runs every request on a session checked out of its Protocol's pool
(``get_session``) and checks it back in afterwards (``release_session``, also reached
through ``retire_session`` when a session broke). A Protocol subclass holds one budget slot
per checked-out session, so requests in flight for the mailbox stay under ``limit`` across
every process and machine sharing the budget — the streaming watch's session included.
Slots are interchangeable: each check-out takes one, each check-in gives one back.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inboxlink.budget import Budget

__all__ = ["budgeted_protocol"]


def budgeted_protocol(base: type[Any], budget: Budget, key: str, limit: int,
                      timeout: float) -> type[Any]:
    """A subclass of exchangelib's Protocol class ``base`` whose sessions hold budget slots."""
    lock = threading.Lock()

    class BudgetedProtocol(base):  # type: ignore[misc]
        """exchangelib's Protocol, with a budget slot per session in use."""

        def get_session(self) -> Any:
            permit = budget.slot(key, "requests", limit, timeout=timeout)
            permit.__enter__()
            try:
                session = super().get_session()
            except BaseException:
                permit.__exit__(None, None, None)
                raise
            with lock:
                self.__dict__.setdefault("_inboxlink_permits", []).append(permit)
            return session

        def release_session(self, session: Any) -> None:
            try:
                super().release_session(session)
            finally:
                with lock:
                    held: list[contextlib.AbstractContextManager[None]] = \
                        self.__dict__.get("_inboxlink_permits", [])
                    permit = held.pop() if held else None  # none: exchangelib filling its pool
                if permit is not None:
                    permit.__exit__(None, None, None)

    BudgetedProtocol.__name__ = f"Budgeted{base.__name__}"
    return BudgetedProtocol
