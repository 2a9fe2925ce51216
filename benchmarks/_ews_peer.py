"""Shared set-up of the EWS benchmarks: the tests' EWS emulator on loopback, loaded with
messages, a mailbox on it, exchangelib's own Inbox, and timing that leaves out the
in-process emulator's answering time."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import _bench  # noqa: F401  (puts the repository and tests/ on sys.path)
import attrs
from ews.emulator import EwsEmulator

from inboxlink.adapters.ews import EwsMailbox, EwsSettings
from inboxlink.testing.conformance import make_message

__all__ = ["ADDRESS", "PASSWORD", "Measured", "exchangelib_inbox", "loaded", "measure",
           "settings", "started"]

ADDRESS = "alice@example.com"
PASSWORD = "pw"


def loaded(count: int, body: Callable[[int], str] | None = None
           ) -> tuple[EwsEmulator, EwsMailbox, list[str]]:
    """A started emulator with ``count`` messages in the Inbox (``body(n)``, or the default
    test body), a mailbox on it, and the messages' ids."""
    emulator = started()
    ids = [emulator.deliver(ADDRESS, make_message(n) if body is None
                            else make_message(n, body=body(n)))
           for n in range(count)]
    return emulator, EwsMailbox(settings(emulator)), ids


def started() -> EwsEmulator:
    """A started emulator with the benchmark user and an empty mailbox."""
    emulator = EwsEmulator()
    emulator.start()
    emulator.add_user(ADDRESS, PASSWORD)
    return emulator


def settings(emulator: EwsEmulator) -> EwsSettings:
    """The benchmark user's settings on ``emulator``."""
    return EwsSettings(address=ADDRESS, url=emulator.ews_url, password=PASSWORD)


def exchangelib_inbox(mailbox: EwsMailbox) -> Any:
    """exchangelib's Inbox folder of the mailbox's account, as an exchangelib user gets it."""
    from exchangelib.folders import Inbox, Root
    from exchangelib.properties import DistinguishedFolderId, Mailbox

    owner = Mailbox(email_address=ADDRESS)
    root = Root(account=mailbox.account,
                _distinguished_id=DistinguishedFolderId(id="root", mailbox=owner))
    return Inbox.get_distinguished(root=root)


@attrs.frozen
class Measured:
    """Medians over the runs; requests, response bytes and items of the last run."""

    seconds: float
    client: float  #: seconds without the in-process emulator's answering time
    requests: int
    response_bytes: int
    items: int


def measure(emulator: EwsEmulator, work: Callable[..., int],
            prepare: Callable[[], Any] | None = None, runs: int = 3) -> Measured:
    """Run ``work()`` (with ``prepare``: ``work(prepare())``, only ``work`` timed) ``runs``
    times; it returns how many items it handled."""
    times: list[float] = []
    client: list[float] = []
    requests = sizes = items = 0
    for _ in range(runs):
        state = prepare() if prepare is not None else None
        emulator.requests.clear()
        emulator.response_sizes.clear()
        emulator.server_seconds = 0.0
        start = time.perf_counter()
        items = work() if prepare is None else work(state)
        elapsed = time.perf_counter() - start
        times.append(elapsed)
        client.append(elapsed - emulator.server_seconds)
        requests = len(emulator.requests)
        sizes = sum(emulator.response_sizes)
    return Measured(statistics.median(times), statistics.median(client), requests, sizes, items)
