"""Failures the Graph adapter meets outside Graph's error bodies are rows of its table too:
httpx transport failures (by class), unexpected answers (by code), failed ``$batch`` items."""

from __future__ import annotations

import pathlib
import re

import httpx
import pytest

from inboxlink import errors
from inboxlink.adapters.graph.errors import (
    MALFORMED_RESPONSE,
    TABLE,
    ErrorContext,
    ItemFailure,
    MalformedResponse,
    UnexpectedAnswer,
    extract,
)
from inboxlink.translate import Signal, translating


def _httpx_classes() -> list[type[httpx.HTTPError]]:
    found: list[type[httpx.HTTPError]] = []
    pending: list[type[httpx.HTTPError]] = [httpx.HTTPError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def _expected(cls: type[BaseException]) -> type[errors.InboxLinkError]:
    if issubclass(cls, (httpx.ConnectError, httpx.ConnectTimeout)):
        return errors.ServerUnreachable
    if issubclass(cls, httpx.TimeoutException):
        return errors.OperationTimeout
    return errors.ConnectionLost


def _raise(exc: BaseException) -> errors.InboxLinkError:
    with pytest.raises(errors.InboxLinkError) as info, \
            translating(TABLE, extract, ErrorContext()):
        raise exc
    assert info.value.__cause__ is exc
    return info.value


@pytest.mark.parametrize("cls", _httpx_classes(), ids=lambda c: c.__name__)
def test_every_httpx_failure_is_a_table_row(cls: type[httpx.HTTPError]) -> None:
    if issubclass(cls, httpx.HTTPStatusError):
        exc: httpx.HTTPError = cls("boom", request=httpx.Request("GET", "https://x/"),
                                   response=httpx.Response(500))
    else:
        exc = cls("boom")
    signal = extract(exc, ErrorContext())
    assert isinstance(signal, Signal)
    rule = TABLE.match(signal)
    assert rule is not None
    assert rule.code == signal.code  # found by its code, not by a status or a fallback
    assert type(_raise(exc)) is _expected(cls)


def test_a_subclass_httpx_adds_later_lands_on_its_parents_row() -> None:
    class SlowLorisTimeout(httpx.ReadTimeout):
        pass

    error = _raise(SlowLorisTimeout("the server trickled bytes"))
    assert isinstance(error, errors.OperationTimeout)
    assert error.code == "ReadTimeout"


def test_unreachable_names_the_firewall_and_redacts_the_url() -> None:
    error = _raise(httpx.ConnectError(
        "connect failed for https://graph.example/?access_token=s3cr3t"))
    assert isinstance(error, errors.ServerUnreachable)
    assert error.code == "ConnectError"
    assert "firewall" in error.remedy
    assert "s3cr3t" not in error.message


def test_a_malformed_answer_is_a_transient_row() -> None:
    error = _raise(MalformedResponse(b"<html>proxy says hello</html>"))
    assert isinstance(error, errors.TransientError)
    assert error.code == MALFORMED_RESPONSE
    assert "proxy" in error.remedy
    assert "<html>proxy" in error.message


def test_a_failed_batch_item_is_explained_by_the_table() -> None:
    error = _raise(ItemFailure({"status": 429, "headers": {"Retry-After": "9"},
                                "body": {"error": {"code": "ApplicationThrottled",
                                                   "message": "MailboxConcurrency"}}}))
    assert isinstance(error, errors.RateLimited)
    assert error.retry_after == 9
    assert error.code == "ApplicationThrottled"


def test_programming_errors_pass_untouched() -> None:
    with pytest.raises(KeyError), translating(TABLE, extract, ErrorContext()):
        raise KeyError("bug")


def _raised_codes() -> set[str]:
    package = pathlib.Path(extract.__code__.co_filename).parent
    found: set[str] = set()
    for path in package.glob("*.py"):
        found.update(re.findall(r'UnexpectedAnswer\(\s*"([^"]+)"', path.read_text("utf-8")))
    return found


def test_every_unexpected_answer_the_adapter_raises_has_its_row() -> None:
    codes = _raised_codes()
    assert {"no-delta-link", "foreign-link", "no-subscription"} <= codes
    for code in codes:
        error = _raise(UnexpectedAnswer(code, "Graph said something odd"))
        assert isinstance(error, errors.TransientError)
        assert error.code == code
        rule = TABLE.match(Signal("graph", code=code))
        assert rule is not None
        assert rule.remedy
