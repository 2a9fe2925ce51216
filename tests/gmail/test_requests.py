"""Round trips are the contract: listing and fetching are batched, never one request a message."""

from __future__ import annotations

import math

import pytest

from inboxlink import connect
from inboxlink.adapters.gmail import GmailMailbox
from inboxlink.testing.conformance import make_message

from .emulator import GmailEmulator
from .support import make_mailbox


def _fill(emulator: GmailEmulator, count: int) -> list[str]:
    return [emulator.deliver(make_message(n)) for n in range(count)]


def test_building_the_service_needs_no_network(emulator: GmailEmulator) -> None:
    make_mailbox(emulator)
    assert emulator.requests == []


@pytest.mark.parametrize(("total", "page", "batch"), [(230, 100, 50), (120, 500, 50), (60, 60, 25)])
def test_listing_counts(emulator: GmailEmulator, total: int, page: int, batch: int) -> None:
    _fill(emulator, total)
    mailbox = make_mailbox(emulator, batch_size=batch)
    mailbox.folders()
    emulator.reset_counts()
    before = mailbox.requests_made
    seen = list(mailbox.iter_messages("INBOX", page_size=page))
    assert len(seen) == total
    pages = math.ceil(total / page)
    per_page = [min(page, total - i * page) for i in range(pages)]
    batches = sum(math.ceil(n / batch) for n in per_page)
    assert emulator.requests.count(("GET", "/gmail/v1/users/me/messages")) == pages
    assert emulator.requests.count(("POST", "/batch/gmail/v1")) == batches
    assert len(emulator.requests) == pages + batches
    assert max(emulator.batch_sizes) <= batch
    assert emulator.calls.count("messages.get") == total
    assert mailbox.requests_made - before == pages + batches


def test_summaries_ask_only_for_the_needed_headers(emulator: GmailEmulator) -> None:
    seen: list[str] = []
    original = emulator.handle

    def spy(method: str, target: str, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        seen.append(target)
        return original(method, target, *args, **kwargs)  # type: ignore[arg-type]

    emulator.handle = spy  # type: ignore[method-assign]
    _fill(emulator, 2)
    make_mailbox(emulator).list_messages("INBOX")
    gets = [t for t in seen if "/messages/" in t]
    assert len(gets) == 2
    for target in gets:
        assert "format=metadata" in target
        assert target.count("metadataHeaders=") == 8
        for header in ("Subject", "From", "Message-ID", "References"):
            assert f"metadataHeaders={header}" in target


def test_fetch_many_is_batched_in_order(emulator: GmailEmulator) -> None:
    ids = _fill(emulator, 120)
    mailbox = make_mailbox(emulator)
    wanted = list(reversed(ids))
    messages = mailbox.fetch_many(wanted)
    assert [m.id for m in messages] == wanted
    assert emulator.requests == [("POST", "/batch/gmail/v1")] * 3
    assert emulator.batch_sizes == [50, 50, 20]
    assert b"Message-ID: <conformance0@example.net>" in messages[-1].raw


def test_batches_follow_the_endpoint_override(emulator: GmailEmulator) -> None:
    # The trap: service.new_batch_http_request() would post to gmail.googleapis.com.
    _fill(emulator, 3)
    mailbox = make_mailbox(emulator)
    assert mailbox.settings.batch_uri == emulator.url + "batch/gmail/v1"
    mailbox.list_messages("INBOX")
    assert ("POST", "/batch/gmail/v1") in emulator.requests


def test_batch_size_is_capped_at_gmails_limit(emulator: GmailEmulator) -> None:
    with pytest.raises(ValueError, match="100"):
        make_mailbox(emulator, batch_size=101)


def test_only_throttled_calls_of_a_batch_are_repeated(emulator: GmailEmulator) -> None:
    ids = _fill(emulator, 10)
    body = {"error": {"code": 429, "message": "Too many concurrent requests for user.",
                      "errors": [{"reason": "rateLimitExceeded", "domain": "global",
                                  "message": "Too many concurrent requests for user."}]}}
    emulator.fail("messages.get", 429, body, times=3)
    messages = make_mailbox(emulator).fetch_many(ids)
    assert [m.id for m in messages] == ids
    assert emulator.batch_sizes == [10, 3]
    assert emulator.calls.count("messages.get") == 13


def test_connect_by_url(emulator: GmailEmulator) -> None:
    _fill(emulator, 1)
    mailbox = connect(f"gmail://{emulator.address}", access_token="good-token",
                      api_endpoint=emulator.url)
    assert isinstance(mailbox, GmailMailbox)
    assert mailbox.address == emulator.address
    assert len(mailbox.list_messages("INBOX").items) == 1
    assert "good-token" not in repr(mailbox) + repr(mailbox.settings)


def test_discovery_document_is_parsed_once_per_process(emulator: GmailEmulator) -> None:
    from inboxlink.adapters.gmail import connection as service

    make_mailbox(emulator)
    before = service.discovery_document.cache_info()
    make_mailbox(emulator)
    make_mailbox(emulator)
    after = service.discovery_document.cache_info()
    assert after.misses == before.misses
    assert after.hits == before.hits + 2
    assert service.discovery_document()["rootUrl"] == "https://gmail.googleapis.com/"
