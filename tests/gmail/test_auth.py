"""Credentials: user OAuth refresh, service accounts with domain-wide delegation, bare tokens."""

from __future__ import annotations

import base64
import json

import pytest

from inboxlink import errors
from inboxlink.adapters.gmail import GmailMailbox, GmailSettings
from inboxlink.testing.conformance import make_message

from .credentials import service_account_credentials, user_credentials
from .emulator import GmailEmulator
from .support import make_mailbox


def test_user_credentials_are_refreshed_at_the_emulator(emulator: GmailEmulator) -> None:
    creds = user_credentials(emulator)
    mailbox = make_mailbox(emulator, access_token=None, credentials=creds)
    assert mailbox.folder("INBOX")
    (form,) = emulator.token_requests
    assert form["grant_type"] == ["refresh_token"]
    assert form["refresh_token"] == ["refresh-token-secret"]
    assert creds.token in emulator.tokens


def test_a_401_refreshes_once_and_retries(emulator: GmailEmulator) -> None:
    creds = user_credentials(emulator, expired=False)  # "stale-token" looks valid locally
    emulator.deliver(make_message(1))
    mailbox = make_mailbox(emulator, access_token=None, credentials=creds)
    assert len(mailbox.list_messages("INBOX").items) == 1
    assert len(emulator.token_requests) == 1


def test_batch_401_refreshes_too(emulator: GmailEmulator) -> None:
    ids = [emulator.deliver(make_message(n)) for n in range(3)]
    creds = user_credentials(emulator, expired=False)
    mailbox = make_mailbox(emulator, access_token=None, credentials=creds)
    assert [m.id for m in mailbox.fetch_many(ids)] == ids


def test_service_account_acts_as_the_mailbox_user(emulator: GmailEmulator) -> None:
    creds = service_account_credentials(emulator)
    mailbox = make_mailbox(emulator, access_token=None, credentials=creds)
    mailbox.folders()
    (form,) = emulator.token_requests
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    payload = form["assertion"][0].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == emulator.address
    assert claims["iss"] == "crm@acme.iam.gserviceaccount.com"


def test_explicit_subject(emulator: GmailEmulator) -> None:
    creds = service_account_credentials(emulator)
    make_mailbox(emulator, access_token=None, credentials=creds,
                 subject="boss@gmail.com").folders()
    payload = emulator.token_requests[0]["assertion"][0].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == "boss@gmail.com"


@pytest.mark.parametrize("options", [
    {},
    {"access_token": "x", "credentials": object()},
])
def test_credentials_are_required_exactly_once(emulator: GmailEmulator,
                                               options: dict[str, object]) -> None:
    with pytest.raises(errors.ConfigurationError):
        GmailMailbox(GmailSettings(address="a@gmail.com", api_endpoint=emulator.url,
                                   **options))  # type: ignore[arg-type]


def test_subject_needs_a_service_account(emulator: GmailEmulator) -> None:
    with pytest.raises(errors.ConfigurationError):
        make_mailbox(emulator, access_token=None, credentials=user_credentials(emulator),
                     subject="x@gmail.com")


def test_unreachable_endpoint_is_typed() -> None:
    mailbox = GmailMailbox(GmailSettings(address="a@gmail.com", access_token="t",
                                         api_endpoint="http://127.0.0.1:9/", timeout=2))
    with pytest.raises(errors.ServerUnreachable):
        mailbox.folders()


@pytest.mark.parametrize("url", ["gmail://", "gmail:///nobody"])
def test_url_without_an_address_is_refused(url: str) -> None:
    with pytest.raises(errors.ConfigurationError):
        GmailMailbox.from_url(url, access_token="t")


def test_unknown_option_is_a_configuration_error() -> None:
    with pytest.raises(errors.ConfigurationError):
        GmailMailbox.from_url("gmail://a@gmail.com", access_token="t", colour="blue")


def test_close_twice(emulator: GmailEmulator) -> None:
    mailbox = make_mailbox(emulator)
    mailbox.folders()
    mailbox.close()
    mailbox.close()
    # A closed mailbox is never reopened behind the application's back.
    with pytest.raises(errors.MailboxClosed):
        mailbox.folders(refresh=True)
