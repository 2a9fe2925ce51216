"""Real peers for the IMAP/SMTP adapter: Dovecot instances and aiosmtpd servers, per session.

Instances (each from its own config in a temp dir):
  * ``dovecot``: SPECIAL-USE namespace, implicit TLS + STARTTLS, special accounts that are
    refused with provider texts (passwd-file ``nologin reason=``).
  * ``dovecot_plain``: no SPECIAL-USE (folders found by name), delimiter ``.``.
  * ``dovecot_nossl``: no TLS at all, so STARTTLS is not offered.
  * ``dovecot_basic``: Dovecot's capabilities without CONDSTORE, QRESYNC, MOVE and IDLE,
    the way older or minimal servers answer (the fallback paths of sync, move and watch).
The certificate names ``127.0.0.1`` and ``mail.example.test`` only: connecting to
``localhost`` is a name mismatch.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trustme

from .dovecot import BASIC_CAPABILITIES, Dovecot
from .helpers import SPECIAL_USERS, Certs
from .smtp_peer import SmtpServer


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    base = tmp_path_factory.mktemp("certs")
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "mail.example.test")
    chain, key, ca_file = base / "chain.pem", base / "key.pem", base / "ca.pem"
    leaf.private_key_and_cert_chain_pem.write_to_path(str(chain))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    # Dovecot's unprivileged processes never read these (the master does), but keep the
    # directory readable for the login processes' benefit.
    base.chmod(0o755)
    return Certs(ca, str(ca_file), str(chain), str(key))


def _start(certs: Certs, **kwargs: object) -> Dovecot:
    server = Dovecot(certs.chain_file, certs.key_file, **kwargs)  # type: ignore[arg-type]
    server.ca_file = certs.ca_file
    return server


@pytest.fixture(scope="session")
def dovecot(certs: Certs) -> Iterator[Dovecot]:
    # Every test that needs an empty account takes a fresh one: several hundred in all.
    server = _start(certs, name="main", users=SPECIAL_USERS, fresh_users=1000)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dovecot_plain(certs: Certs) -> Iterator[Dovecot]:
    server = _start(certs, name="plain", special_use=False, separator=".", fresh_users=20)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dovecot_shared(certs: Certs) -> Iterator[Dovecot]:
    # No special-use in the personal namespace; other users' and public folders listed.
    server = _start(certs, name="shared", special_use=False, shared=True, fresh_users=12)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dovecot_nossl(certs: Certs) -> Iterator[Dovecot]:
    server = _start(certs, name="nossl", ssl=False, fresh_users=5)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dovecot_basic(certs: Certs) -> Iterator[Dovecot]:
    server = _start(certs, name="basic", capabilities=BASIC_CAPABILITIES, fresh_users=150)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def smtp_server(certs: Certs) -> Iterator[SmtpServer]:
    server = SmtpServer(certs.server_context(), users={}, tokens={})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def smtps_server(certs: Certs) -> Iterator[SmtpServer]:
    server = SmtpServer(certs.server_context(), implicit=True)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _no_retry_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOXLINK_NO_RETRY_WAIT", "1")


