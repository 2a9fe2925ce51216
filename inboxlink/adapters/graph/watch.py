"""Graph change notifications for web applications that have a public HTTPS endpoint.

``watch()`` polls and works anywhere; an application that can receive webhooks uses these
instead. Framework-free: give them what your framework gives you (query parameters, the
body bytes) and send back what they return.

1. `create_subscription` asks Graph to POST to ``notification_url`` when messages of a
   folder are created, updated or deleted. Graph first checks the URL: it POSTs
   ``?validationToken=…`` and expects the token back as ``text/plain`` within 10 seconds —
   `validation_response` builds that answer.
2. Each notification POST is parsed by `parse_notifications`: every entry's
   ``clientState`` must equal the secret given at creation (compared in constant time;
   a mismatch raises ``PermissionDenied`` — answer such a request 403 and ignore it), and
   each becomes a `PushEvent` with a `ChangeHint`. Answer ``202``
   at once and run ``changes()`` outside the request (Graph waits at most 3 seconds).
3. Lifecycle notifications (sent to ``lifecycle_url``): ``reauthorizationRequired`` —
   call `renew_subscription`; ``subscriptionRemoved`` — create a new subscription;
   ``missed`` — notifications were lost. Each is also a hint, so running ``changes()``
   catches up in every case.
4. Message subscriptions live at most 10,070 minutes (just under 7 days):
   `renew_subscription` before ``Subscription.expires_at``; `delete_subscription`
   when done.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import attrs
from kiota_abstractions.method import Method

from inboxlink import errors
from inboxlink.adapters.graph import convert
from inboxlink.adapters.graph.errors import PROVIDER, UnexpectedAnswer
from inboxlink.changes import ChangeHint
from inboxlink.models import FolderRef

if TYPE_CHECKING:
    from inboxlink.adapters.graph.connection import GraphSession
    from inboxlink.adapters.graph.mailbox import GraphMailbox

__all__ = [
    "MAX_MINUTES",
    "PushEvent",
    "Subscription",
    "create_subscription",
    "delete_subscription",
    "parse_notifications",
    "renew_subscription",
    "validation_response",
]

#: Graph's longest lifetime of a subscription to Outlook messages (just under 7 days)
MAX_MINUTES = 10_070
#: lifecycle events → the ChangeHint reason they become
LIFECYCLE = {"reauthorizationRequired": "reauthorize", "subscriptionRemoved": "resubscribe",
             "missed": "missed"}
_MAX_BODY = 1_000_000


@attrs.frozen
class Subscription:
    """A Graph subscription as Graph answered it."""

    id: str
    folder_id: str
    resource: str
    expires_at: dt.datetime | None
    change_type: str


@attrs.frozen
class PushEvent:
    """One entry of a notification request."""

    subscription_id: str
    #: ``"created"``/``"updated"``/``"deleted"`` or a lifecycle event name
    kind: str
    #: call ``changes()`` for ``hint.folder_id`` (every event is a reason to)
    hint: ChangeHint
    #: the message id for a change notification, when Graph gave it
    message_id: str | None = None

    @property
    def lifecycle(self) -> bool:
        """Whether this is a lifecycle event (renew or re-create the subscription)."""
        return self.kind in LIFECYCLE


def _expiry(minutes: int | None) -> str:
    minutes = MAX_MINUTES if minutes is None else minutes
    if not 1 <= minutes <= MAX_MINUTES:
        raise errors.ConfigurationError(
            f"A message subscription lasts 1 to {MAX_MINUTES} minutes, not {minutes}.",
            provider=PROVIDER, remedy=f"Pass minutes between 1 and {MAX_MINUTES}.")
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=minutes)
    return when.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _subscription(data: Any, folder_id: str) -> Subscription:
    if not isinstance(data, dict) or not data.get("id"):
        # Raised on the loop, inside the mailbox's error boundary (see _subscribe).
        raise UnexpectedAnswer("no-subscription", "Graph answered without a subscription")
    return Subscription(id=str(data["id"]), folder_id=folder_id,
                        resource=str(data.get("resource") or ""),
                        expires_at=convert.parse_datetime(data.get("expirationDateTime")),
                        change_type=str(data.get("changeType") or ""))


def _resource(mailbox: GraphMailbox, folder_id: str) -> str:
    user = "me" if mailbox.settings.user_id is None else f"users/{mailbox.settings.user_id}"
    return f"{user}/mailFolders('{folder_id}')/messages"


async def _send(session: GraphSession, method: Method, path: str,
                body: dict[str, Any] | None) -> Any:
    info = session.request(method, path)
    if body is not None:
        info.set_stream_content(json.dumps(body).encode(), "application/json")
    if method == Method.DELETE:
        await session.send_no_content(info)
        return None
    return await session.send_json(info)


async def _subscribe(session: GraphSession, method: Method, path: str,
                     body: dict[str, Any], folder_id: str) -> Subscription:
    return _subscription(await _send(session, method, path, body), folder_id)


def create_subscription(mailbox: GraphMailbox, folder: FolderRef, notification_url: str,
                        client_state: str, *, lifecycle_url: str | None = None,
                        minutes: int | None = None,
                        change_type: str = "created,updated,deleted") -> Subscription:
    """Subscribe ``notification_url`` to changes of ``folder``'s messages.

    ``client_state`` is a secret (up to 128 characters) Graph echoes in every notification;
    keep it with the subscription id. Graph validates ``notification_url`` before answering.
    """
    if not 1 <= len(client_state) <= 128:
        raise errors.ConfigurationError("client_state must be 1 to 128 characters.",
                                        provider=PROVIDER,
                                        remedy="Use a random secret such as secrets.token_urlsafe(32).")
    target = mailbox.folder(folder)
    body = {"changeType": change_type, "notificationUrl": notification_url,
            "resource": _resource(mailbox, target.id), "expirationDateTime": _expiry(minutes),
            "clientState": client_state}
    if lifecycle_url:
        body["lifecycleNotificationUrl"] = lifecycle_url
    return mailbox._run(_subscribe, Method.POST, "/subscriptions", body, target.id)


def renew_subscription(mailbox: GraphMailbox, subscription: Subscription, *,
                       minutes: int | None = None) -> Subscription:
    """Extend a subscription (``reauthorizationRequired``, or before ``expires_at``)."""
    return mailbox._run(_subscribe, Method.PATCH,
                        f"/subscriptions/{quote(subscription.id, safe='')}",
                        {"expirationDateTime": _expiry(minutes)}, subscription.folder_id)


def delete_subscription(mailbox: GraphMailbox, subscription: Subscription | str) -> None:
    """Stop notifications for a subscription."""
    sid = subscription.id if isinstance(subscription, Subscription) else subscription
    mailbox._run(_send, Method.DELETE, f"/subscriptions/{quote(sid, safe='')}", None)


def validation_response(query: Mapping[str, str]) -> tuple[int, dict[str, str], bytes] | None:
    """The answer to Graph's validation request, or ``None`` when ``query`` is not one.

    ``query`` holds the request's decoded query parameters. Returns ``(status, headers,
    body)``: 200, ``text/plain``, the token exactly as received.
    """
    token = query.get("validationToken")
    if token is None:
        return None
    # Echo only what a token can be: refusing markup keeps this from being a reflection point.
    if len(token) > 1024 or any(ch in token for ch in "<>\r\n"):
        return 400, {"Content-Type": "text/plain"}, b"invalid validationToken"
    return 200, {"Content-Type": "text/plain; charset=utf-8"}, token.encode("utf-8")


def parse_notifications(body: bytes, client_state: str | Mapping[str, str],
                        folders: Mapping[str, str]) -> list[PushEvent]:
    """The events of one notification request (change or lifecycle notifications).

    ``client_state`` is the secret (or subscription id → secret); ``folders`` maps each
    subscription id to the folder id it watches. An entry with a wrong ``clientState`` or an
    unknown subscription raises ``PermissionDenied`` (answer 403; nothing is trusted).
    """
    if len(body) > _MAX_BODY:
        raise errors.ConfigurationError("The notification body is too large.",
                                        provider=PROVIDER, code="push-body")
    try:
        data = json.loads(body)
        entries = data["value"]
        if not isinstance(entries, list):
            raise TypeError
    except (ValueError, TypeError, KeyError):
        raise errors.ConfigurationError("The request is not a Graph notification.",
                                        provider=PROVIDER, code="push-body",
                                        remedy="Pass the raw body of Graph's POST.") from None
    events = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise errors.ConfigurationError("A notification entry is not an object.",
                                            provider=PROVIDER, code="push-body")
        sid = str(entry.get("subscriptionId") or "")
        expected = client_state.get(sid) if isinstance(client_state, Mapping) else client_state
        given = entry.get("clientState")
        if (expected is None or sid not in folders or not isinstance(given, str)
                or not hmac.compare_digest(given.encode(), expected.encode())):
            raise errors.PermissionDenied(
                "A notification did not carry this subscription's clientState.",
                provider=PROVIDER, code="client-state",
                remedy="Answer it 403 and ignore it: it was not sent for your subscription.")
        kind = str(entry.get("lifecycleEvent") or entry.get("changeType") or "changed")
        data_part = entry.get("resourceData")
        message_id = (str(data_part["id"]) if isinstance(data_part, dict) and data_part.get("id")
                      else None)
        reason = LIFECYCLE.get(kind, "notification")
        events.append(PushEvent(subscription_id=sid, kind=kind, message_id=message_id,
                                hint=ChangeHint(folder_id=folders[sid], reason=reason)))
    return events
