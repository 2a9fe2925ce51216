"""Fixtures of the command-line tests."""

from __future__ import annotations

import pytest

# The real Dovecot and aiosmtpd peers (and their trustme CA) of the IMAP tests, for the
# doctor's end-to-end tests; session-scoped, started only when a test asks for them.
from imap.conftest import certs, dovecot, dovecot_nossl, dovecot_plain, smtp_server  # noqa: F401

from .helpers import Captured


@pytest.fixture
def captured() -> Captured:
    return Captured()
