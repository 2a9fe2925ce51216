"""Gmail push helpers: users.watch/stop through the client, Pub/Sub push bodies, OIDC tokens."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from inboxlink import errors
from inboxlink.adapters.gmail import watch as push
from inboxlink.testing.conformance import make_message

from .emulator import GmailEmulator
from .pubsub import TokenSigner
from .support import make_mailbox

TOPIC = "projects/acme/topics/gmail"
SUBSCRIPTION = "projects/acme/subscriptions/gmail-push"
AUDIENCE = "https://app.example.com/gmail-push"


def test_watch_and_stop(emulator: GmailEmulator) -> None:
    emulator.deliver(make_message(1))
    mailbox = make_mailbox(emulator)
    before = dt.datetime.now(dt.timezone.utc)
    state = push.start_watch(mailbox, TOPIC)
    assert emulator.watching == {"topicName": TOPIC, "labelIds": ["INBOX"],
                                 "labelFilterBehavior": "include"}
    assert state.history_id == emulator.history[-1].id
    assert dt.timedelta(days=6, hours=23) < state.expiration - before <= dt.timedelta(days=7,
                                                                                     minutes=1)
    assert state.label_ids == ("INBOX",)
    push.stop_watch(mailbox)
    assert emulator.watching is None
    assert mailbox.units_spent == 150


def test_ensure_watch_renews_a_day_into_the_week(emulator: GmailEmulator) -> None:
    mailbox = make_mailbox(emulator)
    first = push.ensure_watch(mailbox, TOPIC)
    emulator.reset_counts()
    assert push.ensure_watch(mailbox, TOPIC, first) is first
    assert emulator.requests == []
    a_day_later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1, minutes=1)
    renewed = push.ensure_watch(mailbox, TOPIC, first, now=a_day_later)
    assert renewed is not first
    assert emulator.requests == [("POST", "/gmail/v1/users/me/watch")]
    emulator.reset_counts()
    other_labels = push.ensure_watch(mailbox, TOPIC, renewed, label_ids=("INBOX", "SENT"))
    assert other_labels.label_ids == ("INBOX", "SENT")
    assert len(emulator.requests) == 1


def test_topic_gmail_cannot_publish_to(emulator: GmailEmulator) -> None:
    emulator.unpublishable_topics.add(TOPIC)
    with pytest.raises(errors.PermissionDenied) as info:
        push.start_watch(make_mailbox(emulator), TOPIC)
    assert "gmail-api-push@system.gserviceaccount.com" in info.value.remedy


def test_badly_named_topic(emulator: GmailEmulator) -> None:
    with pytest.raises(errors.ConfigurationError) as info:
        push.start_watch(make_mailbox(emulator), "gmail-topic")
    assert "projects/<project-id>/topics/<topic>" in info.value.remedy


def test_push_body_becomes_a_hint_and_leads_to_changes(emulator: GmailEmulator) -> None:
    mailbox = make_mailbox(emulator)
    token = mailbox.sync_token("INBOX")
    new = emulator.deliver(make_message(1))
    note = push.parse_push(emulator.push_body(SUBSCRIPTION), expected_address=mailbox.address,
                           expected_subscription=SUBSCRIPTION)
    assert note.email_address == mailbox.address
    assert note.history_id == emulator.history[-1].id
    assert note.message_id == "2070443601311540"
    assert note.publish_time == dt.datetime(2026, 11, 29, 19, 13, 55, 749000,
                                            tzinfo=dt.timezone.utc)
    hint = push.hint_from_push(note)
    assert (hint.folder_id, hint.reason, hint.at) == ("INBOX", "notification",
                                                      note.publish_time)
    assert [s.id for s in mailbox.changes(hint.folder_id, token).added] == [new]


def _body(data: object, **extra: object) -> bytes:
    raw = data if isinstance(data, str) else base64.b64encode(json.dumps(data).encode()).decode()
    return json.dumps({"message": {"data": raw, "messageId": "1"}, **extra}).encode()


@pytest.mark.parametrize(("body", "code"), [
    (b"not json", "not-json"),
    (b'{"message": {}}', "no-data"),
    (b'["x"]', "no-data"),
    (_body("%%%not-base64"), "bad-data"),
    (_body({"emailAddress": "alice@gmail.com"}), "bad-data"),
    (_body({"emailAddress": "alice@gmail.com", "historyId": "12a"}), "bad-data"),
    (_body({"emailAddress": "mallory@gmail.com", "historyId": "12"}), "other-mailbox"),
    (_body({"emailAddress": "alice@gmail.com", "historyId": "12"},
           subscription="projects/evil/subscriptions/x"), "other-subscription"),
])
def test_invalid_push_bodies(body: bytes, code: str) -> None:
    with pytest.raises(push.InvalidPushNotification) as info:
        push.parse_push(body, expected_address="Alice@Gmail.com",
                        expected_subscription=SUBSCRIPTION)
    assert info.value.code == code
    assert isinstance(info.value, errors.InboxLinkError)


def test_numeric_history_id_and_urlsafe_data_are_accepted() -> None:
    data = base64.urlsafe_b64encode(
        json.dumps({"emailAddress": "alice@gmail.com", "historyId": 99}).encode()
    ).decode().rstrip("=")
    note = push.parse_push({"message": {"data": data}})
    assert note.history_id == 99
    assert note.subscription is None


@pytest.fixture
def signer(emulator: GmailEmulator) -> TokenSigner:
    signer = TokenSigner()
    signer.publish(emulator)
    return signer


def test_push_token_verifies_against_the_published_keys(emulator: GmailEmulator,
                                                        signer: TokenSigner) -> None:
    header = "Bearer " + signer.token(AUDIENCE)
    claims = push.verify_push_token(header, audience=AUDIENCE, certs_url=emulator.certs_url,
                                    service_account="push@acme.iam.gserviceaccount.com")
    assert claims["aud"] == AUDIENCE


@pytest.mark.parametrize("case", ["no-header", "basic", "audience", "expired", "issuer",
                                  "account", "unverified", "foreign-key", "tampered"])
def test_push_token_refusals(emulator: GmailEmulator, signer: TokenSigner, case: str) -> None:
    tokens = {
        "no-header": None,
        "basic": "Basic dXNlcjpwYXNz",
        "audience": "Bearer " + signer.token("https://elsewhere.example.com/"),
        "expired": "Bearer " + signer.token(AUDIENCE, iat=1_000_000, exp=1_000_600),
        "issuer": "Bearer " + signer.token(AUDIENCE, iss="https://evil.example.com"),
        "account": "Bearer " + signer.token(AUDIENCE, email="other@acme.iam.gserviceaccount.com"),
        "unverified": "Bearer " + signer.token(AUDIENCE, email_verified=False),
        "foreign-key": "Bearer " + TokenSigner().token(AUDIENCE),
        "tampered": "Bearer " + signer.token(AUDIENCE)[:-6] + "AAAAAA",
    }
    with pytest.raises(push.InvalidPushNotification):
        push.verify_push_token(tokens[case], audience=AUDIENCE, certs_url=emulator.certs_url,
                               service_account="push@acme.iam.gserviceaccount.com")
