"""The conformance suite through the async face (`inboxlink.aio`) of the Ews fixtures:
calls run in worker threads behind the per-mailbox limiter, with the same results."""

from __future__ import annotations

from inboxlink.testing import conformance
from inboxlink.testing.conformance.aio import AsyncFace

from .test_conformance import EwsFixtures


class TestEwsAsyncList(conformance.ListTests, AsyncFace, EwsFixtures):
    pass


class TestEwsAsyncFetch(conformance.FetchTests, AsyncFace, EwsFixtures):
    pass


class TestEwsAsyncSend(conformance.SendTests, AsyncFace, EwsFixtures):
    pass


class TestEwsAsyncSync(conformance.SyncTests, AsyncFace, EwsFixtures):
    pass


class TestEwsAsyncActions(conformance.ActionTests, AsyncFace, EwsFixtures):
    pass
