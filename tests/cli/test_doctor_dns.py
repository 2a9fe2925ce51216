"""The doctor when DNS itself fails: a DNS that never answers, and one that says "no such
domain" for everything. Consumer domains are known without DNS."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from inboxlink.cli import build_parser, main
from inboxlink.doctor import DoctorOptions
from inboxlink.doctor.consumer import CONSUMER_DOMAINS
from inboxlink.doctor.detect import Dns, Endpoint, plan_for

from .helpers import Captured
from .servers import DnsServer


@pytest.fixture
def silent_dns() -> Iterator[DnsServer]:
    with DnsServer({}, answer=False) as server:
        yield server


@pytest.fixture
def nxdomain_dns() -> Iterator[DnsServer]:
    with DnsServer({}) as server:  # no records: every name "does not exist"
        yield server


def _checks(out: str) -> list[str]:
    """The check lines of the report (✓ ✗ ! -), without the heading and the remedy lines."""
    return [line for line in out.splitlines() if line[:2] in {"✓ ", "✗ ", "! ", "- "}]


def _doctor(dns: DnsServer, *argv: str) -> tuple[int, str, float]:
    captured = Captured()
    started = time.monotonic()
    code = main(["doctor", *argv, "--no-prompt"], connect=_no_login,
                resolver=dns.resolver(), console=captured.console)
    return code, captured.text, time.monotonic() - started


def _no_login(url: str, **options: Any) -> Any:
    raise AssertionError("the login must not be tried when DNS fails")


def test_dns_that_never_answers_is_one_clear_line(silent_dns: DnsServer) -> None:
    code, out, elapsed = _doctor(silent_dns, "alice@example.org", "--dns-timeout", "1")
    assert code == 1
    assert _checks(out) == ["✗ dns DNS  DNS is not answering (no reply from 127.0.0.1 within "
                            "1 s).", "✗ This mailbox cannot be connected yet: 1 check(s) failed."]
    assert "ServerUnreachable (DNS_NOT_ANSWERING) → Check this machine's network connection" \
        in out
    # one look-up was tried, never the resolver's own timeout text
    assert {name for name, _ in silent_dns.queries} == {"example.org"}
    assert "timed out" not in out.lower()
    assert elapsed < 1 + 2  # one DNS timeout, not one per name


def test_consumer_domain_with_silent_dns_is_known_and_dns_blamed(silent_dns: DnsServer) -> None:
    code, out, elapsed = _doctor(silent_dns, "alice@gmail.com", "--dns-timeout", "1", "--json")
    assert code == 1
    checks = json.loads(out)["checks"]
    assert [(c["stage"], c["name"], c["status"]) for c in checks] == [
        ("provider", "provider", "pass"), ("dns", "DNS", "fail")]
    assert checks[0]["detail"].startswith("gmail: gmail.com is Gmail (known without DNS)")
    assert checks[1]["error"]["code"] == "DNS_NOT_ANSWERING"
    # the MX of gmail.com was never asked; only the API host's address, once
    assert ("gmail.com", "MX") not in silent_dns.queries
    assert {name for name, _ in silent_dns.queries} == {"gmail.googleapis.com"}
    assert elapsed < 1 + 2


def test_dns_saying_nxdomain_for_everything_is_reported_as_broken_dns(
        nxdomain_dns: DnsServer) -> None:
    code, out, _ = _doctor(nxdomain_dns, "alice@example.org")
    assert code == 1
    assert _checks(out)[:-1] == [
        "✗ dns DNS  DNS is failing: it says even gmail.com does not exist, so its answer for "
        "example.org cannot be trusted."]
    assert "Check the e-mail address for typos" not in out


def test_gmail_address_with_nxdomain_dns_never_says_gmail_does_not_exist(
        nxdomain_dns: DnsServer) -> None:
    code, out, _ = _doctor(nxdomain_dns, "alice@gmail.com")
    assert code == 1
    assert _checks(out)[:-1] == [
        "✓ provider  gmail: gmail.com is Gmail (known without DNS): the gmail adapter is used",
        "✗ dns DNS  DNS is failing: it says even gmail.com does not exist, so its answer for "
        "gmail.googleapis.com cannot be trusted."]
    assert "The domain gmail.com does not exist" not in out


def test_a_real_nxdomain_is_still_a_typo(nxdomain_dns: DnsServer) -> None:
    """With a DNS that knows gmail.com, an unknown domain is the address's fault."""
    nxdomain_dns.records[("gmail.com", "MX")] = ["5 gmail-smtp-in.l.google.com."]
    code, out, _ = _doctor(nxdomain_dns, "alice@exmaple-typo.org")
    assert code == 1
    assert "✗ provider  The domain exmaple-typo.org does not exist in DNS." in out
    assert "Check the e-mail address for typos." in out


class _NoDns:
    """A resolver that must not be asked."""

    nameservers = ("192.0.2.1",)

    def resolve(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"DNS asked: {args}")


@pytest.mark.parametrize(("address", "provider", "imap_host"), [
    ("a@gmail.com", "gmail", None), ("a@googlemail.com", "gmail", None),
    ("a@outlook.com", "graph", None), ("a@hotmail.com", "graph", None),
    ("a@live.com", "graph", None), ("a@msn.com", "graph", None),
    ("a@yahoo.com", "imap", "imap.mail.yahoo.com"), ("a@icloud.com", "imap", "imap.mail.me.com"),
    ("a@me.com", "imap", "imap.mail.me.com"), ("a@aol.com", "imap", "imap.aol.com"),
])
def test_consumer_domains_need_no_dns(address: str, provider: str, imap_host: str | None) -> None:
    plan = plan_for(address, Dns(_NoDns()))
    assert plan.provider == provider
    assert "known without DNS" in plan.reason
    if imap_host:
        assert plan.imap[0] == Endpoint("imap", imap_host, 993, "implicit")
        assert plan.login_url == f"imaps://{address.replace('@', '%40')}@{imap_host}"
    else:
        assert plan.login_url == f"{provider}://{address}"


def test_consumer_table_covers_the_big_domains() -> None:
    assert {"gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
            "yahoo.com", "icloud.com", "me.com", "aol.com"} <= set(CONSUMER_DOMAINS)


def test_dns_steps_are_bounded_by_default() -> None:
    assert DoctorOptions().dns_timeout == 5.0
    args = build_parser().parse_args(["doctor", "alice@example.org"])
    assert args.dns_timeout == 5.0
    # never longer than the network step timeout either
    from inboxlink.doctor.cli import _options

    args = build_parser().parse_args(["doctor", "alice@example.org", "--timeout", "2",
                                      "--no-prompt"])
    assert _options(args).dns_timeout == 2.0


