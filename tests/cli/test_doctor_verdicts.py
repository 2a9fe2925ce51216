"""The doctor and the adapter agree (issue 11).

* Courier-IMAP behind a customised greeting: the adapter recognises it by its capability
  fingerprint and refuses it before LOGIN; the doctor asks the same function, so it never
  signs in to a server the adapter would then refuse.
* ``connect()`` failing: only an unknown-option `ConfigurationError` is "options not
  accepted"; anything else (a ``TypeError`` from a broken plugin …) is reported as what it is.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import pytest
import trustme

import inboxlink
from inboxlink import errors
from inboxlink.adapters.imap._servers import unsupported_server
from inboxlink.doctor import DoctorOptions, Status, diagnose
from inboxlink.mailbox import Mailbox

from .helpers import Captured
from .servers import DnsServer, ImapServer

SECRET = "s3cret-Verdict-PW"
#: Courier's capability set without its name: ACL2=UNION and THREAD=ORDEREDSUBJECT, and
#: none of SPECIAL-USE, MOVE, CONDSTORE
FINGERPRINT_CAPS = ("IMAP4rev1", "UIDPLUS", "CHILDREN", "NAMESPACE", "THREAD=ORDEREDSUBJECT",
                    "THREAD=REFERENCES", "SORT", "QUOTA", "IDLE", "ACL", "ACL2=UNION",
                    "AUTH=PLAIN")
FINGERPRINT_GREETING = ("* OK [CAPABILITY " + " ".join(FINGERPRINT_CAPS)
                        + "] mail.example.test ready")


@pytest.fixture
def tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("imap.example.test").configure_cert(context)
    return context


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    with DnsServer({("example.test", "MX"): ["10 mx1.example.test."],
                    ("imap.example.test", "A"): ["127.0.0.1"]}) as server:
        yield server


def test_the_adapter_refuses_the_fingerprint() -> None:
    refusal = unsupported_server(FINGERPRINT_GREETING)
    assert isinstance(refusal, errors.UnsupportedServer)
    assert unsupported_server("* OK [CAPABILITY IMAP4rev1 SPECIAL-USE] Dovecot ready.") is None


def test_courier_by_fingerprint_gets_no_login_from_the_doctor(
        ca_file: str, tls: ssl.SSLContext, dns_server: DnsServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOXLINK_PASSWORD", SECRET)
    calls: list[str] = []

    def connect(url: str, **options: Any) -> Mailbox:
        calls.append(url)
        raise AssertionError("the doctor must not sign in")

    with ImapServer(tls, greeting=FINGERPRINT_GREETING, capabilities=FINGERPRINT_CAPS,
                    password=SECRET) as imap:
        captured = Captured()
        from inboxlink.cli import main

        code = main(["doctor", f"imaps://alice@imap.example.test:{imap.port}", "--timeout",
                     "5", "--ca-file", ca_file, "--smtp", "smtps://127.0.0.1:1"],
                    connect=connect, resolver=dns_server.resolver(), console=captured.console)
    out = captured.text
    assert code == 1
    assert imap.logins == []  # the probe sent no LOGIN …
    assert calls == []  # … and neither did the adapter
    assert "✗ server IMAP server  The server looks like Courier-IMAP" in out
    assert "recognised by its capabilities" in out
    assert SECRET not in out


def test_allow_courier_lifts_the_same_verdict() -> None:
    assert unsupported_server(FINGERPRINT_GREETING, allow_courier=True) is None
    # only the Courier rows: the option accepts that risk and no other
    assert unsupported_server(FINGERPRINT_GREETING, allow_courier=False) is not None


def test_the_doctor_honours_allow_courier(
        ca_file: str, tls: ssl.SSLContext, dns_server: DnsServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOXLINK_PASSWORD", SECRET)
    calls: list[dict[str, Any]] = []

    def connect(url: str, **options: Any) -> Mailbox:
        calls.append(options)
        raise errors.ConfigurationError("stop here", provider="imap")

    with ImapServer(tls, greeting=FINGERPRINT_GREETING, capabilities=FINGERPRINT_CAPS,
                    password=SECRET) as imap:
        captured = Captured()
        from inboxlink.cli import main

        main(["doctor", f"imaps://alice@imap.example.test:{imap.port}", "--timeout", "5",
              "--ca-file", ca_file, "--smtp", "smtps://127.0.0.1:1", "--allow-courier"],
             connect=connect, resolver=dns_server.resolver(), console=captured.console)
    out = captured.text
    # accepted as connect() will accept it: the probe logs in, connect() gets the option
    assert imap.logins == [("alice", True)]
    assert [c.get("allow_courier") for c in calls] == [True]
    assert "✗ server" not in out
    assert "Accepted because allow_courier=True" in out
    assert SECRET not in out


def _login_check(connect: Any, **options: Any) -> Any:
    report = diagnose("fake://alice@example.test", DoctorOptions(**options), connect=connect)
    failed = [c for c in report.checks if c.status is Status.FAIL]
    assert len(failed) == 1, report.checks
    return failed[0]


def test_an_unknown_option_is_options_not_accepted() -> None:
    check = _login_check(inboxlink.connect, connect_options={"no_such_option_7f3a": True})
    assert check.name == "options"
    assert isinstance(check.error, errors.ConfigurationError)
    assert "does not accept the options given" in check.detail
    assert "no_such_option_7f3a" in check.detail


def test_a_type_error_is_reported_as_what_it_is() -> None:
    def broken(url: str, **options: Any) -> Mailbox:
        raise TypeError("unsupported operand type(s) for +: 'int' and 'str'")

    check = _login_check(broken)
    assert "does not accept the options" not in check.detail
    assert "unexpected TypeError: unsupported operand type(s)" in check.detail
    assert isinstance(check.error, errors.InboxLinkError)
    assert isinstance(check.error.__cause__, TypeError)


def test_another_configuration_error_is_a_login_failure() -> None:
    def refusing(url: str, **options: Any) -> Mailbox:
        raise errors.ConfigurationError("No credentials given.", provider="fake")

    check = _login_check(refusing)
    assert check.name == "login"
    assert check.detail == "No credentials given."
    assert "does not accept the options" not in check.detail
