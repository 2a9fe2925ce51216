"""Connecting: URL forms, versions, sign-in forms, and every set-up failure as a typed error."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import trustme

import inboxlink
from inboxlink import errors
from inboxlink.adapters.ews import EwsMailbox, EwsSettings
from inboxlink.adapters.ews.settings import endpoint_from, suggest_ews_url

from .conftest import ADDRESS, PASSWORD
from .emulator import EwsEmulator

Connect = Callable[..., Any]

CONNECT_SEQUENCE = ["ConvertId", "ConvertId", "ResolveNames", "GetFolder", "FindFolder"]


# ---------------------------------------------------------------------------- URL forms
@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://mail.example.com/EWS/Exchange.asmx", "https://mail.example.com/EWS/Exchange.asmx"),
        ("https://mail.example.com/ews/exchange.asmx", "https://mail.example.com/ews/exchange.asmx"),
        ("mail.example.com", "https://mail.example.com/EWS/Exchange.asmx"),
        ("https://webmail.example.com/", "https://webmail.example.com/EWS/Exchange.asmx"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/EWS/Exchange.asmx"),
        ("https://proxy.example.com/custom/ews", "https://proxy.example.com/custom/ews"),
    ],
)
def test_endpoint_forms(given: str, expected: str) -> None:
    assert endpoint_from(given) == expected


@pytest.mark.parametrize("given", ["https://mail.example.com/owa", "https://mail.example.com/owa/",
                                   "mail.example.com/OWA/auth/logon.aspx",
                                   "https://mail.example.com/ecp/"])
def test_owa_address_is_refused_before_any_request(given: str) -> None:
    with pytest.raises(errors.InvalidExchangeUrl) as info:
        EwsMailbox(EwsSettings(address=ADDRESS, url=given, password=PASSWORD))
    assert info.value.suggested_url == "https://mail.example.com/EWS/Exchange.asmx"
    assert "https://mail.example.com/EWS/Exchange.asmx" in info.value.remedy


def test_suggestion_keeps_the_host_and_scheme() -> None:
    assert suggest_ews_url("https://mail.example.com/home") == \
        "https://mail.example.com/EWS/Exchange.asmx"
    assert suggest_ews_url("http://10.0.0.5:81/owa") == "http://10.0.0.5:81/EWS/Exchange.asmx"


def test_bare_host_connects(emulator: EwsEmulator, connect: Connect) -> None:
    mailbox = connect(url=emulator.base_url)
    assert mailbox.endpoint == emulator.ews_url
    assert mailbox.folder("inbox").name == "Inbox"


def test_connect_through_registry(emulator: EwsEmulator) -> None:
    mailbox = inboxlink.connect(f"ews://{ADDRESS}", password=PASSWORD, url=emulator.ews_url)
    try:
        assert isinstance(mailbox, EwsMailbox)
        assert mailbox.address == ADDRESS
    finally:
        mailbox.close()


def test_connecting_costs_five_requests_and_checks_everything(
    emulator: EwsEmulator, connect: Connect
) -> None:
    connect()
    # auth-type probe, version probe, SMTP address, distinguished folders, folder tree
    assert emulator.requests == CONNECT_SEQUENCE


def test_known_auth_type_skips_the_probe(emulator: EwsEmulator, connect: Connect) -> None:
    connect(auth_type="basic")
    assert emulator.requests == CONNECT_SEQUENCE[1:]


def test_owa_redirect_is_invalid_exchange_url_with_suggestion(
    emulator: EwsEmulator, connect: Connect
) -> None:
    with pytest.raises(errors.InvalidExchangeUrl) as info:
        connect(url=emulator.base_url + "/home", auth_type="basic")
    assert info.value.suggested_url == emulator.ews_url
    assert emulator.ews_url in info.value.remedy
    assert isinstance(info.value.__cause__, Exception)
    assert type(info.value.__cause__).__name__ == "RedirectError"


def test_owa_redirect_while_detecting_auth_is_invalid_exchange_url(
    emulator: EwsEmulator, connect: Connect
) -> None:
    with pytest.raises(errors.InvalidExchangeUrl) as info:
        connect(url=emulator.base_url + "/home")
    assert info.value.suggested_url == emulator.ews_url
    assert "Failed to get auth type" in str(info.value.__cause__)
    assert all(r == "POST /home" for r in emulator.requests)


def test_html_page_is_invalid_exchange_url(emulator: EwsEmulator, connect: Connect) -> None:
    with pytest.raises(errors.InvalidExchangeUrl) as info:
        connect(url=emulator.base_url + "/portal", auth_type="basic")
    assert info.value.suggested_url == emulator.ews_url
    assert type(info.value.__cause__).__name__ == "MalformedResponseError"


def test_other_redirect_suggests_its_target(emulator: EwsEmulator, connect: Connect) -> None:
    emulator.fail_next("http:ConvertId", kind="http", status=301,
                       headers={"Location": "https://mail.example.com/EWS/Exchange.asmx"})
    with pytest.raises(errors.InvalidExchangeUrl) as info:
        connect(auth_type="basic")
    assert info.value.suggested_url == "https://mail.example.com/EWS/Exchange.asmx"


def _rule_remedy(code: str, text: str) -> str | None:
    from inboxlink.adapters.ews.errors import TABLE
    from inboxlink.translate import Signal

    rule = TABLE.match(Signal("ews", code, text))
    assert rule is not None
    return rule.remedy


_INTERNAL_ERROR_PAGE = "https://mail.example.com/internalsite/internalerror.asp"


@pytest.mark.parametrize("operation", ["http:ConvertId", "http:FindItem"])
def test_redirect_to_the_internal_error_page_keeps_the_rules_remedy(
    emulator: EwsEmulator, connect: Connect, operation: str
) -> None:
    # The rule's class (ConnectError) takes no suggested_url: the user still gets the rule's
    # remedy, not the generic "check the host name" of ConnectError.
    emulator.fail_next(operation, kind="http", status=302,
                       headers={"Location": _INTERNAL_ERROR_PAGE})
    def connect_and_list() -> None:
        connect(auth_type="basic").list_messages("inbox")

    with pytest.raises(errors.ConnectError) as info:
        connect_and_list()
    assert type(info.value) is errors.ConnectError
    expected = _rule_remedy("RedirectError", f"We were redirected to {_INTERNAL_ERROR_PAGE}")
    assert info.value.remedy == expected
    assert "internal error page" in info.value.remedy
    assert not hasattr(info.value, "suggested_url")


@pytest.mark.parametrize(("location", "fragment"), [
    ("https://sso.example.org/adfs/ls/?wa=wsignin1.0", "reverse proxy"),
    ("/owa/auth/logon.aspx?replaceCurrent=1", "Outlook on the web sign-in page"),
])
def test_redirect_of_the_ews_url_itself_gives_the_rules_remedy(
    emulator: EwsEmulator, connect: Connect, location: str, fragment: str
) -> None:
    # The EWS URL was given and turned away: suggesting that same URL would help nobody.
    emulator.fail_next("http:ConvertId", kind="http", status=302, headers={"Location": location})
    with pytest.raises(errors.InvalidExchangeUrl) as info:
        connect(auth_type="basic")
    assert info.value.suggested_url is None
    assert fragment in info.value.remedy
    assert info.value.remedy == _rule_remedy("RedirectError",
                                             f"We were redirected to {location}")
    assert location.split("?")[0] in info.value.message


@pytest.mark.parametrize("location", ["https://sso.example.org/adfs/ls/",
                                      "/owa/auth/logon.aspx?replaceCurrent=1"])
def test_redirect_from_another_path_suggests_the_ews_url_of_its_host(
    emulator: EwsEmulator, connect: Connect, location: str
) -> None:
    emulator.fail_next("http:ConvertId", kind="http", status=302, headers={"Location": location})
    with pytest.raises(errors.InvalidExchangeUrl) as info:
        connect(url=emulator.base_url + "/custom/ews", auth_type="basic")
    assert info.value.suggested_url == emulator.ews_url
    assert emulator.ews_url in info.value.remedy


# ---------------------------------------------------------------------------- versions
@pytest.mark.parametrize(
    ("build", "shown"),
    [((14, 1, 218, 15), "14.1"), ((14, 0, 639, 21), "14.0"), ((8, 3, 83, 6), "8.3")],
)
def test_older_than_2010_sp2_is_refused(
    emulator: EwsEmulator, connect: Connect, build: tuple[int, int, int, int], shown: str
) -> None:
    emulator.version = build
    with pytest.raises(errors.UnsupportedExchangeVersion) as info:
        connect()
    assert info.value.server_version is not None
    assert shown in info.value.server_version
    assert shown in info.value.message
    assert "2010 SP2" in info.value.message
    assert "2010 SP2" in info.value.remedy
    assert info.value.code == "ServerVersionTooOld"


@pytest.mark.parametrize("build", [(14, 2, 247, 5), (14, 3, 123, 4), (15, 0, 1497, 2),
                                   (15, 1, 2507, 6), (15, 2, 1118, 7)])
def test_2010_sp2_and_newer_are_accepted(
    emulator: EwsEmulator, connect: Connect, build: tuple[int, int, int, int]
) -> None:
    emulator.version = build
    mailbox = connect()
    assert f"{build[0]}.{build[1]}" in mailbox.server_version


def test_reconnect_sees_an_updated_server(emulator: EwsEmulator, connect: Connect) -> None:
    emulator.version = (14, 1, 218, 15)
    with pytest.raises(errors.UnsupportedExchangeVersion):
        connect()
    emulator.version = (14, 3, 123, 4)
    assert "14.3" in connect().server_version


def test_server_rejecting_every_version_is_unsupported(
    emulator: EwsEmulator, connect: Connect
) -> None:
    emulator.fail_next("ConvertId", "ErrorInvalidServerVersion", kind="fault", times=50)
    with pytest.raises(errors.UnsupportedExchangeVersion) as info:
        connect(auth_type="basic")
    assert info.value.code in ("TransportError", "ErrorInvalidServerVersion")


# ---------------------------------------------------------------------------- sign-in
def test_wrong_password_is_invalid_credentials_with_full_remedy(connect: Connect) -> None:
    with pytest.raises(errors.InvalidCredentials) as info:
        connect(password="wrong")
    remedy = info.value.remedy
    assert "password" in remedy
    assert "app password" in remedy
    assert "DOMAIN\\username" in remedy
    assert "EWS/Exchange.asmx" in remedy
    assert "wrong" not in str(info.value)
    assert info.value.code == "UnauthorizedError"


def test_wrong_password_fails_fast(emulator: EwsEmulator, connect: Connect) -> None:
    with pytest.raises(errors.InvalidCredentials):
        connect(password="wrong", auth_type="basic")
    assert emulator.requests == ["ConvertId"]


@pytest.mark.parametrize("login", ["CORP\\alice", "alice@corp.example.com", ADDRESS])
def test_login_forms(connect: Connect, login: str) -> None:
    mailbox = connect(username=login)
    assert mailbox.folder("inbox").role is not None


def test_bare_username_is_refused_with_domain_hint(connect: Connect) -> None:
    with pytest.raises(errors.InvalidCredentials) as info:
        connect(username="alice")
    assert "DOMAIN\\username" in info.value.remedy
    assert info.value.code == "UnauthorizedBareUsername"


def test_locked_account(emulator: EwsEmulator, connect: Connect) -> None:
    emulator.locked_out.add("corp\\alice")
    with pytest.raises(errors.AccountDisabled) as info:
        connect(username="CORP\\alice", password="wrong", auth_type="basic")
    assert "locked" in info.value.remedy


def test_no_compatible_auth_method(emulator: EwsEmulator, connect: Connect) -> None:
    emulator.auth_schemes = ["Negotiate"]
    with pytest.raises(errors.InboxLinkError) as info:
        connect()
    # exchangelib reports it while detecting (TransportError) — the URL cannot be used as is
    assert isinstance(info.value, errors.BasicAuthDisabled)
    assert "Negotiate" in info.value.message


def test_no_password_or_token_is_a_configuration_error() -> None:
    with pytest.raises(errors.ConfigurationError):
        EwsMailbox(EwsSettings(address=ADDRESS, url="https://mail.example.com"))


def test_unknown_auth_type(connect: Connect) -> None:
    with pytest.raises(errors.ConfigurationError):
        connect(auth_type="kerberos-ish")


def test_mailbox_without_smtp_address(emulator: EwsEmulator, connect: Connect) -> None:
    emulator.users[ADDRESS].smtp = False
    with pytest.raises(errors.MissingSmtpAddress) as info:
        connect()
    assert "SMTP" in info.value.remedy


def test_mailbox_that_does_not_exist(emulator: EwsEmulator, connect: Connect) -> None:
    emulator.add_user("bob@example.com", "pw")
    with pytest.raises(errors.MailboxNotFound) as info:
        connect(address="nobody@example.com", username="bob@example.com", password="pw")
    assert info.value.code == "ErrorNonExistentMailbox"


def test_url_with_password_in_it_is_not_needed(emulator: EwsEmulator) -> None:
    settings = EwsSettings.from_url(f"ews://{ADDRESS}", password=PASSWORD, url=emulator.ews_url)
    assert PASSWORD not in repr(settings)


# ---------------------------------------------------------------------------- autodiscover
def test_autodiscover_failure_is_typed() -> None:
    with pytest.raises(errors.AutodiscoverFailed) as info:
        # timeout bounds the DNS look-ups too, should this machine have no resolver
        EwsMailbox(EwsSettings(address="alice@example.invalid", password="x", timeout=2))
    assert "EWS" in info.value.remedy


def test_autodiscover_url_override_finds_the_endpoint(emulator: EwsEmulator,
                                                       connect: Connect) -> None:
    mailbox = connect(url=None,
                      autodiscover_url=emulator.base_url + "/autodiscover/autodiscover.svc")
    assert mailbox.endpoint == emulator.ews_url
    assert "GetUserSettingsRequestMessage" in emulator.requests


def test_autodiscover_unknown_user_is_mailbox_not_found(emulator: EwsEmulator,
                                                        connect: Connect) -> None:
    emulator.add_user("bob@example.com", "pw")
    with pytest.raises(errors.MailboxNotFound):
        connect(url=None, address="nobody@example.com", username="bob@example.com",
                password="pw",
                autodiscover_url=emulator.base_url + "/autodiscover/autodiscover.svc")


# ---------------------------------------------------------------------------- transport / TLS
@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _tls_emulator(ca: trustme.CA, *names: str) -> EwsEmulator:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    server = EwsEmulator(ssl_context=context)
    server.start()
    server.add_user(ADDRESS, PASSWORD)
    return server


@pytest.fixture
def trusted_ca(ca: trustme.CA, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> trustme.CA:
    # requests (under exchangelib) reads its trust store from REQUESTS_CA_BUNDLE.
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    return ca


@pytest.fixture
def wrong_host_server(trusted_ca: trustme.CA) -> Iterator[EwsEmulator]:
    server = _tls_emulator(trusted_ca, "mail.example.com")
    yield server
    server.stop()


def test_certificate_name_mismatch_names_the_host(wrong_host_server: EwsEmulator) -> None:
    with pytest.raises(errors.CertificateError) as info:
        EwsMailbox(EwsSettings(address=ADDRESS, url=wrong_host_server.ews_url,
                               password=PASSWORD))
    assert info.value.reason == "name-mismatch"
    assert info.value.host == "127.0.0.1"
    assert "127.0.0.1" in info.value.message
    assert "127.0.0.1" in info.value.remedy
    assert wrong_host_server.requests == []


def test_untrusted_certificate(ca: trustme.CA) -> None:
    server = _tls_emulator(ca, "127.0.0.1")
    try:
        with pytest.raises(errors.CertificateError) as info:
            EwsMailbox(EwsSettings(address=ADDRESS, url=server.ews_url, password=PASSWORD))
        assert info.value.reason == "untrusted"
    finally:
        server.stop()


def test_oauth_token_over_https(trusted_ca: trustme.CA) -> None:
    server = _tls_emulator(trusted_ca, "127.0.0.1")
    server.tokens["tok-123"] = ADDRESS
    try:
        mailbox = EwsMailbox(EwsSettings(address=ADDRESS, url=server.ews_url,
                                         access_token="tok-123"))
        try:
            assert mailbox.folder("inbox").role is not None
            # a known auth type: no unauthenticated probe
            assert server.requests == CONNECT_SEQUENCE[1:]
        finally:
            mailbox.close()
        with pytest.raises(errors.InvalidCredentials):
            EwsMailbox(EwsSettings(address=ADDRESS, url=server.ews_url, access_token="expired"))
    finally:
        server.stop()


def test_unreachable_server() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(errors.ServerUnreachable) as info:
        EwsMailbox(EwsSettings(address=ADDRESS, url=f"http://127.0.0.1:{port}",
                               password=PASSWORD, auth_type="basic"))
    assert isinstance(info.value, ConnectionError)
    assert "firewall" in info.value.remedy


def test_ssl_context_trusts_a_private_ca(ca: trustme.CA) -> None:
    server = _tls_emulator(ca, "127.0.0.1")
    context = ssl.create_default_context()
    ca.configure_trust(context)
    try:
        mailbox = EwsMailbox(EwsSettings(address=ADDRESS, url=server.ews_url,
                                         password=PASSWORD, ssl_context=context))
        mailbox.close()
        # …for that mailbox only: exchangelib's defaults are untouched
        with pytest.raises(errors.CertificateError):
            EwsMailbox(EwsSettings(address=ADDRESS, url=server.ews_url, password=PASSWORD))
    finally:
        server.stop()


def test_verify_tls_false_accepts_any_certificate(ca: trustme.CA) -> None:
    server = _tls_emulator(ca, "mail.example.com")
    try:
        mailbox = EwsMailbox(EwsSettings(address=ADDRESS, url=server.ews_url,
                                         password=PASSWORD, verify_tls=False))
        assert mailbox.folder("inbox").role is not None
        mailbox.close()
    finally:
        server.stop()


# ---------------------------------------------------------------------------- NTLM
@pytest.fixture
def ntlm(emulator: EwsEmulator, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> EwsEmulator:
    """The emulator offering Negotiate/NTLM like IIS; pyspnego verifies the NTLM exchange."""
    emulator.auth_schemes = ["Negotiate", "NTLM"]
    users = tmp_path / "ntlm_users"
    emulator.write_ntlm_users(str(users))
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    return emulator


@pytest.mark.parametrize("login", ["CORP\\alice", "alice@corp.example.com", ADDRESS])
def test_ntlm_login_forms(ntlm: EwsEmulator, connect: Connect, login: str) -> None:
    mailbox = connect(username=login)
    assert mailbox.account.protocol.auth_type == "NTLM"
    # probe, then the three NTLM legs of the version request, then the checks
    assert ntlm.requests == ["ConvertId"] * 4 + CONNECT_SEQUENCE[2:]


def test_ntlm_wrong_password(ntlm: EwsEmulator, connect: Connect) -> None:
    with pytest.raises(errors.InvalidCredentials) as info:
        connect(username="CORP\\alice", password="wrong")
    assert "DOMAIN\\username" in info.value.remedy


def test_ntlm_wrong_domain(ntlm: EwsEmulator, connect: Connect) -> None:
    with pytest.raises(errors.InvalidCredentials):
        connect(username="OTHER\\alice")


def test_address_book_closed_to_the_account_skips_the_smtp_check(
    emulator: EwsEmulator, connect: Connect
) -> None:
    emulator.fail_next("ResolveNames", "ErrorAccessDenied")
    assert connect().folder("inbox").role is not None


def test_failed_connect_leaves_no_cached_protocol(emulator: EwsEmulator,
                                                  connect: Connect) -> None:
    from exchangelib.protocol import CachingProtocol

    emulator.version = (14, 1, 218, 15)
    with pytest.raises(errors.UnsupportedExchangeVersion):
        connect()
    assert not [key for key in CachingProtocol._protocol_cache if key[0] == emulator.ews_url]


def test_two_mailboxes_on_one_account_close_independently(emulator: EwsEmulator,
                                                          connect: Connect) -> None:
    first, second = connect(), connect()
    first.close()
    assert second.list_messages("INBOX").items == ()
    second.close()
    first.close()
