"""The fake as a drop-in: real adapters' options, their refusal of unknown ones, routing of
``connect("fake://…")`` to the test's server, and the seeded demo mailbox."""

from __future__ import annotations

import io
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import inboxlink
from inboxlink import FolderRole, OutgoingMessage, errors
from inboxlink.testing import (
    IGNORED_OPTIONS,
    FakeMailbox,
    FakeMailServer,
    connect_fake,
    current_server,
    use_server,
)
from inboxlink.testing.seeds import demo_seed

#: what an application passes to a real adapter, one value per common option
_REAL_OPTIONS: dict[str, Any] = {
    "password": "s3cret", "access_token": "ya29.token", "username": "CORP\\alice",
    "smtp": "smtp://smtp.example.com:587", "ssl_context": ssl.create_default_context(),
    "verify_tls": False, "credential": object(), "credentials": object(), "timeout": 5.0,
}


def test_every_common_option_is_covered_here() -> None:
    assert set(_REAL_OPTIONS) == IGNORED_OPTIONS


@pytest.mark.parametrize("option", sorted(_REAL_OPTIONS))
def test_real_adapters_options_are_accepted(option: str) -> None:
    mailbox = inboxlink.connect("fake://alice@example.com", **{option: _REAL_OPTIONS[option]})
    assert isinstance(mailbox, FakeMailbox)
    assert mailbox.folder(FolderRole.SENT).path == "Sent"


def test_all_of_them_at_once_and_no_secret_in_the_repr() -> None:
    mailbox = inboxlink.connect("fake://alice@example.com", **_REAL_OPTIONS)
    assert "s3cret" not in repr(mailbox)
    assert "ya29" not in repr(mailbox)


def test_unknown_option_is_a_configuration_error_naming_it() -> None:
    with pytest.raises(errors.ConfigurationError) as info:
        inboxlink.connect("fake://alice@example.com", pasword="s3cret", sent_folder="Sent")
    assert "pasword" in info.value.message
    assert "s3cret" not in str(info.value)
    assert "sent_folder" not in info.value.message  # a known option is not blamed
    assert not isinstance(info.value.__cause__, TypeError)


def test_unknown_url_parameter_is_refused() -> None:
    with pytest.raises(errors.ConfigurationError, match=r"\?sede="):
        inboxlink.connect("fake://alice@example.com?sede=demo")


def test_unknown_seed_names_the_known_ones() -> None:
    with pytest.raises(errors.ConfigurationError) as info:
        inboxlink.connect("fake://alice@example.com?seed=nope")
    assert "demo" in info.value.remedy


def test_outside_a_fixture_each_url_gets_a_private_server() -> None:
    assert current_server() is None
    first = connect_fake("fake://alice@example.com")
    second = connect_fake("fake://alice@example.com")
    assert first.server is not second.server


def test_connect_inside_a_test_reaches_the_tests_server(
    fake_mail_server: FakeMailServer, fake_mailbox: FakeMailbox,
) -> None:
    # The application opens its own mailbox by URL, as it would in production.
    app_mailbox = inboxlink.connect("fake://bob@example.com", password="from-settings")
    assert isinstance(app_mailbox, FakeMailbox)
    assert app_mailbox.server is fake_mail_server
    result = fake_mailbox.send(OutgoingMessage(to=["bob@example.com"], subject="Hi", text="x"))
    (incoming,) = app_mailbox.list_messages().items
    assert incoming.message_id == result.message_id


def test_threads_of_the_code_under_test_reach_it_too(fake_mail_server: FakeMailServer) -> None:
    def open_in_worker() -> FakeMailServer:
        return connect_fake("fake://alice@example.com").server

    with ThreadPoolExecutor(2) as pool:
        assert pool.submit(open_in_worker).result() is fake_mail_server
    seen: list[FakeMailServer] = []
    worker = threading.Thread(target=lambda: seen.append(open_in_worker()))
    worker.start()
    worker.join()
    assert seen == [fake_mail_server]


def test_an_explicit_server_still_wins(fake_mail_server: FakeMailServer) -> None:
    own = FakeMailServer()
    assert connect_fake("fake://alice@example.com", server=own).server is own


def test_use_server_nests_and_restores() -> None:
    outer, inner = FakeMailServer(), FakeMailServer()
    with use_server(outer):
        with use_server(inner):
            assert connect_fake().server is inner
        assert connect_fake().server is outer
    assert current_server() is None


def test_demo_seed_fills_a_new_account_once() -> None:
    with use_server(FakeMailServer()) as server:
        mailbox = connect_fake("fake://demo@example.com?seed=demo")
        inbox = mailbox.list_messages(FolderRole.INBOX).items
        assert [s.subject for s in inbox] == [
            "Renewals this month", "Re: Quote for 40 licences", "Quote for 40 licences",
            "Invoice 2026-117", "Your weekly digest"]
        assert sum(1 for s in inbox if not s.seen) == 2
        assert [s.subject for s in inbox if "\\Flagged" in s.flags] == ["Renewals this month"]
        (answer,) = mailbox.list_messages(FolderRole.SENT).items
        assert answer.from_ is not None
        assert answer.from_.email == "demo@example.com"
        # The thread is whole: the customer's follow-up answers our reply, which answers the
        # quote request.
        thread = mailbox.thread(inbox[1])
        assert [s.message_id for s in thread] == [
            "<quote-1@customer.test>", "<answer-1@example.com>", "<quote-2@customer.test>"]
        (invoice,) = [s for s in inbox if s.subject == "Invoice 2026-117"]
        assert [a.filename for a in mailbox.list_attachments(invoice.id)] == [
            "invoice-2026-117.pdf"]
        # Opening the URL again (same server) does not duplicate the mail.
        again = connect_fake("fake://demo@example.com?seed=demo")
        assert len(again.list_messages().items) == 5
        assert len(server.messages("demo@example.com")) == 5


def test_demo_seed_uses_the_accounts_address() -> None:
    raw = b"".join(item.raw for item in demo_seed("zoe@example.org"))
    assert b"zoe@example.org" in raw
    assert b"demo@example.com" not in raw


def test_inboxlink_ls_shows_the_demo_mail(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    from inboxlink.cli import main

    monkeypatch.delenv("INBOXLINK_PASSWORD", raising=False)
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, color_system=None, force_terminal=False)
    assert main(["ls", "fake://demo@example.com?seed=demo"], console=console) == 0
    text = buffer.getvalue()
    assert "INBOX (5)" in text
    assert "Quote for 40 licences" in text
    assert "Bob Buyer" in text
