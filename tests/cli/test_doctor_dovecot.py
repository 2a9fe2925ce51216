"""``inboxlink doctor`` end to end against the real Dovecot and aiosmtpd of the IMAP tests.

Every stage runs for real: the probes, then the login, folders and test message through
``inboxlink.connect`` and the IMAP adapter. The certificate (from the test CA, trusted with
``--ca-file``) names ``127.0.0.1`` and ``mail.example.test``; DNS answers come from a
server the test controls.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from imap.dovecot import PASSWORD, Dovecot
from imap.helpers import Certs
from imap.smtp_peer import SmtpServer

from inboxlink.cli import main

from .helpers import Captured
from .servers import DnsServer, closed_port

pytestmark = pytest.mark.dovecot

AUDIT = "audit@example.org"


@pytest.fixture(scope="module")
def dns_server() -> Iterator[DnsServer]:
    with DnsServer({
        # any working DNS knows gmail.com (the doctor double-checks "no such domain")
        ("gmail.com", "MX"): ["5 gmail-smtp-in.l.google.com."],
        ("example.com", "MX"): ["10 mx.example.com."],
        ("localhost", "A"): ["127.0.0.1"],
    }) as server:
        yield server


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOXLINK_NO_RETRY_WAIT", "1")
    monkeypatch.delenv("INBOXLINK_PASSWORD", raising=False)
    monkeypatch.delenv("INBOXLINK_ACCESS_TOKEN", raising=False)


def _doctor(dns_server: DnsServer, *argv: str) -> tuple[int, str]:
    captured = Captured()
    code = main(["doctor", *argv, "--timeout", "5", "--no-prompt"],
                resolver=dns_server.resolver(), console=captured.console)
    return code, captured.text


def _password_file(tmp_path: Path, password: str = PASSWORD) -> str:
    path = tmp_path / f"password-{len(list(tmp_path.iterdir()))}"
    path.write_text(password + "\n")
    return str(path)


def _url(scheme: str, user: str, port: int, host: str = "127.0.0.1") -> str:
    return f"{scheme}://{user.replace('@', '%40')}@{host}:{port}"


def _lines(out: str, symbol: str) -> list[str]:
    """The check lines marked ``symbol`` (not the closing summary)."""
    return [line for line in out.splitlines()
            if line.startswith(f"{symbol} ") and not line.startswith(f"{symbol} This mailbox")]


def _sent_ids(server: Dovecot, user: str, folder: str = "Sent") -> list[str]:
    """Message-IDs in ``folder``, read through the server (not the adapter under test)."""
    conn = server.admin(user)
    try:
        conn.select(f'"{folder}"', readonly=True)
        _, data = conn.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    finally:
        conn.logout()
    headers = b"".join(part[1] for part in data if isinstance(part, tuple))
    return re.findall(r"<[^>]+>", headers.decode())


def test_good_mailbox_over_implicit_tls(dovecot: Dovecot, smtp_server: SmtpServer,
                                        certs: Certs, dns_server: DnsServer,
                                        tmp_path: Path) -> None:
    user = dovecot.new_user()
    smtp_server.users[user] = PASSWORD
    port, smtp_port = dovecot.imaps_port, smtp_server.port
    code, out = _doctor(dns_server, _url("imaps", user, port),
                        "--smtp", f"smtp://127.0.0.1:{smtp_port}", "--ca-file", certs.ca_file,
                        "--password-file", _password_file(tmp_path), "--send-test", AUDIT)
    assert code == 0, out
    assert _lines(out, "✗") == [], out
    assert _lines(out, "!") == [], out
    for expected in (
        "✓ provider  imap: the URL names IMAP (imaps://)",
        f"✓ tcp IMAP 127.0.0.1:{port} (TLS)  port {port} open",
        f"✓ tls IMAP 127.0.0.1:{port} (TLS)  TLSv1.3, certificate for 127.0.0.1, "
        "mail.example.test valid until",
        f"✓ tls SMTP 127.0.0.1:{smtp_port} (STARTTLS) STARTTLS  STARTTLS offered before login",
        "✓ server IMAP server  Dovecot",
        # Dovecot announces these only after login: the probe logged in over verified TLS.
        "✓ capabilities SPECIAL-USE  the server marks Sent/Drafts/Trash itself",
        "✓ capabilities IDLE  new mail is pushed",
        "✓ capabilities CONDSTORE  flag changes can be synchronised incrementally",
        f"✓ capabilities SMTP AUTH  SMTP 127.0.0.1:{smtp_port} (STARTTLS): AUTH LOGIN PLAIN",
        f"✓ login  signed in as {user} (imap)",
        "✓ folders  6 folders: Sent, Drafts, Trash, Junk, Archive, INBOX",
        "✓ folders Sent folder  'Sent': marked \\Sent by the server (special-use)",
        "✓ send-test sent copy  exactly one copy in 'Sent'",
        "✓ This mailbox can be connected.",
    ):
        assert expected in out, f"{expected!r} not in\n{out}"
    assert PASSWORD not in out
    # What really happened on the servers: one message out, Bcc only in the envelope, and
    # one copy in Sent — the one the doctor reported.
    [received] = [r for r in smtp_server.received if r.login == user]
    assert received.rcpt_tos == (AUDIT,)
    assert AUDIT.encode() not in received.raw
    [message_id] = _sent_ids(dovecot, user)
    assert f"✓ send-test send  sent {message_id} to {AUDIT}" in out


def test_good_mailbox_over_starttls_as_json(dovecot: Dovecot, smtp_server: SmtpServer,
                                            certs: Certs, dns_server: DnsServer,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    user = dovecot.new_user()
    smtp_server.users[user] = PASSWORD
    monkeypatch.setenv("INBOXLINK_PASSWORD", PASSWORD)
    code, out = _doctor(dns_server, user, "--imap", f"imap://127.0.0.1:{dovecot.imap_port}",
                        "--smtp", f"smtp://127.0.0.1:{smtp_server.port}",
                        "--ca-file", certs.ca_file, "--send-test", AUDIT, "--json")
    assert code == 0, out
    assert PASSWORD not in out
    report = json.loads(out)
    assert (report["provider"], report["connectable"], report["exit_code"]) == ("imap", True, 0)
    checks = {(c["stage"], c["name"]): c for c in report["checks"]}
    assert [c for c in report["checks"] if c["status"] != "pass"] == []
    assert ("example.com", "MX") in dns_server.queries
    assert checks[("provider", "provider")]["data"]["mx"] == ["mx.example.com"]
    imap = f"IMAP 127.0.0.1:{dovecot.imap_port} (STARTTLS)"
    assert checks[("tls", f"{imap} STARTTLS")]["status"] == "pass"
    tls = checks[("tls", imap)]["data"]
    assert tls["verified"] is True
    assert tls["version"] in ("TLSv1.2", "TLSv1.3")
    assert tls["names"] == ["127.0.0.1", "mail.example.test"]
    assert checks[("server", "IMAP server")]["data"]["software"] == "Dovecot"
    for capability in ("SPECIAL-USE", "IDLE", "CONDSTORE"):
        assert checks[("capabilities", capability)]["data"] == {"seen": "after login"}
    assert checks[("login", "login")]["detail"] == f"signed in as {user} (imap)"
    assert checks[("folders", "Sent folder")]["data"] == {"folder": "Sent",
                                                          "found_by": "special-use"}
    assert checks[("send-test", "sent copy")]["data"] == {"copies": 1}
    sent = checks[("send-test", "send")]["data"]["message_id"]
    assert _sent_ids(dovecot, user) == [sent]


def test_starttls_not_offered(dovecot_nossl: Dovecot, smtp_server: SmtpServer, certs: Certs,
                              dns_server: DnsServer, tmp_path: Path) -> None:
    user = dovecot_nossl.new_user()
    port = dovecot_nossl.imap_port
    code, out = _doctor(dns_server, _url("imap", user, port),
                        "--smtp", f"smtp://127.0.0.1:{smtp_server.port}",
                        "--ca-file", certs.ca_file, "--password-file", _password_file(tmp_path))
    assert code == 1, out
    assert _lines(out, "✗") == [
        f"✗ tls IMAP 127.0.0.1:{port} (STARTTLS) STARTTLS  127.0.0.1:{port} does not offer "
        "STARTTLS."]
    assert ("StartTlsUnavailable (STARTTLS) → Use the implicit-TLS port instead (imaps:// on "
            "993, smtps:// on 465) or ask the server's administrator to enable STARTTLS.") in out
    assert " login " not in out
    # Dovecot logs every authentication attempt with the user name: there was none.
    assert user not in dovecot_nossl.log()
    assert "✗ This mailbox cannot be connected yet: 1 check(s) failed." in out


@pytest.mark.parametrize("scheme", ["imaps", "imap"])
def test_certificate_for_another_host_name(dovecot: Dovecot, smtp_server: SmtpServer,
                                           certs: Certs, dns_server: DnsServer,
                                           tmp_path: Path, scheme: str) -> None:
    user = dovecot.new_user()
    port = dovecot.imaps_port if scheme == "imaps" else dovecot.imap_port
    code, out = _doctor(dns_server, _url(scheme, user, port, host="localhost"),
                        "--smtp", f"smtp://127.0.0.1:{smtp_server.port}",
                        "--ca-file", certs.ca_file, "--password-file", _password_file(tmp_path),
                        "--json")
    assert code == 1, out
    report = json.loads(out)
    [failed] = [c for c in report["checks"] if c["status"] == "fail"]
    assert failed["stage"] == "tls"
    assert failed["error"]["type"] == "CertificateError"
    assert failed["error"]["code"] == "X509:62"
    assert failed["data"] == {"reason": "name-mismatch",
                              "names": ["mail.example.test", "127.0.0.1"]}
    assert failed["detail"].startswith("The certificate of localhost was not accepted: ")
    assert failed["detail"].endswith("It holds: mail.example.test, 127.0.0.1.")
    assert "Connect with one of the names it holds" in failed["error"]["remedy"]
    assert "login" not in {c["stage"] for c in report["checks"]}
    assert user not in dovecot.log()  # no credentials to a server we could not verify


@pytest.mark.parametrize(("user", "error", "remedy"), [
    ("imap-off@example.com", "ProtocolDisabled", "IMAP is turned off for this account"),
    ("needs-app-pw@example.com", "AppPasswordRequired", "create an app password"),
])
def test_account_refused_with_a_reason(dovecot: Dovecot, smtp_server: SmtpServer,
                                       certs: Certs, dns_server: DnsServer,
                                       monkeypatch: pytest.MonkeyPatch, user: str, error: str,
                                       remedy: str) -> None:
    monkeypatch.setenv("INBOXLINK_PASSWORD", PASSWORD)
    code, out = _doctor(dns_server, _url("imaps", user, dovecot.imaps_port),
                        "--smtp", f"smtp://127.0.0.1:{smtp_server.port}",
                        "--ca-file", certs.ca_file)
    assert code == 1, out
    [failed] = _lines(out, "✗")
    assert failed.startswith("✗ login  ")
    assert f"    {error} (CONTACTADMIN) → " in out
    assert remedy in out
    # the server's reason wins over the generic "wrong password" reading
    assert "InvalidCredentials" not in out
    assert "Check the username and password" not in out


def test_wrong_password(dovecot: Dovecot, smtp_server: SmtpServer, certs: Certs,
                        dns_server: DnsServer, tmp_path: Path) -> None:
    user = dovecot.new_user()
    wrong = "Wrong-Secret-4711"
    code, out = _doctor(dns_server, _url("imaps", user, dovecot.imaps_port),
                        "--smtp", f"smtp://127.0.0.1:{smtp_server.port}",
                        "--ca-file", certs.ca_file,
                        "--password-file", _password_file(tmp_path, wrong))
    assert code == 1, out
    [failed] = _lines(out, "✗")
    assert failed.startswith("✗ login  The server rejected the username or password.")
    assert "InvalidCredentials (AUTHENTICATIONFAILED) → Check the username and password." in out
    assert wrong not in out
    # One refused attempt, not two (the probe's, then the adapter's): lock-out limits count
    # each one, and Dovecot makes the next attempt wait.
    assert dovecot.log().count(f"passwd-file({user},") == 1, dovecot.log()


def test_closed_port_mentions_firewalls(certs: Certs, dns_server: DnsServer,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOXLINK_PASSWORD", PASSWORD)
    with closed_port() as port:
        code, out = _doctor(dns_server, _url("imaps", "user@example.com", port),
                            "--smtp", f"smtps://127.0.0.1:{port}", "--ca-file", certs.ca_file,
                            "--json")
    assert code == 1, out
    failed = [c for c in json.loads(out)["checks"] if c["status"] == "fail"]
    assert [(c["stage"], c["name"]) for c in failed] == [
        ("tcp", f"IMAP 127.0.0.1:{port} (TLS)"), ("tcp", f"SMTP 127.0.0.1:{port} (TLS)")]
    for check in failed:
        assert check["error"]["type"] == "ServerUnreachable"
        assert "a firewall or an IP allow-list is blocking this machine" in \
            check["error"]["remedy"]
    assert "login" not in {c["stage"] for c in json.loads(out)["checks"]}


def test_sent_folder_found_by_name_without_special_use(dovecot_plain: Dovecot,
                                                       smtp_server: SmtpServer, certs: Certs,
                                                       dns_server: DnsServer,
                                                       tmp_path: Path) -> None:
    user = dovecot_plain.new_user()
    dovecot_plain.create_folders(user, ["Sent Items"])
    smtp_server.users[user] = PASSWORD
    code, out = _doctor(dns_server, _url("imaps", user, dovecot_plain.imaps_port),
                        "--smtp", f"smtp://127.0.0.1:{smtp_server.port}",
                        "--ca-file", certs.ca_file, "--password-file", _password_file(tmp_path),
                        "--send-test", AUDIT)
    assert code == 0, out  # warnings only: the mailbox works
    assert _lines(out, "✗") == []
    assert _lines(out, "!") == [
        "! capabilities SPECIAL-USE  not offered (after login): folder roles (Sent!) are found "
        "by name instead; check the Sent folder below",
        "! folders Sent folder  'Sent Items': found by its name: the server marks no folder as "
        "Sent — pass --sent-folder if this is not the right one",
    ]
    assert "✓ send-test sent copy  exactly one copy in 'Sent Items'" in out
    assert len(_sent_ids(dovecot_plain, user, "Sent Items")) == 1
