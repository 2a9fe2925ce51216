"""``inboxlink doctor`` end to end: real sockets, real TLS, a DNS server the test controls.

Network stages run against the scripted servers in ``servers.py``; login, folders and the
test message run through an injected ``connect`` handing out fake mailboxes (the real IMAP
adapter and its Dovecot fixture live on another branch).
"""

from __future__ import annotations

import json
import ssl
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from inboxlink import errors
from inboxlink.cli import main
from inboxlink.doctor import DoctorOptions, Status, diagnose
from inboxlink.doctor.detect import Dns, Endpoint, plan_for
from inboxlink.mailbox import Mailbox
from inboxlink.testing import FakeMailbox, FakeMailServer

from .helpers import Captured
from .servers import COURIER_GREETING, DnsServer, ImapServer, SmtpServer, closed_port

SECRET = "s3cret-Doctor-PW"


def _server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


@pytest.fixture(scope="module")
def good_tls(ca: trustme.CA) -> ssl.SSLContext:
    return _server_context(ca, "imap.example.test", "smtp.example.test")


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    with DnsServer({
        # any working DNS knows gmail.com (the doctor double-checks "no such domain")
        ("gmail.com", "MX"): ["5 gmail-smtp-in.l.google.com."],
        ("example.test", "MX"): ["10 mx1.example.test."],
        ("imap.example.test", "A"): ["127.0.0.1"],
        ("smtp.example.test", "A"): ["127.0.0.1"],
        ("gmail-hosted.test", "MX"): ["5 aspmx.l.google.com.", "10 alt1.aspmx.l.google.com."],
        ("contoso.test", "MX"): ["0 contoso-test.mail.protection.outlook.com."],
        ("yahoo-hosted.test", "MX"): ["1 mta5.am0.yahoodns.net."],
        ("nomx.test", "A"): ["127.0.0.1"],
        ("mail.nomx.test", "A"): ["127.0.0.1"],
    }) as server:
        yield server


class Recorder:
    """connect() for the login stage: FakeMailboxes on one server; records what it was given."""

    def __init__(self, server: FakeMailServer) -> None:
        self.server = server
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, url: str, **options: Any) -> Mailbox:
        self.calls.append((url, options))
        address = "alice@example.test"
        return FakeMailbox(address, server=self.server,
                           sent_folder=options.get("sent_folder"))


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    monkeypatch.setenv("INBOXLINK_PASSWORD", SECRET)
    monkeypatch.delenv("INBOXLINK_ACCESS_TOKEN", raising=False)
    return Recorder(FakeMailServer())


def _doctor(argv: list[str], recorder: Recorder, dns_server: DnsServer) -> tuple[int, str]:
    captured = Captured()
    code = main(["doctor", *argv, "--timeout", "5"], connect=recorder,
                resolver=dns_server.resolver(), console=captured.console)
    return code, captured.text


def test_good_mailbox_from_address(ca_file: str, good_tls: ssl.SSLContext, recorder: Recorder,
                                   dns_server: DnsServer) -> None:
    with ImapServer(good_tls, password=SECRET) as imap, SmtpServer(good_tls) as smtp:
        code, out = _doctor(["alice@example.test",
                             "--imap", f"imaps://imap.example.test:{imap.port}",
                             "--smtp", f"smtp://smtp.example.test:{smtp.port}",
                             "--ca-file", ca_file, "--send-test", "audit@example.test"],
                            recorder, dns_server)
    assert code == 0, out
    assert ("example.test", "MX") in dns_server.queries
    assert ("✓ provider  imap: no well-known provider (MX mx1.example.test): checking the "
            "servers given with --imap/--smtp") in out
    assert "✓ dns imap.example.test  imap.example.test → 127.0.0.1" in out
    assert f"✓ tcp IMAP imap.example.test:{imap.port} (TLS)  port {imap.port} open" in out
    assert "✓ tls IMAP imap.example.test" in out
    assert "TLSv1.3, certificate for imap.example.test, smtp.example.test" in out
    assert "✓ tls SMTP smtp.example.test" in out
    assert "STARTTLS offered before login" in out
    assert "✓ server IMAP server  Dovecot" in out
    # announced only after login, which the probe did over the verified TLS connection
    assert imap.logins == [("alice@example.test", True)]
    for capability in ("SPECIAL-USE", "IDLE", "CONDSTORE"):
        assert f"✓ capabilities {capability}" in out
    assert "AUTH LOGIN PLAIN" in out
    assert "✓ login  signed in as alice@example.test" in out
    assert "✓ folders Sent folder  'Sent': marked \\Sent by the server (special-use)" in out
    assert "✓ send-test sent copy  exactly one copy in 'Sent'" in out
    assert "✓ This mailbox can be connected." in out
    assert SECRET not in out
    # the login used the endpoints that were checked, with the secret and the trusted CA
    [(url, options)] = recorder.calls
    assert url == f"imaps://alice%40example.test@imap.example.test:{imap.port}"
    assert options["password"] == SECRET
    assert options["smtp"] == f"smtp://smtp.example.test:{smtp.port}"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    [sent] = recorder.server.sent
    assert sent.recipients == ("audit@example.test",)


def test_json_report(ca_file: str, good_tls: ssl.SSLContext, recorder: Recorder,
                     dns_server: DnsServer) -> None:
    with ImapServer(good_tls, password=SECRET) as imap, \
            SmtpServer(good_tls, implicit=True) as smtp:
        code, out = _doctor([f"imaps://alice@imap.example.test:{imap.port}",
                             "--smtp", f"smtps://smtp.example.test:{smtp.port}",
                             "--ca-file", ca_file, "--json"], recorder, dns_server)
    assert code == 0
    report = json.loads(out)
    assert report["connectable"] is True
    assert report["provider"] == "imap"
    stages = [c["stage"] for c in report["checks"]]
    assert stages[:2] == ["provider", "dns"]
    assert {"tcp", "tls", "server", "capabilities", "login", "folders"} <= set(stages)
    tls = next(c for c in report["checks"] if c["stage"] == "tls")
    assert tls["data"]["version"] == "TLSv1.3"
    assert tls["data"]["verified"] is True
    assert SECRET not in out


def test_broken_mailbox_courier_and_no_starttls(ca_file: str, good_tls: ssl.SSLContext,
                                                recorder: Recorder,
                                                dns_server: DnsServer) -> None:
    courier_caps = ("IMAP4rev1", "ENABLE", "UTF8=ACCEPT")
    with ImapServer(good_tls, greeting=COURIER_GREETING, capabilities=courier_caps) as imap, \
            SmtpServer(good_tls, starttls=False) as smtp:
        code, out = _doctor([f"imaps://alice@imap.example.test:{imap.port}",
                             "--smtp", f"smtp://smtp.example.test:{smtp.port}",
                             "--ca-file", ca_file], recorder, dns_server)
    assert code == 1
    assert "✗ server IMAP server  The server is Courier-IMAP, which is not supported." in out
    assert "UnsupportedServer (Courier-IMAP) → Courier-IMAP cannot be used" in out
    assert f"✗ tls SMTP smtp.example.test:{smtp.port} (STARTTLS) STARTTLS" in out
    assert "StartTlsUnavailable (STARTTLS) → Use the implicit-TLS port" in out
    assert "! capabilities SPECIAL-USE  not offered" in out
    # credentials never reach a server already refused as Courier-IMAP
    assert imap.logins == []
    assert recorder.calls == []
    assert "✗ This mailbox cannot be connected yet: 2 check(s) failed." in out


def test_certificate_for_another_name(ca: trustme.CA, ca_file: str, recorder: Recorder,
                                      dns_server: DnsServer) -> None:
    with ImapServer(_server_context(ca, "other.example.test")) as imap:
        code, out = _doctor([f"imaps://alice@imap.example.test:{imap.port}", "--json",
                             "--ca-file", ca_file, "--smtp", "smtps://127.0.0.1:1"],
                            recorder, dns_server)
    assert code == 1
    checks = json.loads(out)["checks"]
    tls = next(c for c in checks if c["stage"] == "tls")
    assert tls["status"] == "fail"
    assert tls["error"]["type"] == "CertificateError"
    assert tls["data"] == {"reason": "name-mismatch", "names": ["other.example.test"]}
    assert "It holds: other.example.test" in tls["detail"]
    assert "issued for other names" in tls["error"]["remedy"]
    assert recorder.calls == []  # no credentials go to a server we could not verify


def test_untrusted_certificate_and_insecure(good_tls: ssl.SSLContext, recorder: Recorder,
                                            dns_server: DnsServer) -> None:
    with ImapServer(good_tls, password=SECRET) as imap, SmtpServer(good_tls) as smtp:
        url = f"imaps://alice@imap.example.test:{imap.port}"
        smtp_url = f"smtp://smtp.example.test:{smtp.port}"
        code, out = _doctor([url, "--smtp", smtp_url], recorder, dns_server)
        assert code == 1
        assert "CertificateError (X509:" in out
        assert "self-signed or from an unknown CA" in out
        code, out = _doctor([url, "--smtp", smtp_url, "--insecure"], recorder, dns_server)
    assert code == 0, out
    assert "NOT verified (--insecure)" in out
    assert "! tls IMAP" in out
    assert recorder.calls[-1][1]["verify_tls"] is False


def test_closed_port_mentions_firewall(recorder: Recorder, dns_server: DnsServer) -> None:
    with closed_port() as port:
        code, out = _doctor([f"imaps://alice@imap.example.test:{port}", "--smtp",
                             f"smtps://smtp.example.test:{port}"], recorder, dns_server)
    assert code == 1
    assert f"✗ tcp IMAP imap.example.test:{port} (TLS)" in out
    assert "firewall or an IP allow-list" in out
    assert recorder.calls == []


def test_imap_starttls_port(ca_file: str, good_tls: ssl.SSLContext, recorder: Recorder,
                            dns_server: DnsServer) -> None:
    with ImapServer(good_tls, implicit=False, password=SECRET) as good, \
            ImapServer(good_tls, implicit=False, starttls=False) as bad, \
            SmtpServer(good_tls) as smtp:
        smtp_url = f"smtp://smtp.example.test:{smtp.port}"
        code, out = _doctor([f"imap://alice@imap.example.test:{good.port}", "--smtp", smtp_url,
                             "--ca-file", ca_file], recorder, dns_server)
        assert code == 0, out
        assert f"✓ tls IMAP imap.example.test:{good.port} (STARTTLS) STARTTLS" in out
        assert recorder.calls[-1][0] == f"imap://alice@imap.example.test:{good.port}"
        code, out = _doctor([f"imap://alice@imap.example.test:{bad.port}", "--smtp", smtp_url,
                             "--ca-file", ca_file], recorder, dns_server)
    assert code == 1
    assert "does not offer STARTTLS" in out
    assert "inboxlink never sends credentials unencrypted" in out


def test_login_failure_shows_remedy(recorder: Recorder, dns_server: DnsServer) -> None:
    recorder.server.fail_next("connect", errors.ProtocolDisabled(
        "IMAP access is disabled for this account.", provider="imap", code="NO [ALERT]"))
    code, out = _doctor(["fake://alice@example.test"], recorder, dns_server)
    assert code == 1
    assert "✗ login  IMAP access is disabled for this account." in out
    assert f"ProtocolDisabled (NO [ALERT]) → {errors.ProtocolDisabled.default_remedy}"[:60] in out


def test_sent_folder_found_by_name_is_a_warning(recorder: Recorder,
                                                dns_server: DnsServer) -> None:
    recorder.server = FakeMailServer(folders=[("INBOX", None), ("INBOX/Sent Items", None)])
    code, out = _doctor(["fake://alice@example.test"], recorder, dns_server)
    assert code == 0
    assert "! folders Sent folder  'INBOX/Sent Items': found by its name" in out


def test_no_sent_folder_fails(recorder: Recorder, dns_server: DnsServer) -> None:
    recorder.server = FakeMailServer(folders=[("INBOX", None), ("Notes", None)])
    code, out = _doctor(["fake://alice@example.test", "--send-test", "a@example.test"],
                        recorder, dns_server)
    assert code == 1
    assert "✗ folders Sent folder  No folder has the role 'sent'" in out
    assert recorder.server.sent == []  # no test message without a place for its copy


def test_provider_kept_copy(recorder: Recorder, dns_server: DnsServer) -> None:
    recorder.server = FakeMailServer(saves_sent_copy=True)
    code, out = _doctor(["fake://alice@example.test", "--send-test", "a@example.test"],
                        recorder, dns_server)
    assert code == 0
    assert "✓ send-test sent copy  the provider files sent mail itself" in out


def test_send_as_denied(recorder: Recorder, dns_server: DnsServer) -> None:
    recorder.server.fail_next("send", errors.SendAsDenied(provider="ews",
                                                          code="ErrorSendAsDenied"))
    code, out = _doctor(["fake://alice@example.test", "--send-test", "a@example.test"],
                        recorder, dns_server)
    assert code == 1
    assert "✗ send-test send" in out
    assert "SendAsDenied (ErrorSendAsDenied)" in out


def test_no_credentials_means_undecided(ca_file: str, good_tls: ssl.SSLContext,
                                        recorder: Recorder, dns_server: DnsServer,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INBOXLINK_PASSWORD")
    with ImapServer(good_tls) as imap, SmtpServer(good_tls) as smtp:
        code, out = _doctor([f"imaps://alice@imap.example.test:{imap.port}", "--smtp",
                             f"smtp://smtp.example.test:{smtp.port}", "--ca-file", ca_file,
                             "--no-prompt"], recorder, dns_server)
    assert code == 3
    assert "- login  no password given: set INBOXLINK_PASSWORD" in out
    assert recorder.calls == []
    # without logging in only the pre-login capabilities are known, and it says so
    assert "! capabilities SPECIAL-USE  not offered (before login; more may follow login)" in out
    assert "✓ capabilities IDLE" in out


def test_pop3_is_refused(recorder: Recorder, dns_server: DnsServer) -> None:
    code, out = _doctor(["pop3://alice@mail.example.test"], recorder, dns_server)
    assert code == 1
    assert "UnsupportedProtocol (pop3) → Use IMAP" in out


def test_gmail_detected_and_api_host_checked(recorder: Recorder,
                                             dns_server: DnsServer) -> None:
    code, out = _doctor(["bob@gmail-hosted.test", "--json"], recorder, dns_server)
    report = json.loads(out)
    assert report["provider"] == "gmail"
    first = report["checks"][0]
    assert first["status"] == "pass"
    assert first["data"]["mx"] == ["aspmx.l.google.com", "alt1.aspmx.l.google.com"]
    assert "Google hosts this domain's mail" in first["detail"]
    assert first["data"]["login_url"] == "gmail://bob@gmail-hosted.test"
    # the test's DNS does not know the API host: a clear DNS failure, no network needed
    dns_check = report["checks"][1]
    assert dns_check["name"] == "gmail.googleapis.com"
    assert dns_check["status"] == "fail"
    assert code == 1


@pytest.mark.parametrize(("address", "provider", "imap_host", "smtp_host", "guessed"), [
    ("carol@contoso.test", "graph", None, None, False),
    ("dan@yahoo-hosted.test", "imap", "imap.mail.yahoo.com", "smtp.mail.yahoo.com", False),
    ("erin@example.test", "imap", "imap.example.test", "smtp.example.test", True),
    ("finn@nomx.test", "imap", "imap.nomx.test", "smtp.nomx.test", True),
])
def test_detection(dns_server: DnsServer, address: str, provider: str, imap_host: str | None,
                   smtp_host: str | None, guessed: bool) -> None:
    plan = plan_for(address, Dns(dns_server.resolver()))
    assert plan.provider == provider
    assert plan.guessed is guessed
    if imap_host:
        assert plan.imap == (Endpoint("imap", imap_host, 993, "implicit"),
                             Endpoint("imap", imap_host, 143, "starttls"))
        assert plan.smtp == (Endpoint("smtp", smtp_host or "", 465, "implicit"),
                             Endpoint("smtp", smtp_host or "", 587, "starttls"))
    else:
        assert plan.https == (Endpoint("https", "graph.microsoft.com", 443),)
        assert plan.login_url == f"graph://{address}"


def test_unknown_domain(dns_server: DnsServer) -> None:
    with pytest.raises(errors.ServerUnreachable, match="does not exist"):
        plan_for("zed@no-such-domain.test", Dns(dns_server.resolver()))


def test_progress_is_reported(recorder: Recorder) -> None:
    seen: list[str] = []
    checks: list[str] = []
    report = diagnose("fake://alice@example.test", DoctorOptions(), connect=recorder,
                      on_progress=seen.append, on_check=lambda c: checks.append(c.stage))
    assert report.connectable is True
    assert seen[0] == "finding the provider"
    assert "listing folders" in seen
    assert checks == ["provider", "login", "folders", "folders"]
    assert all(c.status is not Status.FAIL for c in report.checks)


def test_password_in_url_never_shown(recorder: Recorder, dns_server: DnsServer,
                                     tmp_path: Path) -> None:
    code, out = _doctor([f"fake://alice:{SECRET}@example.test", "--json"], recorder,
                        dns_server)
    assert SECRET not in out
    assert json.loads(out)["target"] == "fake://alice@example.test"
    assert code in (0, 1)


def test_legacy_tls_only_server(ca: trustme.CA, ca_file: str, recorder: Recorder,
                                dns_server: DnsServer) -> None:
    legacy = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("imap.example.test").configure_cert(legacy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1 is the point here
        legacy.minimum_version = ssl.TLSVersion.TLSv1_1
        legacy.maximum_version = ssl.TLSVersion.TLSv1_1
    legacy.set_ciphers("DEFAULT:@SECLEVEL=0")
    with ImapServer(legacy) as imap:
        code, out = _doctor([f"imaps://alice@imap.example.test:{imap.port}", "--smtp",
                             "smtps://127.0.0.1:1", "--ca-file", ca_file], recorder, dns_server)
    assert code == 1
    assert "share no TLS version (TLS 1.2 or newer is required)" in out
    assert "TlsVersionMismatch" in out


def test_owa_address_given_as_ews_url(recorder: Recorder, dns_server: DnsServer) -> None:
    code, out = _doctor(["ews://alice@example.test", "--ews-url",
                         "https://127.0.0.1:1/owa/", "--json"], recorder, dns_server)
    assert code == 1
    check = next(c for c in json.loads(out)["checks"] if c["name"] == "EWS URL")
    assert check["error"]["type"] == "InvalidExchangeUrl"
    assert check["data"]["suggested_url"] == "https://127.0.0.1:1/EWS/Exchange.asmx"
    assert "https://127.0.0.1:1/EWS/Exchange.asmx" in check["error"]["remedy"]


def test_outlook_alias_warning(recorder: Recorder, dns_server: DnsServer) -> None:
    report = diagnose("graph://outlook_3f2a9c01d4e5@outlook.com", DoctorOptions(),
                      connect=recorder, resolver=dns_server.resolver())
    alias = next(c for c in report.checks if c.name == "primary alias")
    assert alias.status is Status.WARN
    assert "Microsoft-generated alias" in alias.detail


def test_guessed_host_falls_back_to_mail_subdomain(recorder: Recorder,
                                                   dns_server: DnsServer) -> None:
    # Nothing answers on 127.0.0.1's standard mail ports here; only the names matter.
    code, out = _doctor(["finn@nomx.test", "--json", "--timeout", "2"], recorder, dns_server)
    checks = json.loads(out)["checks"]
    assert checks[0]["status"] == "warn"
    assert "no well-known provider (no MX records)" in checks[0]["detail"]
    notes = [c["detail"] for c in checks if c["name"] == "guessed host"]
    assert notes == ["imap.nomx.test does not resolve; using mail.nomx.test for IMAP",
                     "smtp.nomx.test does not resolve; using mail.nomx.test for SMTP"]
    tcp = [c["name"] for c in checks if c["stage"] == "tcp"]
    assert tcp == ["IMAP mail.nomx.test:993 (TLS)", "IMAP mail.nomx.test:143 (STARTTLS)",
                   "SMTP mail.nomx.test:465 (TLS)", "SMTP mail.nomx.test:587 (STARTTLS)"]
    assert code == 1


def test_not_hosted_here_points_at_mx(recorder: Recorder, dns_server: DnsServer) -> None:
    recorder.server.fail_next("connect", errors.RestApiNotEnabled(
        provider="graph", code="MailboxNotEnabledForRESTAPI"))
    code, out = _doctor(["fake://alice@example.test"], recorder, dns_server)
    assert code == 1
    assert "✗ login  The REST API is not enabled for this mailbox." in out
    assert "! dns MX  mail for example.test is delivered to mx1.example.test" in out
