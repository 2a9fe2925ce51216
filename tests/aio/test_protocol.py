"""`AsyncMailbox` has every `Mailbox` member, and both async faces satisfy it at run time."""

from __future__ import annotations

import inspect

import pytest

from inboxlink import aio
from inboxlink.aio.native import NativeAsyncMailbox
from inboxlink.aio.threaded import ThreadedAsyncMailbox
from inboxlink.mailbox import Mailbox
from inboxlink.testing import FakeMailbox

#: members of the synchronous protocol the async one replaces or does not need
_SYNC_ONLY = {"close", "__enter__", "__exit__", "from_url"}
_ASYNC_ONLY = {"aclose", "__aenter__", "__aexit__"}


def _members(protocol: type) -> set[str]:
    # Methods and properties, and the attributes a protocol only annotates.
    annotated = {name for klass in protocol.__mro__ for name in vars(klass).get(
        "__annotations__", {})}
    return {name for name in {*dir(protocol), *annotated}
            if not name.startswith("_") or name in {"__enter__", "__exit__", "__aenter__",
                                                    "__aexit__"}} - set(dir(object))


def test_every_mailbox_member_has_its_async_twin() -> None:
    sync, async_ = _members(Mailbox), _members(aio.AsyncMailbox)
    assert len(sync) >= 25  # the walk found the protocol's members
    assert sync - _SYNC_ONLY == async_ - _ASYNC_ONLY


@pytest.mark.parametrize("name", sorted(_members(Mailbox) - _SYNC_ONLY - {"provider", "address",
                                                                          "capabilities"}))
def test_each_method_is_a_coroutine_or_an_async_iterator(name: str) -> None:
    for face in (ThreadedAsyncMailbox, NativeAsyncMailbox):
        method = getattr(face, name)
        assert (inspect.iscoroutinefunction(method) or inspect.isasyncgenfunction(method)
                or name == "watch"), f"{face.__name__}.{name}"


def test_both_faces_satisfy_the_protocol_at_run_time() -> None:
    fake = FakeMailbox("alice@example.com")
    assert isinstance(ThreadedAsyncMailbox(fake), aio.AsyncMailbox)
    assert isinstance(NativeAsyncMailbox(fake), aio.AsyncMailbox)
    assert isinstance(aio.wrap(fake).watch(), aio.AsyncWatch)
