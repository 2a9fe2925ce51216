"""The conformance suite through the async face (`inboxlink.aio`) of the Graph fixtures:
calls run in worker threads behind the per-mailbox limiter, with the same results."""

from __future__ import annotations

from inboxlink.testing import conformance
from inboxlink.testing.conformance.aio import AsyncFace

from .test_conformance import GraphFixtures


class TestGraphAsyncList(conformance.ListTests, AsyncFace, GraphFixtures):
    pass


class TestGraphAsyncFetch(conformance.FetchTests, AsyncFace, GraphFixtures):
    pass


class TestGraphAsyncSend(conformance.SendTests, AsyncFace, GraphFixtures):
    pass


class TestGraphAsyncSync(conformance.SyncTests, AsyncFace, GraphFixtures):
    pass


class TestGraphAsyncActions(conformance.ActionTests, AsyncFace, GraphFixtures):
    pass
