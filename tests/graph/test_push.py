"""Graph push helpers end to end: the emulator validates and notifies a plain WSGI receiver."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from inboxlink import FolderRole, errors
from inboxlink.adapters.graph import GraphMailbox
from inboxlink.adapters.graph import watch as push
from inboxlink.testing.conformance import make_message

from .emulator import GraphEmulator

SECRET = "s3cr3t-client-state"


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class Receiver:
    """The application's webhook: a WSGI app built only on the push helpers."""

    def __init__(self) -> None:
        self.events: queue.Queue[push.PushEvent] = queue.Queue()
        self.refused = 0
        self.folders: dict[str, str] = {}
        self.server: WSGIServer = make_server("127.0.0.1", 0, self.app, handler_class=_Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_port}/graph/notify"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def app(self, environ: dict[str, Any], start: Any) -> Iterable[bytes]:
        answer = push.validation_response(dict(parse_qsl(environ.get("QUERY_STRING", ""))))
        if answer is not None:
            status, headers, body = answer
            start(f"{status} OK" if status == 200 else f"{status} Bad Request",
                  list(headers.items()))
            return [body]
        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(size)
        try:
            for event in push.parse_notifications(body, SECRET, self.folders):
                self.events.put(event)
        except errors.PermissionDenied:
            self.refused += 1
            start("403 Forbidden", [("Content-Type", "text/plain")])
            return [b""]
        start("202 Accepted", [("Content-Type", "text/plain")])
        return [b""]

    def next(self) -> push.PushEvent:
        return self.events.get(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()
    found.server.server_close()


def test_subscribe_validate_notify_and_catch_up(emulator: GraphEmulator, mailbox: GraphMailbox,
                                                receiver: Receiver) -> None:
    token = mailbox.sync_token(FolderRole.INBOX)
    sub = push.create_subscription(mailbox, FolderRole.INBOX, receiver.url, SECRET)
    receiver.folders[sub.id] = sub.folder_id
    stored = emulator.subscriptions[sub.id]
    assert stored["resource"] == f"me/mailFolders('{mailbox.folder(FolderRole.INBOX).id}')/messages"
    assert stored["changeType"] == "created,updated,deleted"
    assert sub.expires_at is not None

    mid = emulator.deliver(make_message(1))
    event = receiver.next()
    assert (event.kind, event.message_id, event.lifecycle) == ("created", mid, False)
    assert event.hint.folder_id == mailbox.folder(FolderRole.INBOX).id
    batch = mailbox.changes(event.hint.folder_id, token)
    assert [s.id for s in batch.added] == [mid]

    renewed = push.renew_subscription(mailbox, sub, minutes=60)
    assert renewed.id == sub.id
    push.delete_subscription(mailbox, renewed)
    assert sub.id not in emulator.subscriptions


def test_unreachable_endpoint_fails_validation(emulator: GraphEmulator,
                                               mailbox: GraphMailbox) -> None:
    with pytest.raises(errors.InboxLinkError) as info:
        push.create_subscription(mailbox, FolderRole.INBOX, "http://127.0.0.1:9/none", SECRET)
    assert info.value.code == "ValidationError"
    assert emulator.subscriptions == {}


def test_expiry_beyond_the_message_maximum_is_refused_locally(emulator: GraphEmulator,
                                                              mailbox: GraphMailbox) -> None:
    with pytest.raises(errors.ConfigurationError):
        push.create_subscription(mailbox, FolderRole.INBOX, "http://x.invalid/", SECRET,
                                 minutes=push.MAX_MINUTES + 1)
    assert emulator.count("POST", r"/subscriptions$") == 0


def test_wrong_client_state_is_refused(emulator: GraphEmulator, mailbox: GraphMailbox,
                                       receiver: Receiver) -> None:
    sub = push.create_subscription(mailbox, FolderRole.INBOX, receiver.url, "another-secret")
    receiver.folders[sub.id] = sub.folder_id
    emulator.deliver(make_message(1))
    for _ in range(50):
        if receiver.refused:
            break
        threading.Event().wait(0.1)
    assert receiver.refused == 1
    assert receiver.events.empty()


@pytest.mark.parametrize(("event", "reason"), [("reauthorizationRequired", "reauthorize"),
                                               ("subscriptionRemoved", "resubscribe"),
                                               ("missed", "missed")])
def test_lifecycle_notifications_are_hints(emulator: GraphEmulator, mailbox: GraphMailbox,
                                           receiver: Receiver, event: str, reason: str) -> None:
    sub = push.create_subscription(mailbox, FolderRole.INBOX, receiver.url, SECRET,
                                   lifecycle_url=receiver.url)
    receiver.folders[sub.id] = sub.folder_id
    emulator.lifecycle(sub.id, event)
    got = receiver.next()
    assert (got.kind, got.lifecycle, got.hint.reason) == (event, True, reason)


@pytest.mark.parametrize("body", [b"", b"[]", b'{"value": 3}', b'{"value": ["x"]}'])
def test_garbage_bodies_are_typed(body: bytes) -> None:
    with pytest.raises(errors.InboxLinkError):
        push.parse_notifications(body, SECRET, {"s": "f"})


def test_validation_answer_echoes_the_token_only() -> None:
    assert push.validation_response({}) is None
    status, headers, body = push.validation_response({"validationToken": "Validation: ok 1"}) \
        or (0, {}, b"")
    assert (status, body) == (200, b"Validation: ok 1")
    assert headers["Content-Type"].startswith("text/plain")
    refused = push.validation_response({"validationToken": "<script>"})
    assert refused is not None
    assert refused[0] == 400


def test_notification_from_another_subscription_is_refused() -> None:
    body = json.dumps({"value": [{"subscriptionId": "other", "clientState": SECRET,
                                  "changeType": "created"}]}).encode()
    with pytest.raises(errors.PermissionDenied):
        push.parse_notifications(body, SECRET, {"mine": "folder"})
