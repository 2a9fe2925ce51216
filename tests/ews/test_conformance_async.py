"""The whole conformance suite through the async face (`inboxlink.aio`) on the EWS emulator: every
test class of `test_conformance` again (`conformance.aio.async_twins`); its calls run in worker
threads behind the per-mailbox limiter, with the same results."""

from __future__ import annotations

from inboxlink.testing.conformance.aio import async_twins

from . import test_conformance

globals().update(async_twins(test_conformance))
