"""The IMAP connection budget shared between mailbox objects: in one process by default,
across processes with a `RedisBudget` (here two objects stand for two processes)."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from inboxlink import errors
from inboxlink.adapters.imap import ImapMailbox
from inboxlink.budget import InProcessBudget, RedisBudget

from .dovecot import Dovecot
from .helpers import Certs, settings_for

pytestmark = pytest.mark.dovecot


def _second_waits_for_the_first(dovecot: Dovecot, certs: Certs, **options: Any) -> None:
    user = dovecot.new_user()
    first = ImapMailbox(settings_for(dovecot, user, certs, max_connections=1, **options))
    assert first.open_connections == 1  # idle in its pool, still holding the slot
    closed_at: list[float] = []

    def close_first() -> None:
        time.sleep(0.5)
        closed_at.append(time.monotonic())
        first.close()

    closer = threading.Thread(target=close_first)
    closer.start()
    second = ImapMailbox(settings_for(dovecot, user, certs, max_connections=1, **options))
    try:
        connected_at = time.monotonic()
        closer.join(10)
        # The second object got its connection only once the first gave its slot back.
        assert closed_at
        assert connected_at >= closed_at[0]
        assert second.folders()
    finally:
        second.close()


def test_objects_of_one_account_share_the_process_budget_by_default(
        dovecot: Dovecot, certs: Certs) -> None:
    _second_waits_for_the_first(dovecot, certs)


def test_objects_sharing_a_redis_budget_share_its_slots(
        dovecot: Dovecot, certs: Certs, redis_server: Any) -> None:
    budget = RedisBudget(redis_server.url, prefix=f"i{uuid.uuid4().hex[:8]}", lease=5.0)
    _second_waits_for_the_first(dovecot, certs, budget=budget)


def test_separate_budgets_do_not_wait_for_each_other(dovecot: Dovecot, certs: Certs) -> None:
    # Guards the tests above: with a budget each, both objects connect at once.
    user = dovecot.new_user()
    boxes = [ImapMailbox(settings_for(dovecot, user, certs, max_connections=1,
                                      budget=InProcessBudget())) for _ in range(2)]
    try:
        assert [box.open_connections for box in boxes] == [1, 1]
    finally:
        for box in boxes:
            box.close()


def test_a_closed_mailbox_gives_every_slot_back(dovecot: Dovecot, certs: Certs) -> None:
    budget = InProcessBudget()
    user = dovecot.new_user()
    key = f"imap://{user}@127.0.0.1:{dovecot.imaps_port}"
    box = ImapMailbox(settings_for(dovecot, user, certs, max_connections=2, budget=budget))
    box.folders()
    # Its idle connection holds one of the account's two slots: only one is left.
    with budget.slot(key, "connection", 2, timeout=0), \
            pytest.raises(errors.RateLimited):
        budget.slot(key, "connection", 2, timeout=0).__enter__()
    box.close()
    # All of the account's slots are free again: taking both does not wait.
    with budget.slot(key, "connection", 2, timeout=0), \
            budget.slot(key, "connection", 2, timeout=0):
        pass
