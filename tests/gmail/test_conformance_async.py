"""The conformance suite through the async face (`inboxlink.aio`) of the Gmail fixtures:
calls run in worker threads behind the per-mailbox limiter, with the same results."""

from __future__ import annotations

from inboxlink.testing import conformance
from inboxlink.testing.conformance.aio import AsyncFace

from .test_conformance import GmailFixtures


class TestGmailAsyncList(conformance.ListTests, AsyncFace, GmailFixtures):
    pass


class TestGmailAsyncFetch(conformance.FetchTests, AsyncFace, GmailFixtures):
    pass


class TestGmailAsyncSend(conformance.SendTests, AsyncFace, GmailFixtures):
    pass


class TestGmailAsyncSync(conformance.SyncTests, AsyncFace, GmailFixtures):
    pass


class TestGmailAsyncActions(conformance.ActionTests, AsyncFace, GmailFixtures):
    pass
