"""The shared event loop, fork safety, lazy imports and the pure helpers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from typing import Any

import dns.resolver
import pytest

from inboxlink import errors
from inboxlink.adapters.graph import (
    GraphMailbox,
    PrimaryAliasWarning,
    admin_consent_url,
    has_primary_alias_problem,
    lookup_mail_hosting,
    missing_scopes,
)
from inboxlink.adapters.graph._loop import LOOP
from inboxlink.testing.conformance import make_message

from .conftest import make_mailbox
from .emulator import GraphEmulator, make_token


def _loop_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "inboxlink-graph")


def test_one_loop_thread_for_all_mailboxes(emulator: GraphEmulator) -> None:
    boxes = [make_mailbox(emulator) for _ in range(3)]
    generation = None
    for box in boxes:
        box.folders()
        generation = generation or LOOP.generation
        assert LOOP.generation == generation  # never a new loop per call
    assert _loop_threads() == 1
    for box in boxes:
        box.close()
        box.close()  # twice is fine


def test_calls_from_inside_the_loop_are_refused(mailbox: GraphMailbox) -> None:
    async def inside() -> BaseException | None:
        try:
            mailbox.folders()
        except errors.InboxLinkError as exc:
            return exc
        return None

    error = asyncio.run_coroutine_threadsafe(inside(), LOOP.get()).result(10)
    assert isinstance(error, errors.ConfigurationError)
    assert error.code == "called-from-loop"
    assert "asyncio.to_thread" in error.remedy


def test_works_from_an_applications_own_event_loop(emulator: GraphEmulator,
                                                   mailbox: GraphMailbox) -> None:
    emulator.deliver(make_message(1))

    async def main() -> int:
        return len(mailbox.list_messages("inbox").items)

    assert asyncio.run(main()) == 1
    assert asyncio.run(main()) == 1  # a second, different caller loop is fine too


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_its_own_loop_and_client(emulator: GraphEmulator,
                                                     mailbox: GraphMailbox) -> None:
    emulator.deliver(make_message(1))
    assert len(mailbox.list_messages("inbox").items) == 1
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: the parent's loop thread does not exist here
        code = 1
        try:
            os.close(read)
            count = len(mailbox.list_messages("inbox").items)
            os.write(write, f"{count} {LOOP.in_loop()} {_loop_threads()}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    answer = os.read(read, 100).decode()
    os.close(read)
    assert os.waitstatus_to_exitcode(status) == 0
    assert answer == "1 False 1"
    assert len(mailbox.list_messages("inbox").items) == 1  # the parent still works


def test_primary_alias_is_warned_about(emulator: GraphEmulator) -> None:
    with pytest.warns(PrimaryAliasWarning, match="make it primary"):
        make_mailbox(emulator, address="outlook_1A2B3C4D5E6F7A8B@outlook.com")
    emulator.token = make_token(preferred_username="outlook_0123456789ABCDEF@outlook.com")
    box = make_mailbox(emulator)
    with pytest.warns(PrimaryAliasWarning):
        box.folders()
    assert has_primary_alias_problem("OUTLOOK_DEADBEEF01@outlook.com")
    assert not has_primary_alias_problem("outlook_team@contoso.com")
    assert not has_primary_alias_problem("alice@outlook.com")


class FakeResolver:
    """Stands in for dns.resolver.Resolver (injected, not patched)."""

    def __init__(self, records: dict[str, list[tuple[int, str]]]) -> None:
        self.records = records
        self.asked: list[tuple[str, str]] = []

    def resolve(self, name: str, rdtype: str) -> list[Any]:
        self.asked.append((name, rdtype))
        if name not in self.records:
            raise dns.resolver.NXDOMAIN()

        class Rdata:
            def __init__(self, preference: int, exchange: str) -> None:
                self.preference, self.exchange = preference, exchange

        return [Rdata(p, e) for p, e in self.records[name]]


def test_mx_lookup_tells_where_mail_is_hosted() -> None:
    resolver = FakeResolver({
        "contoso.com": [(10, "contoso-com.mail.protection.outlook.com.")],
        "fabrikam.com": [(20, "alt1.aspmx.l.google.com."), (10, "aspmx.l.google.com.")],
        "onprem.example": [(5, "mail.onprem.example.")],
    })
    hosted = lookup_mail_hosting("alice@contoso.com", resolver=resolver)
    assert hosted.in_microsoft_365
    assert resolver.asked == [("contoso.com", "MX")]
    google = lookup_mail_hosting("fabrikam.com", resolver=resolver)
    assert google.provider == "google"
    assert google.hosts == ("aspmx.l.google.com", "alt1.aspmx.l.google.com")
    onprem = lookup_mail_hosting("bob@onprem.example", resolver=resolver)
    assert onprem.provider is None
    assert "on-premises" in onprem.describe()
    missing = lookup_mail_hosting("nowhere.example", resolver=resolver)
    assert missing.hosts == ()
    assert "no MX" in missing.describe()


def test_admin_consent_url_helper() -> None:
    url = admin_consent_url("contoso.onmicrosoft.com", "abc-123",
                            redirect_uri="https://crm.example/callback")
    assert url == (
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/adminconsent?"
        "client_id=abc-123&scope=https%3A%2F%2Fgraph.microsoft.com%2FMail.ReadWrite+"
        "https%3A%2F%2Fgraph.microsoft.com%2FMail.Send+offline_access+openid+email&"
        "redirect_uri=https%3A%2F%2Fcrm.example%2Fcallback")
    assert "/organizations/" in admin_consent_url(None, "abc")


def test_consent_link_for_a_token_prefers_settings_then_claims() -> None:
    from inboxlink.adapters.graph._auth import consent_url_for

    claims = {"appid": "app-from-token", "tid": "tenant-from-token"}
    delegated = consent_url_for(claims, client_id=None, tenant_id=None, app_only=False)
    assert delegated is not None
    assert "/tenant-from-token/" in delegated
    assert "client_id=app-from-token" in delegated
    assert "Mail.Send" in delegated
    app_only = consent_url_for(claims, client_id="configured", tenant_id="contoso.com",
                               app_only=True)
    assert app_only is not None
    assert "/contoso.com/" in app_only
    assert "client_id=configured" in app_only
    assert "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default" in app_only
    assert consent_url_for({}, client_id=None, tenant_id="t", app_only=False) is None


def test_missing_scopes_helper() -> None:
    assert missing_scopes("mail.readwrite Mail.Send openid") == ("offline_access", "email")
    assert missing_scopes(["https://graph.microsoft.com/Mail.ReadWrite", "Mail.Send",
                           "offline_access", "openid", "email"]) == ()


def test_import_inboxlink_does_not_import_msgraph() -> None:
    code = ("import sys, inboxlink, inboxlink.adapters.graph, inboxlink.adapters.graph.errors;"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('msgraph', 'msgraph_core', 'kiota_abstractions', 'kiota_http', 'azure', 'httpx'));"
            "print(bad); sys.exit(1 if bad else 0)")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
