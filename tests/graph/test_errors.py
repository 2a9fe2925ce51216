"""Every Graph and Entra ID entry of errors.yaml maps to its typed error, through the real SDK."""

from __future__ import annotations

import os
import pathlib
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.core.credentials import AccessToken
from azure.identity import (
    ClientSecretCredential,
    EnvironmentCredential,
    InteractiveBrowserCredential,
)

from inboxlink import OutgoingMessage, errors
from inboxlink.adapters.graph import GraphMailbox
from inboxlink.adapters.graph.errors import TABLE
from inboxlink.testing.conformance import make_message

from .cases import ENTRA_CASES, GRAPH_CASES, EntraCase, GraphCase
from .conftest import make_mailbox
from .emulator import GraphEmulator, make_token
from .entra import EntraEmulator

_PATHS = {"list": r"/messages$", "send": r"/sendMail$", "append": r"/messages$",
          "fetch": r"/\$value$", "changes": r"/messages/delta$"}
_METHODS = {"list": "GET", "send": "POST", "append": "POST", "fetch": "GET", "changes": "GET"}


def _yaml_ids() -> set[str]:
    here = pathlib.Path(__file__).resolve()
    for candidate in (here.parents[3] / "shared" / "errors.yaml",
                      pathlib.Path("/work/shared/errors.yaml")):
        if candidate.exists():
            text = candidate.read_text(encoding="utf-8")
            text = text.split("\nentries:", 1)[1].split("\nreference:", 1)[0]
            return set(re.findall(r"^\s+- id: ((?:graph|entra)\.[a-z_]+)\s*$", text, re.M))
    pytest.skip("shared/errors.yaml is not beside the checkout")


def _operate(box: GraphMailbox, emulator: GraphEmulator, op: str, token: str = "") -> None:
    if op == "list":
        box.list_messages("inbox", limit=5)
    elif op == "send":
        box.send(OutgoingMessage(to=["carol@example.org"], subject="x", text="x"))
    elif op == "append":
        box.append_to_sent(make_message(9, sender=emulator.address))
    elif op == "fetch":
        mid = emulator.deliver(make_message(1))
        box.fetch(mid)
    elif op == "changes":
        box.changes("inbox", token)


def test_every_yaml_entry_has_a_case_and_a_rule() -> None:
    ids = _yaml_ids()
    covered = {c.source for c in GRAPH_CASES} | {c.source for c in ENTRA_CASES}
    assert ids - covered == set()
    ruled = {r.source for r in TABLE.rules if r.source}
    assert ids - ruled <= {"graph.batch_item_errors"}  # per-item: the other rows apply
    assert ruled - ids == set()


@pytest.mark.parametrize("case", GRAPH_CASES,
                         ids=[f"{c.source}-{c.status}-{c.code}" for c in GRAPH_CASES])
def test_graph_signal(emulator: GraphEmulator, mailbox: GraphMailbox, case: GraphCase) -> None:
    mailbox.folders()  # resolve folders first; the failure targets the operation itself
    token = mailbox.sync_token("inbox") if case.op == "changes" else ""
    emulator.fail(case.status, case.code, case.message, path=_PATHS[case.op],
                  method=_METHODS[case.op], headers=case.headers, raw_body=case.raw_body,
                  times=case.times)
    with pytest.raises(case.expected) as info:
        _operate(mailbox, emulator, case.op, token)
    error = info.value
    assert type(error) is case.expected or case.expected is errors.ConfigurationError
    assert error.provider == "graph"
    assert error.remedy
    if case.code:
        assert error.code is not None
        assert error.code.lower() in (
            case.code.lower(), "insufficient_claims")
    if case.code:
        assert "request-id" in error.message  # graph.request_ids: support needs it
    for key, value in case.attrs_.items():
        assert getattr(error, key) == value
    if case.op != "fetch":  # $batch items fail inside a 200 answer: no SDK exception
        assert isinstance(error.__cause__, Exception)
        assert type(error.__cause__).__module__.startswith(("kiota", "msgraph"))


def test_rest_not_enabled_follow_up_finds_no_mailbox(emulator: GraphEmulator,
                                                     mailbox: GraphMailbox) -> None:
    mailbox.folders()
    emulator.user["assignedPlans"] = []  # licensed for nothing: no Exchange Online mailbox
    emulator.fail(404, "MailboxNotEnabledForRESTAPI", "REST API is not yet supported for this "
                  "mailbox.", path=r"/messages$")
    with pytest.raises(errors.MailboxNotFound) as info:
        mailbox.list_messages("inbox")
    assert info.value.code == "MailboxNotEnabledForRESTAPI"
    assert "licence" in info.value.remedy
    probe = [r for r in emulator.requests if r.path.endswith("/me")]
    assert len(probe) == 1
    assert parse_qs(urlsplit("?" + "&".join(f"{k}={v[0]}" for k, v in probe[0].query.items())
                             ).query)["$select"] == ["mail,assignedPlans"]


def test_rest_not_enabled_stays_when_the_probe_is_refused(emulator: GraphEmulator,
                                                          mailbox: GraphMailbox) -> None:
    mailbox.folders()
    emulator.fail(404, "MailboxNotEnabledForRESTAPI", "REST API is not yet supported.",
                  path=r"/messages$")
    emulator.fail(403, "Authorization_RequestDenied",
                  "Insufficient privileges to complete the operation.", path=r"/me$")
    with pytest.raises(errors.RestApiNotEnabled) as info:
        mailbox.list_messages("inbox")
    assert "IMAP or EWS" in info.value.remedy


def test_missing_scopes_are_named_from_the_token(emulator: GraphEmulator) -> None:
    emulator.token = make_token("Mail.Read openid")
    box = make_mailbox(emulator)
    with pytest.raises(errors.InsufficientScopes) as info:
        box.send(OutgoingMessage(to=["carol@example.org"], subject="x", text="x"))
    assert info.value.missing == ("Mail.ReadWrite", "Mail.Send", "offline_access", "email")
    assert "Mail.Send" in info.value.remedy


def test_app_only_token_missing_roles(emulator: GraphEmulator) -> None:
    emulator.token = make_token(None, roles=["Mail.Read"])
    box = make_mailbox(emulator, user_id=emulator.address)
    with pytest.raises(errors.InsufficientScopes) as info:
        box.send(OutgoingMessage(to=["carol@example.org"], subject="x", text="x"))
    assert info.value.missing == ("Mail.ReadWrite", "Mail.Send")


def test_admin_consent_url_from_token_claims(emulator: GraphEmulator,
                                             mailbox: GraphMailbox) -> None:
    emulator.fail(401, "NoPermissionsInAccessToken",
                  "The token contains no permissions, or permissions can not be understood.")
    with pytest.raises(errors.AdminConsentRequired) as info:
        mailbox.folders()
    url = info.value.consent_url
    assert url is not None
    assert url.startswith("https://login.microsoftonline.com/contoso-tenant-id/v2.0/adminconsent")
    assert "client_id=11111111-2222-3333-4444-555555555555" in url
    assert url in info.value.remedy


def test_expired_static_token(emulator: GraphEmulator) -> None:
    box = make_mailbox(emulator, access_token="eyJ.expired.token")
    with pytest.raises(errors.ReauthorizationRequired) as info:
        box.folders()
    assert "eyJ.expired.token" not in str(info.value)


def test_throttling_is_retried_by_one_layer_only(emulator: GraphEmulator,
                                                 mailbox: GraphMailbox) -> None:
    mailbox.folders()
    emulator.fail(429, "ApplicationThrottled", "Application is over its MailboxConcurrency "
                  "limit.", path=r"/messages$", headers={"Retry-After": "2"}, times=2)
    emulator.deliver(make_message(1))
    page = mailbox.list_messages("inbox")
    assert len(page.items) == 1
    # kiota's RetryHandler is off: 2 refused + 1 accepted, not 4 per attempt.
    assert emulator.count("GET", r"/messages$") == 3


def test_send_is_never_retried(emulator: GraphEmulator, mailbox: GraphMailbox) -> None:
    emulator.fail(504, "UnknownError", "Gateway timeout", path=r"/sendMail$", times=3)
    with pytest.raises(errors.TransientError):
        mailbox.send(OutgoingMessage(to=["carol@example.org"], subject="x", text="x"))
    assert emulator.count("POST", r"/sendMail$") == 1


def test_gateway_page_is_not_odata(emulator: GraphEmulator, mailbox: GraphMailbox) -> None:
    emulator.fail(502, raw_body=b"<html>Bad gateway</html>", times=5)
    with pytest.raises(errors.TransientError) as info:
        mailbox.folders()
    assert type(info.value.__cause__).__name__ == "APIError"


CLIENT_ID = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def entra(emulator: GraphEmulator, tmp_path: pathlib.Path) -> Iterator[EntraEmulator]:
    server = EntraEmulator(tmp_path, emulator.token).start()
    yield server
    server.stop()


def _secret_credential(entra: EntraEmulator) -> ClientSecretCredential:
    # retry_total=0: azure-core would otherwise back off on 429/5xx from the token endpoint.
    return ClientSecretCredential("contoso", CLIENT_ID, "s3cr3t-value", authority=entra.authority,
                                  disable_instance_discovery=True,
                                  connection_verify=entra.ca_path, retry_total=0)


def _credential(case: EntraCase, entra: EntraEmulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    if case.kind == "unavailable":
        for name in [n for n in os.environ if n.startswith("AZURE_")]:
            monkeypatch.delenv(name)
        return EnvironmentCredential()
    if case.kind == "required":
        return InteractiveBrowserCredential(client_id=CLIENT_ID, tenant_id="contoso",
                                            disable_automatic_authentication=True)
    entra.fail_with(case.error, case.number, case.description, case.suberror)
    return _secret_credential(entra)


@pytest.mark.parametrize("case", ENTRA_CASES,
                         ids=[f"{c.source}-{c.number or c.kind}" for c in ENTRA_CASES])
def test_entra_signal(emulator: GraphEmulator, entra: EntraEmulator, case: EntraCase,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    box = make_mailbox(emulator, access_token=None, user_id=emulator.address,
                       credential=_credential(case, entra, monkeypatch))
    with pytest.raises(case.expected) as info:
        box.list_messages("inbox")
    assert type(info.value) is case.expected
    assert info.value.remedy
    assert info.value.provider == "graph"
    assert "s3cr3t-value" not in str(info.value)
    if case.kind == "sts":
        assert info.value.code == f"AADSTS{case.number}"
        assert len(entra.token_requests) >= 1
    assert emulator.count() == 0  # no token, no request to Graph


def test_entra_consent_error_links_the_configured_app(emulator: GraphEmulator,
                                                      entra: EntraEmulator) -> None:
    entra.fail_with("invalid_grant", 90094, "Admin consent is required.")
    box = make_mailbox(emulator, access_token=None, credential=_secret_credential(entra),
                       tenant_id="contoso.onmicrosoft.com", client_id="app-42",
                       redirect_uri="https://crm.example/done")
    with pytest.raises(errors.AdminConsentRequired) as info:
        box.folders()
    assert info.value.consent_url == (
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/adminconsent?"
        "client_id=app-42&scope=https%3A%2F%2Fgraph.microsoft.com%2FMail.ReadWrite+"
        "https%3A%2F%2Fgraph.microsoft.com%2FMail.Send+offline_access+openid+email&"
        "redirect_uri=https%3A%2F%2Fcrm.example%2Fdone")


def test_client_credentials_flow_end_to_end(emulator: GraphEmulator,
                                            entra: EntraEmulator) -> None:
    box = make_mailbox(emulator, access_token=None, credential=_secret_credential(entra),
                       user_id=emulator.address)
    assert box.folder("inbox").name == "Inbox"
    box.folders(refresh=True)
    assert len(entra.token_requests) == 1  # azure-identity caches the token
    assert "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default" in entra.token_requests[0]
    assert all(r.headers["authorization"] == f"Bearer {emulator.token}"
               for r in emulator.requests if not r.in_batch)


class GoodCredential:
    def __init__(self, token: str) -> None:
        self.token = token
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(self.token, 4_000_000_000)


class AsyncGoodCredential(GoodCredential):
    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:  # type: ignore[override]
        return GoodCredential.get_token(self, *scopes, **kwargs)


@pytest.mark.parametrize("cls", [GoodCredential, AsyncGoodCredential])
def test_credential_tokens_reach_the_server(emulator: GraphEmulator, cls: type) -> None:
    credential = cls(emulator.token)
    box = make_mailbox(emulator, access_token=None, credential=credential)
    assert box.folder("inbox").name == "Inbox"
    assert credential.scopes[0] == ("https://graph.microsoft.com/.default",)
    assert all(r.headers["authorization"] == f"Bearer {emulator.token}"
               for r in emulator.requests if not r.in_batch)


def test_app_only_consent_link_uses_default_scope(emulator: GraphEmulator) -> None:
    emulator.token = make_token(None, roles=[])
    box = make_mailbox(emulator, user_id=emulator.address)
    emulator.fail(401, "NoPermissionsInAccessToken",
                  "The token contains no permissions, or permissions can not be understood.")
    with pytest.raises(errors.AdminConsentRequired) as info:
        box.folders()
    assert info.value.consent_url is not None
    assert "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default" in info.value.consent_url


def test_secrets_stay_out_of_reprs_and_errors(emulator: GraphEmulator) -> None:
    secret = make_token(scp="Mail.ReadWrite Mail.Send openid email offline_access",
                        oid="secret-marker")
    box = make_mailbox(emulator, access_token=secret)
    with pytest.raises(errors.ReauthorizationRequired) as info:
        box.folders()
    for text in (repr(box), repr(box.settings), str(info.value), repr(info.value)):
        assert secret not in text
