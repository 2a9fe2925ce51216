"""Gmail push notifications: ``users.watch``/``users.stop`` and Pub/Sub push requests.

For web applications with a public HTTPS endpoint. Gmail publishes to a Cloud Pub/Sub
topic (grant ``gmail-api-push@system.gserviceaccount.com`` the *Pub/Sub Publisher* role on
it); a push subscription then POSTs each notification to your endpoint. A notification only
says "the mailbox changed up to ``historyId``": call ``changes()`` with your stored token to
learn what changed. Everything here is framework-free: dicts and bytes in, typed values out.

::

    state = push.ensure_watch(mailbox, "projects/acme/topics/gmail")  # daily, e.g. from cron
    ...
    def handler(environ, start_response):                              # plain WSGI
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        claims = push.verify_push_token(environ.get("HTTP_AUTHORIZATION"),
                                        audience="https://app.example.com/gmail-push")
        note = push.parse_push(body, expected_address=mailbox.address,
                               expected_subscription="projects/acme/subscriptions/gmail-push")
        enqueue(push.hint_from_push(note))          # a worker then calls mailbox.changes()
        start_response("204 No Content", [])
        return [b""]

Answer quickly with a 2xx (Pub/Sub retries anything else) and do the ``changes()`` work
elsewhere. Without push, ``mailbox.watch()`` polls ``changes()`` with adaptive back-off
(`inboxlink.adapters.gmail.sync`): one cheap ``history.list`` per poll.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from inboxlink import errors
from inboxlink.changes import ChangeHint

if TYPE_CHECKING:
    from inboxlink.adapters.gmail.mailbox import GmailMailbox

__all__ = [
    "GmailPush",
    "GmailWatch",
    "InvalidPushNotification",
    "ensure_watch",
    "hint_from_push",
    "parse_push",
    "start_watch",
    "stop_watch",
    "verify_push_token",
]

#: Google's public keys for the OIDC tokens Pub/Sub push requests carry
GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
#: Gmail ends a watch after 7 days; Google advises calling watch once a day
RENEW_WHEN_LEFT = dt.timedelta(days=6)
_ISSUERS = ("accounts.google.com", "https://accounts.google.com")


class InvalidPushNotification(errors.InboxLinkError, ValueError):
    """A push request that is not a Gmail notification for this mailbox (malformed, forged,
    or for another address or subscription). Answer it with 400/403 and do not sync."""

    default_message = "The request is not a valid Gmail push notification."
    default_remedy = (
        "Check that the Pub/Sub push subscription points at this endpoint and that the "
        "request was not altered; a request for another mailbox should not be sent here."
    )


@attrs.frozen
class GmailWatch:
    """An active ``users.watch``: the history id it started at and when Gmail ends it."""

    history_id: int
    expiration: dt.datetime
    topic: str
    label_ids: tuple[str, ...] = ()

    def renew_due(self, now: dt.datetime | None = None,
                  left: dt.timedelta = RENEW_WHEN_LEFT) -> bool:
        """Whether less than ``left`` remains before Gmail ends the watch."""
        now = now or dt.datetime.now(dt.timezone.utc)
        return self.expiration - now < left


@attrs.frozen
class GmailPush:
    """One decoded Pub/Sub push notification from Gmail."""

    email_address: str
    history_id: int
    message_id: str
    publish_time: dt.datetime | None
    subscription: str | None


def start_watch(mailbox: GmailMailbox, topic: str, *, label_ids: Sequence[str] = ("INBOX",),
                include: bool = True) -> GmailWatch:
    """Ask Gmail to publish the mailbox's changes to ``topic`` (``users.watch``, 100 units).

    ``label_ids`` with ``include=True`` limits notifications to changes of those labels;
    ``include=False`` excludes them. Calling it again replaces the watch (and renews it).
    """
    body: dict[str, Any] = {"topicName": topic}
    if label_ids:
        body["labelIds"] = list(label_ids)
        body["labelFilterBehavior"] = "include" if include else "exclude"
    with mailbox._boundary("watch"):
        request = mailbox._service.users().watch(userId=mailbox.settings.user_id, body=body)
        answer = mailbox._execute(request, "watch")
    expiration = dt.datetime.fromtimestamp(int(answer["expiration"]) / 1000, dt.timezone.utc)
    return GmailWatch(history_id=int(answer["historyId"]), expiration=expiration, topic=topic,
                      label_ids=tuple(label_ids))


def stop_watch(mailbox: GmailMailbox) -> None:
    """Stop every push notification for the mailbox (``users.stop``)."""
    with mailbox._boundary("watch"):
        request = mailbox._service.users().stop(userId=mailbox.settings.user_id)
        mailbox._execute(request, "stop")


def ensure_watch(mailbox: GmailMailbox, topic: str, current: GmailWatch | None = None, *,
                 label_ids: Sequence[str] = ("INBOX",), now: dt.datetime | None = None,
                 left: dt.timedelta = RENEW_WHEN_LEFT) -> GmailWatch:
    """``current`` while it has more than ``left`` to run on the same topic and labels;
    otherwise a renewed watch. Call it daily (a watch Gmail ended sends nothing)."""
    if (current is not None and current.topic == topic
            and current.label_ids == tuple(label_ids) and not current.renew_due(now, left)):
        return current
    return start_watch(mailbox, topic, label_ids=label_ids)


def _invalid(reason: str, code: str) -> InvalidPushNotification:
    return InvalidPushNotification(f"Not a valid Gmail push notification: {reason}.",
                                   provider="gmail", code=code)


def _publish_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def parse_push(body: bytes | str | Mapping[str, Any], *, expected_address: str | None = None,
               expected_subscription: str | None = None) -> GmailPush:
    """Decode a Pub/Sub push request body (``{"message": {"data": base64(JSON)…},
    "subscription": …}``) into a `GmailPush`, checking what it can: the shape, the
    ``emailAddress`` (against ``expected_address``, case-insensitively) and the
    subscription. Anything else raises `InvalidPushNotification`.

    The body proves nothing about who sent it: check the request's OIDC token with
    `verify_push_token` too (or keep the endpoint URL secret).
    """
    try:
        envelope = body if isinstance(body, Mapping) else json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _invalid("the body is not JSON", "not-json") from exc
    message = envelope.get("message") if isinstance(envelope, Mapping) else None
    if not isinstance(message, Mapping) or not isinstance(message.get("data"), str):
        raise _invalid("no message.data", "no-data")
    data: str = message["data"]
    try:
        padded = data + "=" * (-len(data) % 4)
        # Pub/Sub sends standard base64; accept the URL-safe alphabet as well.
        decoded = json.loads(base64.b64decode(padded.replace("-", "+").replace("_", "/"),
                                              validate=True))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _invalid("message.data is not base64 JSON", "bad-data") from exc
    address = decoded.get("emailAddress") if isinstance(decoded, Mapping) else None
    history = decoded.get("historyId") if isinstance(decoded, Mapping) else None
    if isinstance(history, int) and not isinstance(history, bool):
        history = str(history)
    if not isinstance(address, str) or not isinstance(history, str) or not history.isdigit():
        raise _invalid("message.data lacks emailAddress/historyId", "bad-data")
    if expected_address is not None and address.casefold() != expected_address.casefold():
        raise _invalid("it is for another mailbox", "other-mailbox")
    subscription = envelope.get("subscription")
    if expected_subscription is not None and subscription != expected_subscription:
        raise _invalid("it came through another subscription", "other-subscription")
    return GmailPush(
        email_address=address, history_id=int(history),
        message_id=str(message.get("messageId") or message.get("message_id") or ""),
        publish_time=_publish_time(message.get("publishTime") or message.get("publish_time")),
        subscription=subscription if isinstance(subscription, str) else None,
    )


def hint_from_push(push: GmailPush, folder_id: str = "INBOX") -> ChangeHint:
    """The `ChangeHint` a notification means: ``changes(folder_id, token)`` next."""
    at = push.publish_time or dt.datetime.now(dt.timezone.utc)
    return ChangeHint(folder_id=folder_id, reason="notification", at=at)


def verify_push_token(authorization: str | None, *, audience: str,
                      service_account: str | None = None,
                      certs_url: str = GOOGLE_CERTS_URL, request: Any = None) -> Mapping[str, Any]:
    """Check the OIDC token Pub/Sub puts in a push request's ``Authorization`` header.

    Verifies Google's signature (keys from ``certs_url``), expiry, issuer and ``audience``
    (the value set on the push subscription), and — when given — that it was minted for
    ``service_account`` with a verified email. Returns the token's claims.
    """
    from google.auth import exceptions as auth_exceptions
    from google.auth.transport import requests as auth_requests
    from google.oauth2 import id_token

    if not authorization or not authorization.startswith("Bearer "):
        raise _invalid("no Bearer token", "no-token")
    try:
        claims = id_token.verify_token(authorization[7:], request or auth_requests.Request(),
                                       audience=audience, certs_url=certs_url)
    except (ValueError, auth_exceptions.GoogleAuthError) as exc:
        raise _invalid("its token does not verify", "bad-token") from exc
    if claims.get("iss") not in _ISSUERS:
        raise _invalid("its token was not issued by Google", "bad-token")
    if service_account is not None and (claims.get("email") != service_account
                                        or claims.get("email_verified") is not True):
        raise _invalid("its token is for another service account", "bad-token")
    return claims
