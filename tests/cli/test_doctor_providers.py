"""``inboxlink doctor`` provider checks end to end: the real adapters against the emulators.

Graph and Gmail run over plain HTTP on loopback (``--api-url``), EWS over TLS with a test CA
(``--ews-url`` + ``--ca-file``); DNS answers come from a server the test controls. Each
provider has a good mailbox and every failure variant its checks explain.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
import trustme
from azure.core.credentials import AccessToken
from ews.emulator import EwsEmulator
from gmail import bodies
from gmail.emulator import GmailEmulator
from graph.emulator import GraphEmulator, make_token

from inboxlink import connect, errors
from inboxlink.adapters.graph import PRIMARY_ALIAS_REMEDY
from inboxlink.cli import main
from inboxlink.doctor import DoctorOptions, Status, diagnose

from .helpers import Captured
from .servers import DnsServer

PASSWORD = "s3cret-Ews-PW"
EWS_ADDRESS = "alice@example.com"


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOXLINK_NO_RETRY_WAIT", "1")
    monkeypatch.delenv("INBOXLINK_ACCESS_TOKEN", raising=False)
    monkeypatch.delenv("INBOXLINK_PASSWORD", raising=False)


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    with DnsServer({
        # any working DNS knows gmail.com (the doctor double-checks "no such domain")
        ("gmail.com", "MX"): ["5 gmail-smtp-in.l.google.com."],
        ("contoso.com", "MX"): ["0 contoso-com.mail.protection.outlook.com."],
        ("onprem.test", "MX"): ["10 mail.onprem.test."],
    }) as server:
        yield server


def doctor(argv: list[str], dns_server: DnsServer) -> tuple[int, str]:
    captured = Captured()
    code = main(["doctor", *argv, "--timeout", "10", "--no-prompt"],
                resolver=dns_server.resolver(), console=captured.console)
    return code, captured.text


def checks_of(output: str) -> dict[str, dict[str, Any]]:
    """The JSON report's checks by ``"stage name"``."""
    return {f"{c['stage']} {c['name']}": c for c in json.loads(output)["checks"]}


# ---------------------------------------------------------------------------------- Graph
@pytest.fixture
def graph(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
          ) -> Iterator[GraphEmulator]:
    options: dict[str, Any] = getattr(request, "param", {})
    emulator = GraphEmulator(**options).start()
    monkeypatch.setenv("INBOXLINK_ACCESS_TOKEN", emulator.token)
    yield emulator
    emulator.stop()


def graph_doctor(emulator: GraphEmulator, dns_server: DnsServer, *extra: str
                 ) -> tuple[int, str]:
    return doctor([f"graph://{emulator.address}", "--api-url", emulator.base_url, *extra],
                  dns_server)


def test_graph_good_mailbox(graph: GraphEmulator, dns_server: DnsServer) -> None:
    code, out = graph_doctor(graph, dns_server)
    assert code == 0, out
    port = graph.base_url.split(":")[2].split("/")[0]
    assert f"✓ tcp HTTPS 127.0.0.1:{port} (plain HTTP)  port {port} open" in out
    assert "- tls HTTPS 127.0.0.1" in out
    assert ("✓ graph scopes  delegated scopes granted: Mail.ReadWrite, Mail.Send, "
            "offline_access, openid, email") in out
    assert "✓ login  signed in as alice@contoso.com (graph)" in out
    assert "✓ graph mailbox  the account has an Exchange Online mailbox and its REST API" in out
    assert "✓ graph primary alias  alice@contoso.com is the account's own address" in out
    assert "✓ folders Sent folder  'Sent Items'" in out
    assert graph.token not in out
    # the checks come in this order: scopes before any request, the rest after the login
    lines = [line.split("  ")[0] for line in out.splitlines() if line[:1] in "✓!✗-"]
    assert lines.index("✓ graph scopes") < lines.index("✓ login") < lines.index(
        "✓ graph mailbox") < lines.index("✓ folders")


@pytest.mark.parametrize("graph", [{"token": make_token("Mail.ReadWrite openid email")}],
                         indirect=True)
def test_graph_missing_send_scope(graph: GraphEmulator, dns_server: DnsServer) -> None:
    code, out = graph_doctor(graph, dns_server, "--json")
    assert code == 1
    scopes = checks_of(out)["graph scopes"]
    assert scopes["status"] == "fail"
    assert scopes["error"]["type"] == "InsufficientScopes"
    assert "lacks Mail.Send" in scopes["detail"]
    assert "Mail.Send" in scopes["error"]["remedy"]
    assert scopes["data"]["missing"] == ["Mail.Send", "offline_access"]
    assert scopes["data"]["granted"] == ["email", "mail.readwrite", "openid"]
    # reading works, so the rest is still checked and reported
    assert checks_of(out)["login login"]["status"] == "pass"
    assert checks_of(out)["graph mailbox"]["status"] == "pass"


@pytest.mark.parametrize("graph", [{"token": make_token("Mail.Send openid email")}],
                         indirect=True)
def test_graph_missing_readwrite_scope(graph: GraphEmulator, dns_server: DnsServer) -> None:
    code, out = graph_doctor(graph, dns_server)
    assert code == 1
    assert "✗ graph scopes  The access token lacks Mail.ReadWrite" in out
    assert "InsufficientScopes (scp) →" in out
    # the refused folder listing is this same failure, not a second one or a login failure
    assert out.count("✗ graph scopes") == 1
    assert "- graph mailbox  not checked: the scopes check failed" in out
    assert "✗ login" not in out
    assert "1 check(s) failed" in out


@pytest.mark.parametrize("graph", [{"token": make_token(None, roles=["Mail.ReadWrite", "Mail.Send"])}],
                         indirect=True)
def test_graph_application_permissions(graph: GraphEmulator, dns_server: DnsServer) -> None:
    code, out = graph_doctor(graph, dns_server, "--json")
    scopes = checks_of(out)["graph scopes"]
    assert scopes["status"] == "pass", scopes
    assert scopes["detail"] == "application permissions granted: Mail.ReadWrite, Mail.Send"
    assert scopes["data"]["app_only"] is True
    assert code == 0


def test_graph_rest_api_not_enabled_names_mx(graph: GraphEmulator,
                                             dns_server: DnsServer) -> None:
    graph.fail(404, "MailboxNotEnabledForRESTAPI", "REST API is not yet supported for this "
               "mailbox.", path=r"/mailFolders", times=10)
    code, out = graph_doctor(graph, dns_server)
    assert code == 1
    assert "✓ graph scopes" in out
    assert "✗ graph mailbox  " in out
    assert "RestApiNotEnabled (MailboxNotEnabledForRESTAPI) →" in out
    assert "IMAP or EWS" in out
    assert ("! dns MX  Mail for contoso.com is delivered to "
            "contoso-com.mail.protection.outlook.com (microsoft365). Microsoft 365 receives "
            "the mail, so the mailbox is likely shared, unlicensed or still migrating.") in out
    assert "- graph primary alias  not checked: the mailbox check failed" in out
    assert ("contoso.com", "MX") in dns_server.queries


@pytest.mark.parametrize("graph", [{"address": "carol@onprem.test"}], indirect=True)
def test_graph_mailbox_not_found(graph: GraphEmulator, dns_server: DnsServer) -> None:
    graph.user["assignedPlans"] = []  # no Exchange Online licence: no mailbox in Microsoft 365
    graph.fail(404, "MailboxNotEnabledForRESTAPI", "REST API is not yet supported for this "
               "mailbox.", path=r"/mailFolders", times=10)
    code, out = graph_doctor(graph, dns_server, "--json")
    assert code == 1
    checks = checks_of(out)
    assert checks["graph mailbox"]["status"] == "fail"
    assert checks["graph mailbox"]["error"]["type"] == "MailboxNotFound"
    assert "licence" in checks["graph mailbox"]["error"]["remedy"]
    assert checks["graph scopes"]["status"] == "pass"
    mx = checks["dns MX"]
    assert mx["status"] == "warn"
    assert mx["data"] == {"mx": ["mail.onprem.test"], "hosted_by": None}
    assert "connect the mailbox where that server lives" in mx["detail"]


@pytest.mark.parametrize("graph", [{"token": make_token(
    preferred_username="outlook_3f2a9c01d4e5@outlook.com")}], indirect=True)
def test_graph_primary_alias_from_token(graph: GraphEmulator, dns_server: DnsServer) -> None:
    code, out = graph_doctor(graph, dns_server, "--json")
    alias = checks_of(out)["graph primary alias"]
    assert alias["status"] == "warn"
    assert alias["data"] == {"address": "outlook_3f2a9c01d4e5@outlook.com"}
    assert alias["error"]["remedy"] == PRIMARY_ALIAS_REMEDY
    assert alias["error"]["code"] == "outlook-alias"
    assert code == 0  # it can be connected; the warning says what breaks


@pytest.mark.parametrize("graph", [{"token": "EwBwA8l6BAAUopaque-personal-account-token"}],
                         indirect=True)
def test_graph_opaque_token(graph: GraphEmulator, dns_server: DnsServer) -> None:
    code, out = graph_doctor(graph, dns_server)
    assert code == 0, out
    assert "- graph scopes  the access token is opaque" in out
    assert "✓ graph mailbox" in out


class Credential:
    """An azure-identity-shaped credential handing out one token (the Python entry's case)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, 4_000_000_000)


@pytest.mark.parametrize("graph", [{"token": make_token(
    "Mail.ReadWrite openid email", upn="outlook_77aa12bc90@outlook.com")}], indirect=True)
def test_graph_with_a_credential_reads_what_the_adapter_learned(
        graph: GraphEmulator, dns_server: DnsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # No token for the doctor to read up front: scopes and alias come from the mailbox.
    monkeypatch.delenv("INBOXLINK_ACCESS_TOKEN")
    report = diagnose(f"graph://{graph.address}", DoctorOptions(
        api_url=graph.base_url, connect_options={"credential": Credential(graph.token)}),
        connect=connect, resolver=dns_server.resolver())
    checks = {f"{c.stage} {c.name}": c for c in report.checks}
    assert checks["login login"].status is Status.PASS
    scopes = checks["graph scopes"]
    assert scopes.status is Status.FAIL
    assert isinstance(scopes.error, errors.InsufficientScopes)
    assert scopes.error.missing == ("Mail.Send",)
    alias = checks["graph primary alias"]
    assert alias.status is Status.WARN
    assert alias.data == {"address": "outlook_77aa12bc90@outlook.com"}
    names = [f"{c.stage} {c.name}" for c in report.checks]
    assert names.index("login login") < names.index("graph scopes")


def test_graph_access_denied_stays_a_login_failure(graph: GraphEmulator,
                                                   dns_server: DnsServer) -> None:
    graph.fail(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.",
               path=r"/mailFolders", times=10)
    code, out = graph_doctor(graph, dns_server)
    assert code == 1
    assert "✓ graph scopes" in out
    assert "✗ login  The account is not allowed to do this." in out
    assert "PermissionDenied (ErrorAccessDenied) →" in out
    assert "graph mailbox" not in out


def test_graph_refusal_after_scopes_passed_is_not_lost(graph: GraphEmulator,
                                                       dns_server: DnsServer) -> None:
    def refusing(url: str, **options: Any) -> Any:
        raise errors.InsufficientScopes("Mail.Send was refused.", provider="graph",
                                        missing=["Mail.Send"])

    report = diagnose(f"graph://{graph.address}", DoctorOptions(
        api_url=graph.base_url, secrets={"access_token": graph.token}), connect=refusing,
        resolver=dns_server.resolver())
    checks = {f"{c.stage} {c.name}": c for c in report.checks}
    assert checks["graph scopes"].status is Status.PASS  # what the token claims
    assert checks["login login"].status is Status.FAIL  # what the server said
    assert isinstance(checks["login login"].error, errors.InsufficientScopes)
    assert report.exit_code == 1


# ---------------------------------------------------------------------------------- Gmail
@pytest.fixture
def gmail(monkeypatch: pytest.MonkeyPatch) -> Iterator[GmailEmulator]:
    emulator = GmailEmulator().start()
    monkeypatch.setenv("INBOXLINK_ACCESS_TOKEN", "good-token")
    yield emulator
    emulator.stop()


def gmail_doctor(emulator: GmailEmulator, dns_server: DnsServer, *extra: str
                 ) -> tuple[int, str]:
    return doctor([f"gmail://{emulator.address}", "--api-url", emulator.url, *extra],
                  dns_server)


def test_gmail_good_mailbox(gmail: GmailEmulator, dns_server: DnsServer) -> None:
    code, out = gmail_doctor(gmail, dns_server)
    assert code == 0, out
    assert "✓ login  signed in as alice@gmail.com (gmail)" in out
    assert "✓ gmail API enabled  the Gmail API is enabled for the app's Google Cloud project" in out
    assert "✓ gmail app access  no Workspace admin or Advanced Protection policy" in out
    assert "✓ gmail scopes  reading is granted (labels listed)" in out
    assert gmail.calls[0] == "labels.list"  # derived from the one cheap call


@pytest.mark.parametrize(("entry", "check", "error", "earlier", "later"), [
    ("gmail.api_not_enabled", "API enabled", "ApiNotEnabled", [], ["app access", "scopes"]),
    ("gmail.domain_policy", "app access", "AppBlocked", ["API enabled"], ["scopes"]),
    ("gmail.insufficient_scopes", "scopes", "InsufficientScopes", ["API enabled", "app access"],
     []),
])
def test_gmail_failures(gmail: GmailEmulator, dns_server: DnsServer, entry: str, check: str,
                        error: str, earlier: list[str], later: list[str]) -> None:
    gmail.fail("labels.list", *bodies.GMAIL[entry], times=10)
    code, out = gmail_doctor(gmail, dns_server, "--json")
    assert code == 1
    checks = checks_of(out)
    failed = checks[f"gmail {check}"]
    assert failed["status"] == "fail"
    assert failed["error"]["type"] == error
    assert [c["name"] for c in checks.values() if c["status"] == "fail"] == [check]
    # a later refusal shows the earlier checks passed; after the failure nothing is known
    assert [n for n in ("API enabled", "app access", "scopes")
            if checks[f"gmail {n}"]["status"] == "pass"] == earlier
    for name in later:
        assert checks[f"gmail {name}"]["status"] == "skip"
    assert "login login" not in checks
    if entry == "gmail.api_not_enabled":
        assert bodies.PROJECT in failed["error"]["remedy"]
        assert failed["data"] == {"code": "SERVICE_DISABLED"}
    if entry == "gmail.insufficient_scopes":
        assert failed["data"] == {"missing": ["https://www.googleapis.com/auth/gmail.readonly"]}
    if entry == "gmail.domain_policy":
        assert "Trusted" in failed["error"]["remedy"]


# ---------------------------------------------------------------------------------- EWS
@pytest.fixture
def ews(ca: trustme.CA, monkeypatch: pytest.MonkeyPatch) -> Iterator[EwsEmulator]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    emulator = EwsEmulator(ssl_context=context)
    emulator.start()
    monkeypatch.setenv("INBOXLINK_PASSWORD", PASSWORD)
    yield emulator
    emulator.stop()


def ews_doctor(url: str, ca_file: str, dns_server: DnsServer, *extra: str) -> tuple[int, str]:
    return doctor([f"ews://{EWS_ADDRESS}", "--ews-url", url, "--ca-file", ca_file, *extra],
                  dns_server)


def test_ews_good_mailbox(ews: EwsEmulator, ca_file: str, dns_server: DnsServer) -> None:
    ews.add_user(EWS_ADDRESS, PASSWORD)
    code, out = ews_doctor(ews.ews_url, ca_file, dns_server)
    assert code == 0, out
    assert "✓ tls HTTPS 127.0.0.1" in out
    assert f"✓ ews EWS URL  {ews.ews_url} (as given)" in out
    assert ("✓ ews server version  Microsoft Exchange Server 2016 (15.1.2507.6), new enough "
            "(Exchange 2010 SP2 or newer is needed)") in out
    assert f"✓ ews primary SMTP address  {EWS_ADDRESS} (resolved by the server)" in out
    assert "✓ folders Sent folder  'Sent Items'" in out
    assert PASSWORD not in out


def test_ews_bare_host_is_completed(ews: EwsEmulator, ca_file: str,
                                    dns_server: DnsServer) -> None:
    ews.add_user(EWS_ADDRESS, PASSWORD)
    code, out = ews_doctor(ews.base_url, ca_file, dns_server, "--json")
    assert code == 0, out
    check = checks_of(out)["ews EWS URL"]
    assert check["detail"] == f"{ews.ews_url} (derived from {ews.base_url})"
    assert check["data"] == {"url": ews.ews_url}


def test_ews_owa_url_gets_no_credentials(ews: EwsEmulator, ca_file: str,
                                         dns_server: DnsServer) -> None:
    ews.add_user(EWS_ADDRESS, PASSWORD)
    code, out = ews_doctor(ews.base_url + "/owa/", ca_file, dns_server, "--json")
    assert code == 1
    checks = checks_of(out)
    url = checks["ews EWS URL"]
    assert url["status"] == "fail"
    assert url["error"]["type"] == "InvalidExchangeUrl"
    assert url["data"] == {"suggested_url": ews.ews_url}
    assert ews.ews_url in url["error"]["remedy"]
    assert checks["ews server version"]["status"] == "skip"
    assert checks["login login"]["status"] == "skip"
    assert checks["tls HTTPS 127.0.0.1:" + ews.base_url.rsplit(":", 1)[1] + " (TLS)"][
        "status"] == "pass"
    assert ews.requests == []  # the webmail page never saw the password


def test_ews_server_too_old(ews: EwsEmulator, ca_file: str, dns_server: DnsServer) -> None:
    ews.add_user(EWS_ADDRESS, PASSWORD)
    ews.version = (14, 1, 218, 15)  # Exchange 2010 SP1
    code, out = ews_doctor(ews.ews_url, ca_file, dns_server)
    assert code == 1
    assert f"✓ ews EWS URL  {ews.ews_url} (as given) answers as EWS" in out
    assert "✗ ews server version  " in out
    assert "14.1.218.15" in out
    assert "UnsupportedExchangeVersion (ServerVersionTooOld) →" in out
    assert "- ews primary SMTP address  not checked: the server version check failed" in out
    assert "✗ login" not in out


def test_ews_no_smtp_address(ews: EwsEmulator, ca_file: str, dns_server: DnsServer) -> None:
    ews.add_user(EWS_ADDRESS, PASSWORD, smtp=False)
    code, out = ews_doctor(ews.ews_url, ca_file, dns_server, "--json")
    assert code == 1
    checks = checks_of(out)
    smtp = checks["ews primary SMTP address"]
    assert smtp["status"] == "fail"
    assert smtp["error"]["type"] == "MissingSmtpAddress"
    assert smtp["error"]["code"] == "NoPrimarySmtpAddress"
    assert "/o=Emulator" in smtp["detail"]
    assert checks["ews server version"]["status"] == "pass"
    assert checks["ews EWS URL"]["data"] == {"url": ews.ews_url}


def test_ews_wrong_password_stays_a_login_failure(ews: EwsEmulator, ca_file: str,
                                                  dns_server: DnsServer,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ews.add_user(EWS_ADDRESS, "another-password")
    code, out = ews_doctor(ews.ews_url, ca_file, dns_server)
    assert code == 1
    assert "✗ login  " in out  # not one of the provider checks: the generic stage explains it
    assert "ews server version" not in out
