"""Fixtures of the command-line tests."""

from __future__ import annotations

import pytest
import trustme

# The real Dovecot and aiosmtpd peers (and their trustme CA) of the IMAP tests, for the
# doctor's end-to-end tests; session-scoped, started only when a test asks for them.
from imap.conftest import certs, dovecot, dovecot_nossl, dovecot_plain, smtp_server  # noqa: F401

from .fake_cli import cli, data_server  # noqa: F401  (the data commands' fixtures)
from .helpers import Captured


@pytest.fixture
def captured() -> Captured:
    return Captured()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A private CA for the scripted TLS servers of one test module."""
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    """That CA as a PEM file, for --ca-file."""
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)
