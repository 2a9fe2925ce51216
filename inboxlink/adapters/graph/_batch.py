"""Graph JSON ``$batch``: up to 20 requests in one POST, each judged by its own status.

Shared by listing folders, fetching, the change feed and bulk actions. Throttled items are
re-sent alone after their own Retry-After; for requests that must never run twice (move,
permanentDelete) only statuses that prove the item was not executed are re-sent.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from kiota_abstractions.method import Method

from inboxlink.retry_after import retry_after_from_headers

if TYPE_CHECKING:
    from inboxlink.adapters.graph.connection import GraphSession
    from inboxlink.retry import RetryPolicy

__all__ = ["BATCH_SIZE", "NOT_EXECUTED", "RETRY_STATUSES", "chunks", "error_code", "run",
           "run_all", "status_of"]

T = TypeVar("T")

#: Graph's limit of requests in one JSON $batch
BATCH_SIZE = 20
#: item statuses re-sent for idempotent requests (GET, PATCH)
RETRY_STATUSES: frozenset[int] = frozenset({429, 503, 504})
#: item statuses that prove the request was refused before it ran: the only ones re-sent for
#: a move or delete (a 503/504 may come after the work was done)
NOT_EXECUTED: frozenset[int] = frozenset({429})


def chunks(items: list[T], size: int = BATCH_SIZE) -> Iterable[list[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def status_of(response: dict[str, Any]) -> int:
    """An item's HTTP status (500 when the answer lacks one)."""
    try:
        return int(response.get("status", 500))
    except (TypeError, ValueError):
        return 500


def error_code(response: dict[str, Any]) -> str:
    """The Graph error code inside an item's body ('' when none)."""
    body = response.get("body")
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("code") or "")
    return ""


async def run(session: GraphSession, requests: list[dict[str, Any]], policy: RetryPolicy,
              retry_statuses: Collection[int] = RETRY_STATUSES) -> dict[str, dict[str, Any]]:
    """Run up to 20 requests in one ``$batch``; items with ``retry_statuses`` are re-sent alone.

    The outer request succeeds even when items fail, so each item is judged by its own
    status, and throttled items are re-sent when ``policy`` says so (`RetryPolicy.resend_wait`:
    its back-off, at least the items' Retry-After, drawn on the public call's one retry
    budget shared with the policy around the call — ``max_attempts`` tries in all, never
    ``max_attempts²``).
    """
    assert len(requests) <= BATCH_SIZE
    started = time.monotonic()
    results: dict[str, dict[str, Any]] = {}
    pending = list(requests)
    attempt = 0
    while pending:
        attempt += 1
        info = session.request(Method.POST, "/$batch")
        info.set_stream_content(json.dumps({"requests": pending}).encode(), "application/json")
        answer = await session.send_json(info)
        by_id = {str(r.get("id")): r for r in answer.get("responses", [])}
        again: list[dict[str, Any]] = []
        hints: list[float | None] = []
        for item in pending:
            response = by_id.get(item["id"], {"status": 500, "body": None})
            results[item["id"]] = response
            if status_of(response) in retry_statuses:
                again.append(item)
                hints.append(retry_after_from_headers(response.get("headers")))
        wait = policy.resend_wait(attempt, started, hints) if again else None
        if wait is None:
            break
        await policy.pause(wait)
        pending = again
    return results


async def run_all(session: GraphSession, requests: list[dict[str, Any]], policy: RetryPolicy,
                  retry_statuses: Collection[int] = RETRY_STATUSES) -> dict[str, dict[str, Any]]:
    """Any number of requests, 20 per ``$batch``, the batches in flight together.

    The mailbox's limiter caps how many are in flight (Graph allows 4 per mailbox). Every
    batch runs to its end even when another fails, so no item's outcome is lost; the first
    failure is raised afterwards.
    """
    outcomes = await asyncio.gather(
        *(run(session, group, policy, retry_statuses) for group in chunks(requests)),
        return_exceptions=True)
    results: dict[str, dict[str, Any]] = {}
    failure: BaseException | None = None
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            failure = failure or outcome
        else:
            results.update(outcome)
    if failure is not None:
        raise failure
    return results
