"""The conformance suite through the async face (`inboxlink.aio`) of the Dovecot fixtures:
calls run in worker threads behind the per-mailbox limiter, with the same results."""

from __future__ import annotations

from inboxlink.testing import conformance
from inboxlink.testing.conformance.aio import AsyncFace

from .test_conformance import DovecotFixtures


class TestDovecotAsyncList(conformance.ListTests, AsyncFace, DovecotFixtures):
    pass


class TestDovecotAsyncFetch(conformance.FetchTests, AsyncFace, DovecotFixtures):
    pass


class TestDovecotAsyncSend(conformance.SendTests, AsyncFace, DovecotFixtures):
    pass


class TestDovecotAsyncSync(conformance.SyncTests, AsyncFace, DovecotFixtures):
    pass


class TestDovecotAsyncActions(conformance.ActionTests, AsyncFace, DovecotFixtures):
    pass
