"""The chain bookkeeping on a real redis-server: a round runs only when it is current and
alone, hands over only while it holds its lease, and a lost chain is restarted only once
its lease expired — so a mailbox never has two rounds running."""

from __future__ import annotations

import time
import uuid

import pytest
import redis

from inboxlink.contrib._chains import Chains, Claim

from .redis_server import RedisServer


@pytest.fixture
def chains(redis_server: RedisServer) -> Chains:
    client = redis.Redis.from_url(redis_server.url)
    return Chains(client, f"c:{uuid.uuid4().hex}", lease=0.5, grace=0.3)


def test_a_round_runs_when_current_and_alone(chains: Chains) -> None:
    first = chains.start("alice", ["INBOX"], 0)
    assert chains.claim("alice", "someone-else") is Claim.STALE
    assert chains.claim("alice", first) is Claim.RUN
    assert chains.claim("alice", first) is Claim.BUSY  # a redelivered copy waits
    assert chains.finish("alice", first, "second", 0)
    assert chains.current("alice") == "second"
    assert chains.claim("alice", first) is Claim.STALE  # the copy ends once handed over
    assert chains.claim("alice", "second") is Claim.RUN


def test_a_restart_waits_for_the_running_round(chains: Chains) -> None:
    old = chains.start("bob", ["INBOX"], 0)
    assert chains.claim("bob", old) is Claim.RUN
    new = chains.start("bob", ["INBOX"], 0)  # while the old round runs
    assert chains.claim("bob", new) is Claim.BUSY
    assert not chains.finish("bob", old, "its-successor", 0)  # replaced: hands over nothing
    assert chains.current("bob") == new
    assert chains.claim("bob", new) is Claim.RUN


def test_a_running_round_keeps_its_lease(chains: Chains) -> None:
    first = chains.start("carol", ["INBOX"], 0)
    assert chains.claim("carol", first) is Claim.RUN
    with chains.holding("carol", first):
        time.sleep(1.2)  # more than twice the lease
        assert list(chains.lost()) == []
        assert chains.restart("carol") is None
    assert chains.finish("carol", first, "next", 0)


def test_a_lost_chain_is_restarted_once_its_lease_expired(chains: Chains) -> None:
    first = chains.start("dave", ["INBOX", "Sent"], 0)
    assert chains.claim("dave", first) is Claim.RUN
    # the round hands over, then cannot schedule its successor (Redis went away)
    assert chains.finish("dave", first, "never-sent", 0)
    assert chains.restart("dave") is None  # the successor may still come
    time.sleep(0.4)
    assert list(chains.lost()) == [("dave", ["INBOX", "Sent"])]
    new = chains.restart("dave")
    assert new is not None
    assert chains.restart("dave") is None  # once
    assert chains.claim("dave", "never-sent") is Claim.STALE
    assert chains.claim("dave", new) is Claim.RUN


def test_a_killed_round_loses_its_lease_and_a_stopped_mailbox_is_never_restarted(
        chains: Chains) -> None:
    first = chains.start("erin", ["INBOX"], 0)
    assert chains.claim("erin", first) is Claim.RUN  # and its worker dies: no renewal
    time.sleep(0.6)
    assert [key for key, _ in chains.lost()] == ["erin"]
    chains.stop("erin")
    assert list(chains.lost()) == []
    assert chains.restart("erin") is None
    assert chains.current("erin") is None
