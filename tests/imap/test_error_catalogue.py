"""Every IMAP, SMTP and TLS entry of the error catalogue (errors.yaml), end to end.

Each case makes a real peer answer with the catalogued bytes — the scripted responders for
provider texts, Dovecot and aiosmtpd otherwise — and checks that the REAL imapclient/smtplib
path surfaces the typed error. Nothing inside the client libraries is mocked.
"""

from __future__ import annotations

import datetime as dt
import os
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from inboxlink import errors
from inboxlink.adapters.imap import ImapMailbox, ImapSettings
from inboxlink.adapters.imap.errors import TABLE
from inboxlink.models import OutgoingMessage

from .dovecot import PASSWORD, Dovecot
from .helpers import Certs, settings_for
from .scripted import CLOSE, ScriptedImap, ScriptedSmtp

SECRET = "pw-Secret-4711"
GMAIL = "* OK Gimap ready for requests from 192.0.2.1 a1b2c3"
O365 = "* OK The Microsoft Exchange IMAP4 service is ready. [QQBNADQAUABSADAA]"
ICLOUD = ("* OK [CAPABILITY st11p00mm-iscream009 1S XAPPLEPUSHSERVICE IMAP4 IMAP4rev1 SASL-IR "
          "AUTH=ATOKEN AUTH=PLAIN] iSCREAM ready to rumble (1S:1234) st11p00mm-iscream009")
ZIMBRA = "* OK mail.example.com Zimbra IMAP4rev1 server ready"
COURIER = ("* OK [CAPABILITY IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT "
           "THREAD=REFERENCES SORT QUOTA IDLE ACL ACL2=UNION STARTTLS ENABLE UTF8=ACCEPT] "
           "Courier-IMAP ready. Copyright 1998-2018 Double Precision, Inc.  See COPYING for "
           "distribution information.")
COURIER_FINGERPRINT = ("* OK [CAPABILITY IMAP4rev1 UIDPLUS CHILDREN NAMESPACE "
                       "THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE ACL ACL2=UNION "
                       "STARTTLS] mail.example.com ready")
CYRUS = ("* OK [CAPABILITY IMAP4rev1 LITERAL+ ID ENABLE AUTH=PLAIN SASL-IR] mail.example.com "
         "Cyrus IMAP v2.4.12-Debian-2.4.12-2 server ready")
DOVECOT = ("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
           "AUTH=PLAIN] Dovecot (Ubuntu) ready.")
FOLDERS = {"LIST": ['(\\HasNoChildren) "/" INBOX', '(\\HasNoChildren \\Sent) "/" Sent']}


@attrs.frozen
class Case:
    """One catalogue entry and how to provoke it."""

    kind: str  #: login | accepted | command | smtp | tls
    expected: type[errors.InboxLinkError] | None
    reply: str = ""
    greeting: str = DOVECOT
    stage: str = ""  #: LOGIN/EXAMINE/APPEND/UID FETCH for IMAP; auth/mail/rcpt/data_end for SMTP
    token: bool = False
    exact: bool = False  #: the error must be exactly ``expected``, not a subclass
    extra: dict[str, Any] = attrs.field(factory=dict)


CASES: dict[str, list[Case]] = {
    # ------------------------------------------------------------------ RFC 5530 at login
    "imap.rfc5530.authenticationfailed": [
        Case("login", errors.InvalidCredentials,
             "NO [AUTHENTICATIONFAILED] Authentication failed.")],
    "imap.rfc5530.authorizationfailed": [
        Case("login", errors.PermissionDenied, "NO [AUTHORIZATIONFAILED] Authorization failed")],
    "imap.rfc5530.expired": [
        Case("login", errors.AccountDisabled, "NO [EXPIRED] Password expired")],
    "imap.rfc5530.privacyrequired": [
        Case("login", errors.StartTlsUnavailable, "NO [PRIVACYREQUIRED] Plaintext authentication "
             "disallowed on non-secure (SSL/TLS) connections.")],
    "imap.rfc5530.contactadmin": [
        Case("login", errors.AccountDisabled, "NO [CONTACTADMIN] Account suspended")],
    "imap.rfc5530.unavailable": [
        Case("login", errors.TransientError, "NO [UNAVAILABLE] Temporary authentication failure."),
        Case("login", errors.TransientError, "BAD [UNAVAILABLE] Service temporarily unavailable",
             greeting=ICLOUD)],
    "imap.alert": [Case("login", errors.AuthError, "NO [ALERT] Mailbox is being migrated, "
                        "try again tomorrow", exact=True, extra={"shows": "being migrated"})],
    # ------------------------------------------------------------------ RFC 5530 on commands
    "imap.rfc5530.nonexistent_trycreate": [
        Case("command", errors.FolderNotFound, "NO [NONEXISTENT] Mailbox doesn't exist: INBOX",
             stage="EXAMINE"),
        Case("command", errors.FolderNotFound, "NO [TRYCREATE] Mailbox doesn't exist: Sent",
             stage="APPEND")],
    "imap.rfc5530.alreadyexists": [
        Case("command", errors.ConfigurationError, "NO [ALREADYEXISTS] Mailbox already exists",
             stage="APPEND", exact=True)],
    "imap.rfc5530.overquota": [
        Case("command", errors.QuotaExceeded, "NO [OVERQUOTA] Quota exceeded (mailbox for user "
             "is full)", stage="APPEND")],
    "imap.rfc5530.noperm": [
        Case("command", errors.PermissionDenied, "NO [NOPERM] Permission denied", stage="EXAMINE")],
    "imap.rfc5530.inuse": [
        Case("command", errors.TransientError, "NO [INUSE] Mailbox is locked", stage="EXAMINE")],
    "imap.rfc5530.limit": [
        Case("command", errors.RateLimited, "NO [LIMIT] Too many commands", stage="EXAMINE")],
    "imap.rfc5530.expungeissued": [
        Case("command", errors.MessageNotFound, "NO [EXPUNGEISSUED] Some messages were expunged",
             stage="UID FETCH")],
    "imap.rfc5530.server_client_bug": [
        Case("command", errors.InboxLinkError, f"NO [{code}] Internal error occurred",
             stage="EXAMINE", exact=True)
        for code in ("SERVERBUG", "CLIENTBUG", "CANNOT", "CORRUPTION")],
    # ------------------------------------------------------------------ providers
    "imap.gmail.app_password_required": [
        Case("login", errors.AppPasswordRequired, "NO [ALERT] Application-specific password "
             "required: https://support.google.com/accounts/answer/185833 (Failure)",
             greeting=GMAIL)],
    "imap.gmail.web_login_required": [
        Case("login", errors.InteractionRequired, "NO [ALERT] Please log in via your web "
             "browser: https://support.google.com/mail/accounts/answer/78754 (Failure)",
             greeting=GMAIL),
        Case("login", errors.InteractionRequired, "NO [WEBALERT https://accounts.google.com/"
             "signin/continue?x=1] Web login required.", greeting=GMAIL)],
    "imap.gmail.imap_disabled_user": [
        Case("login", errors.ProtocolDisabled, "NO [ALERT] Your account is not enabled for IMAP "
             "use. Please visit your Gmail settings page and enable your account for IMAP "
             "access. (Failure)", greeting=GMAIL)],
    "imap.gmail.imap_disabled_domain": [
        Case("login", errors.ProtocolDisabled, "NO [ALERT] IMAP access is disabled for your "
             "domain. Please contact your domain administrator for questions about this "
             "feature. (Failure)", greeting=GMAIL)],
    "imap.gmail.invalid_credentials": [
        Case("login", errors.InvalidCredentials, "NO [AUTHENTICATIONFAILED] Invalid credentials "
             "(Failure)", greeting=GMAIL),
        Case("login", errors.InvalidCredentials, "NO [ALERT] Invalid credentials (Failure)",
             greeting=GMAIL, token=True)],
    "imap.gmail.too_many_connections": [
        Case("login", errors.RateLimited, "NO [ALERT] Too many simultaneous connections. "
             "(Failure)", greeting=GMAIL)],
    "imap.o365.greeting": [Case("accepted", None, greeting=O365)],
    "imap.o365.login_failed": [Case("login", errors.BasicAuthDisabled, "NO LOGIN failed.",
                                    greeting=O365)],
    "imap.o365.authenticate_failed": [
        Case("login", errors.InvalidCredentials, "NO AUTHENTICATE failed.", greeting=O365,
             token=True)],
    "imap.outlookcom.basic_auth_disabled": [
        Case("login", errors.BasicAuthDisabled, "NO Basic authentication is disabled.",
             greeting=O365)],
    "imap.courier.detected": [
        Case("login", errors.UnsupportedServer, greeting=COURIER),
        Case("login", errors.UnsupportedServer, greeting=COURIER_FINGERPRINT)],
    "imap.dovecot.detected": [Case("accepted", None, greeting=DOVECOT)],
    "imap.cyrus.detected": [Case("accepted", None, greeting=CYRUS)],
    "imap.icloud.auth_failed": [
        Case("login", errors.AppPasswordRequired, "NO [AUTHENTICATIONFAILED] Authentication "
             "failed", greeting=ICLOUD)],
    "imap.zimbra.login_failed": [Case("login", errors.InvalidCredentials, "NO LOGIN failed",
                                      greeting=ZIMBRA)],
    "imap.starttls_not_offered": [Case("tls", errors.StartTlsUnavailable, stage="nostarttls")],
    "imap.logindisabled": [Case("login", errors.StartTlsUnavailable, stage="LOGINDISABLED")],
    "imap.bye_greeting": [
        Case("login", errors.TransientError, greeting="* BYE Too many connections from your IP, "
             "try again later")],
    "imap.connection_dropped": [Case("command", errors.ConnectionLost, CLOSE, stage="EXAMINE")],
    # ------------------------------------------------------------------ SMTP
    "smtp.gmail.app_password_required": [
        Case("smtp", errors.AppPasswordRequired, "534-5.7.9 Application-specific password "
             "required. For more information, go to\r\n534 5.7.9  https://support.google.com/"
             "mail/?p=InvalidSecondFactor d2sm1234567wrb.1 - gsmtp", stage="auth")],
    "smtp.gmail.bad_credentials": [
        Case("smtp", errors.InvalidCredentials, "535-5.7.8 Username and Password not accepted. "
             "For more information, go to\r\n535 5.7.8  https://support.google.com/mail/"
             "?p=BadCredentials d2sm1234567wrb.1 - gsmtp", stage="auth", token=token)
        for token in (False, True)],
    "smtp.gmail.web_login_required": [
        Case("smtp", errors.InteractionRequired, "534-5.7.14 <https://accounts.google.com/signin/"
             "continue?sarp=1> Please log in via your web browser and\r\n534-5.7.14 then try "
             "again.\r\n534 5.7.14  Learn more at https://support.google.com/mail/answer/78754",
             stage="auth")],
    "smtp.starttls_required": [
        Case("smtp", errors.StartTlsUnavailable, "530 5.7.0 Must issue a STARTTLS command first.",
             stage="mail")],
    "smtp.starttls_not_offered": [Case("smtp", errors.StartTlsUnavailable, stage="nostarttls")],
    "smtp.gmail.sending_limit": [
        Case("smtp", errors.QuotaExceeded, "550 5.4.5 Daily user sending limit exceeded.",
             stage="data_end"),
        Case("smtp", errors.RateLimited, "454 4.7.0 Too many login attempts, please try again "
             "later.", stage="auth"),
        Case("smtp", errors.RateLimited, "421 4.7.0 Try again later, closing connection.",
             stage="mail")],
    "smtp.gmail.too_many_recipients": [
        Case("smtp", errors.RecipientsRefused, "452 4.5.3 Your message has too many recipients.",
             stage="rcpt")],
    "smtp.message_too_large": [
        Case("smtp", errors.MessageTooLarge, "552 5.3.4 Your message exceeded Google's message "
             "size limits.", stage="data_end"),
        Case("smtp", errors.MessageTooLarge, "552 5.3.4 Message size exceeds fixed maximum "
             "message size", stage="mail")],
    "smtp.o365.smtp_auth_disabled": [
        Case("smtp", errors.ProtocolDisabled, "535 5.7.139 Authentication unsuccessful, "
             "SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/"
             "smtp_auth_disabled for more information. [AM0PR02CA0001.eurprd02.prod]",
             stage="auth")],
    "smtp.o365.basic_auth_blocked": [
        Case("smtp", errors.BasicAuthDisabled, reply, stage="auth") for reply in (
            "535 5.7.139 Authentication unsuccessful, basic authentication is disabled.",
            "535 5.7.139 Authentication unsuccessful, user is locked by your organization's "
            "security defaults policy. Contact your administrator.",
            "535 5.7.139 Authentication unsuccessful, the request did not meet the criteria to "
            "be authenticated successfully. Contact your administrator.")],
    "smtp.o365.auth_unsuccessful": [
        Case("smtp", errors.InvalidCredentials, "535 5.7.3 Authentication unsuccessful "
             "[AM0PR02CA0001.eurprd02.prod.outlook.com]", stage="auth")],
    "smtp.o365.client_not_authenticated": [
        Case("smtp", errors.InvalidCredentials, "530 5.7.57 Client not authenticated to send "
             "mail.", stage="mail")],
    "smtp.o365.send_as_denied_mailfrom": [
        Case("smtp", errors.SendAsDenied, "550 5.7.60 SMTP; Client does not have permissions to "
             "send as this sender", stage="mail")],
    "smtp.o365.send_as_denied_storedrv": [
        Case("smtp", errors.SendAsDenied, "554 5.2.252 SendAsDenied; alice@example.com not "
             "allowed to send as bob@example.com; STOREDRV.Submission.Exception:"
             "SendAsDeniedException.MapiExceptionSendAsDenied", stage="data_end")],
    "smtp.o365.concurrent_connections": [
        Case("smtp", errors.RateLimited, "432 4.3.2 Concurrent connections limit exceeded.",
             stage="mail")],
    "smtp.o365.daily_recipient_quota": [
        Case("smtp", errors.QuotaExceeded, "554 5.2.0 STOREDRV.Submission.Exception:"
             "SubmissionQuotaExceededException; Failed to process message", stage="data_end")],
    "smtp.o365.sender_mailbox_full": [
        Case("smtp", errors.QuotaExceeded, "554 5.2.2 mailbox full; STOREDRV.Submission."
             "Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded",
             stage="data_end")],
    "smtp.temporary_failure_421": [
        Case("smtp", errors.TransientError, "421 4.3.0 Temporary System Problem. Try again later",
             stage="greeting")],
    "smtp.connection_dropped": [Case("smtp", errors.ConnectionLost, CLOSE, stage="mail")],
    # ------------------------------------------------------------------ TLS
    "tls.hostname_mismatch": [Case("tls", errors.CertificateError, stage="mismatch")],
    "tls.untrusted": [Case("tls", errors.CertificateError, stage="untrusted")],
    "tls.expired": [Case("tls", errors.CertificateError, stage="expired")],
    "tls.wrong_mode": [Case("tls", errors.ConnectError, stage="wrong-mode", exact=True)],
}

#: the catalogue's IMAP/SMTP/TLS entry ids (errors.yaml, providers imap*, smtp*, tls)
CATALOGUE_IDS = frozenset(CASES)


def _params() -> Iterator[Any]:
    for entry, cases in CASES.items():
        for n, case in enumerate(cases):
            yield pytest.param(entry, case, id=f"{entry}-{n}")


@pytest.fixture(scope="module")
def expired_context(certs: Certs, tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    now = dt.datetime.now(dt.timezone.utc)
    leaf = certs.ca.issue_cert("127.0.0.1", not_before=now - dt.timedelta(days=30),
                               not_after=now - dt.timedelta(days=1))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(ctx)
    return ctx


def _imap_settings(server: ScriptedImap, certs: Certs, case: Case) -> ImapSettings:
    credentials = {"access_token": SECRET} if case.token else {"password": SECRET}
    return ImapSettings(address="alice@example.com", imap_host="127.0.0.1",
                        imap_port=server.port, ssl_context=certs.client_context(), timeout=5,
                        **credentials)  # type: ignore[arg-type]


def _run_imap(case: Case, certs: Certs) -> tuple[BaseException | None, ScriptedImap]:
    replies = {}
    capabilities = "IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 UIDPLUS"
    if case.kind == "login":
        replies = {"LOGIN": case.reply, "AUTHENTICATE": case.reply}
        if case.stage == "LOGINDISABLED":
            capabilities += " LOGINDISABLED"
    elif case.kind == "command":
        replies = {case.stage: case.reply}
    greeting = case.greeting if case.stage != "LOGINDISABLED" else "* OK ready"
    server = ScriptedImap(greeting, capabilities=capabilities, replies=replies, folders=FOLDERS,
                          context=certs.server_context())
    try:
        with ImapMailbox(_imap_settings(server, certs, case)) as mailbox:
            if case.kind == "command":
                operation: Callable[[], object] = {
                    "EXAMINE": lambda: mailbox.list_messages("INBOX"),
                    "APPEND": lambda: mailbox.append_to_sent(b"Subject: x\r\n\r\nx\r\n"),
                    "UID FETCH": lambda: mailbox.fetch("INBOX:7:1"),
                }[case.stage]
                operation()
    except errors.InboxLinkError as exc:
        return exc, server
    finally:
        server.stop()
    return None, server


def _run_smtp(case: Case, certs: Certs, dovecot: Dovecot) -> tuple[BaseException | None,
                                                                    ScriptedSmtp]:
    replies = {case.stage: case.reply} if case.stage != "nostarttls" else {}
    server = ScriptedSmtp(replies, starttls=case.stage != "nostarttls",
                          tls_context=certs.server_context())
    user = dovecot.new_user()
    settings = attrs.evolve(settings_for(dovecot, user, certs), smtp_host="127.0.0.1",
                            smtp_port=server.port)
    if case.token:
        # Dovecot takes the password as an XOAUTH2 token too (passwd-file).
        settings = attrs.evolve(settings, password=None, access_token=PASSWORD)
    try:
        with ImapMailbox(settings) as mailbox:
            mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="s", text="t"))
    except errors.InboxLinkError as exc:
        return exc, server
    finally:
        server.stop()
    return None, server


def _run_tls(case: Case, certs: Certs, dovecot: Dovecot, dovecot_nossl: Dovecot,
             expired_context: ssl.SSLContext) -> BaseException | None:
    user = dovecot.new_user()
    base = settings_for(dovecot, user, certs)
    settings = {
        "mismatch": attrs.evolve(base, imap_host="localhost"),
        "untrusted": attrs.evolve(base, ssl_context=None),
        "wrong-mode": attrs.evolve(base, imap_port=dovecot.imap_port),
        "nostarttls": attrs.evolve(base, imap_port=dovecot_nossl.imap_port,
                                   imap_security="starttls"),
    }.get(case.stage)
    server = None
    if case.stage == "expired":
        server = ScriptedImap(context=expired_context)
        settings = attrs.evolve(base, imap_port=server.port)
    assert settings is not None
    try:
        with ImapMailbox(settings):
            return None
    except errors.InboxLinkError as exc:
        return exc
    finally:
        if server is not None:
            server.stop()


@pytest.mark.parametrize(("entry", "case"), list(_params()))
def test_catalogue_entry(entry: str, case: Case, certs: Certs, dovecot: Dovecot,
                         dovecot_nossl: Dovecot, expired_context: ssl.SSLContext) -> None:
    if case.kind in ("login", "accepted", "command"):
        error, imap = _run_imap(case, certs)
        if ((case.kind in ("login", "accepted") and case.stage != "")
                or case.greeting in (COURIER, COURIER_FINGERPRINT)):
            # Refused before sign-in: the credentials never left the machine.
            assert not any(c.split(" ")[1].upper() in ("LOGIN", "AUTHENTICATE")
                           for c in imap.commands), imap.commands
    elif case.kind == "smtp":
        error, smtp = _run_smtp(case, certs, dovecot)
        if case.stage == "nostarttls":
            assert not any(c.upper().startswith(("AUTH", "MAIL")) for c in smtp.commands)
        if case.token:
            # Google's error challenge was answered with an empty line, as XOAUTH2 requires.
            assert "challenge answer: " in smtp.commands
    else:
        error = _run_tls(case, certs, dovecot, dovecot_nossl, expired_context)

    if case.expected is None:
        assert error is None
        return
    assert error is not None, f"{entry}: no error raised"
    if case.exact:
        assert type(error) is case.expected, repr(error)
    else:
        assert isinstance(error, case.expected), repr(error)
    assert error.remedy
    assert error.provider == "imap"
    secret = PASSWORD if case.kind == "smtp" else SECRET
    assert secret not in str(error)
    assert secret not in repr(error)
    if error.code not in ("NOSTARTTLS", "GREETING", "LOGINDISABLED"):
        # refused by our own checks before anything was sent; all others come from the wire
        assert error.__cause__ is not None
    if "shows" in case.extra:
        assert case.extra["shows"] in error.message


def test_tls_errors_say_why(certs: Certs, dovecot: Dovecot, dovecot_nossl: Dovecot,
                            expired_context: ssl.SSLContext) -> None:
    reasons = {}
    for stage in ("mismatch", "untrusted", "expired"):
        error = _run_tls(Case("tls", errors.CertificateError, stage=stage), certs, dovecot,
                         dovecot_nossl, expired_context)
        assert isinstance(error, errors.CertificateError)
        reasons[stage] = error
    mismatch = reasons["mismatch"]
    assert mismatch.reason == "name-mismatch"
    assert mismatch.host == "localhost"
    assert set(mismatch.names) >= {"127.0.0.1", "mail.example.test"}
    assert "mail.example.test" in mismatch.message
    assert reasons["untrusted"].reason == "untrusted"
    assert reasons["expired"].reason == "expired"
    assert "expired" in reasons["expired"].message


def test_every_rule_names_a_catalogue_entry_or_none() -> None:
    for rule in TABLE.rules:
        assert rule.source is None or rule.source in CATALOGUE_IDS, rule


def test_every_catalogue_entry_has_a_rule_or_is_informational() -> None:
    informational = {"imap.o365.greeting", "imap.dovecot.detected", "imap.cyrus.detected"}
    sources = {rule.source for rule in TABLE.rules}
    assert CATALOGUE_IDS - informational <= sources


def test_cases_match_the_catalogue_file() -> None:
    # CI keeps ../shared beside the clone; a git worktree sits one level deeper.
    repo = Path(__file__).resolve().parents[2]
    candidates = [Path(p) for p in (os.environ.get("INBOXLINK_ERRORS_YAML"),) if p] + [
        repo.parent / "shared" / "errors.yaml", repo.parent.parent / "shared" / "errors.yaml"]
    path = next((p for p in candidates if p.exists()), None)
    if path is None:
        pytest.skip("the shared errors.yaml is not beside this checkout; the ids are embedded")
    import yaml

    data = yaml.safe_load(path.read_text())
    ids = {e["id"] for e in data["entries"]
           if str(e.get("provider", "")).startswith(("imap", "smtp", "tls"))}
    assert ids == CATALOGUE_IDS
