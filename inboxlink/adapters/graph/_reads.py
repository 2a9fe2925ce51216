"""Reading a Graph mailbox: the folder tree, message pages, MIME sources (coroutines).

Each coroutine takes the mailbox's `GraphSession` first, so `GraphMailbox._run` can run it
on the shared loop inside the error boundary. Requests go through the SDK's request
builders where it has one, and through JSON ``$batch`` (`._batch`) where many small reads
would otherwise cost one round trip each: a folder level's children, the well-known folder
ids, a group of MIME sources.

A link read from a cursor is followed only under the mailbox's Graph root (`check_link`):
the bearer token is attached to whatever URL is followed.
"""

from __future__ import annotations

import base64
import json
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation

from inboxlink import errors
from inboxlink.adapters.graph import _batch, convert
from inboxlink.adapters.graph._batch import BATCH_SIZE, chunks
from inboxlink.adapters.graph.errors import PROVIDER, ItemFailure
from inboxlink.models import Folder, FolderRole, MessageSummary, Page

if TYPE_CHECKING:
    from inboxlink.adapters.graph.connection import GraphSession
    from inboxlink.retry import RetryPolicy

__all__ = ["check_link", "collect", "fetch_raw", "folders", "get", "has_exchange_plan", "page",
           "stream_to"]

#: mailFolders asked for per page (the folder tree is small; one page is the usual case)
FOLDER_PAGE = 250
#: bytes handed to the sink at a time while streaming a MIME source
_CHUNK = 64 * 1024


def check_link(base_url: str, url: object) -> str:
    """``url`` if it lies under ``base_url``; else `CursorExpired` (a forged or foreign
    cursor must never send the token to another host)."""
    if not isinstance(url, str) or not url.startswith(base_url + "/"):
        raise errors.CursorExpired(
            "The cursor does not apply here. It leads outside this mailbox's Graph endpoint.",
            provider=PROVIDER, code="bad-cursor",
            remedy="Pass page.next_cursor exactly as returned, to a mailbox with the same "
                   "base_url, or start the listing without a cursor.",
        )
    return url


def get(url: str) -> RequestInformation:
    """A GET of an absolute URL (a nextLink), already checked with `check_link`."""
    info = RequestInformation(Method.GET)
    info.url = url
    return info


async def collect(session: GraphSession, first: dict[str, Any]) -> list[dict[str, Any]]:
    """Every ``value`` item of a collection, following its ``@odata.nextLink`` pages."""
    items = list(first.get("value", []))
    next_link = first.get("@odata.nextLink")
    while next_link:
        data = await session.send_json(get(check_link(session.base_url, next_link)))
        items.extend(data.get("value", []))
        next_link = data.get("@odata.nextLink")
    return items


async def has_exchange_plan(session: GraphSession) -> bool | None:
    """Whether the account has an enabled Exchange Online plan (``assignedPlans``; needs
    User.Read); ``None`` when the answer does not tell."""
    user = await session.send_json(session.request(
        Method.GET, session.user_path + "?%24select=mail,assignedPlans"))
    plans = user.get("assignedPlans")
    if not isinstance(plans, list):
        return None
    exchange = [p for p in plans
                if isinstance(p, dict) and str(p.get("service", "")).lower() == "exchange"]
    return any(p.get("capabilityStatus") == "Enabled" for p in exchange)


# ---------------------------------------------------------------------- folders
async def folders(session: GraphSession, policy: RetryPolicy) -> list[Folder]:
    """The whole folder tree, level by level: children of a level's folders in ``$batch``."""
    from msgraph.generated.users.item.mail_folders.mail_folders_request_builder import (
        MailFoldersRequestBuilder,
    )

    query = MailFoldersRequestBuilder.MailFoldersRequestBuilderGetQueryParameters(
        top=FOLDER_PAGE, select=list(convert.FOLDER_SELECT))
    info = session.user.mail_folders.to_get_request_information(
        RequestConfiguration(query_parameters=query))
    top_level = await collect(session, await session.send_json(info))
    roles = await _well_known(session, policy)

    found: list[Folder] = []
    level: list[tuple[dict[str, Any], str | None]] = [(item, None) for item in top_level]
    while level:
        parents: list[Folder] = []
        for item, parent_path in level:
            folder = convert.folder_from_json(item, parent_path, roles)
            found.append(folder)
            if item.get("childFolderCount"):
                parents.append(folder)
        level = []
        for group in chunks(parents, BATCH_SIZE):
            requests = [{
                "id": str(n), "method": "GET",
                "url": f"{session.user_path}/mailFolders/{quote(folder.id, safe='')}"
                       f"/childFolders?$top={FOLDER_PAGE}"
                       f"&$select={','.join(convert.FOLDER_SELECT)}",
            } for n, folder in enumerate(group)]
            answers = await _batch.run(session, requests, policy)
            for n, folder in enumerate(group):
                response = answers[str(n)]
                if _batch.status_of(response) >= 300:
                    raise ItemFailure(response)
                children = await collect(session, response.get("body") or {})
                level.extend((child, folder.path) for child in children)
    return found


async def _well_known(session: GraphSession, policy: RetryPolicy) -> dict[str, FolderRole]:
    """Folder id → role, from one ``$batch`` asking for each well-known name (mailFolder has
    no wellKnownName property in v1.0)."""
    names = list(convert.WELL_KNOWN_FOLDERS)
    requests = [{"id": name, "method": "GET",
                 "url": f"{session.user_path}/mailFolders/{name}?$select=id"}
                for name in names]
    answers = await _batch.run(session, requests, policy)
    roles: dict[str, FolderRole] = {}
    for name in names:
        response = answers[name]
        status = _batch.status_of(response)
        if status == 404:
            continue  # e.g. no Archive folder yet
        if status >= 300:
            raise ItemFailure(response)
        body = response.get("body") or {}
        if isinstance(body, dict) and body.get("id"):
            roles[str(body["id"])] = convert.WELL_KNOWN_FOLDERS[name]
    return roles


# ---------------------------------------------------------------------- listing
async def page(session: GraphSession, folder_id: str, limit: int,
               link: str | None) -> Page[MessageSummary]:
    """One page of summaries, newest first; ``next_cursor`` is the raw nextLink."""
    from msgraph.generated.users.item.mail_folders.item.messages.messages_request_builder import (
        MessagesRequestBuilder,
    )

    if link is not None:
        info = get(check_link(session.base_url, link))
    else:
        query = MessagesRequestBuilder.MessagesRequestBuilderGetQueryParameters(
            select=list(convert.SUMMARY_SELECT), top=limit,
            orderby=["receivedDateTime desc"], expand=list(convert.SUMMARY_EXPAND))
        info = (session.user.mail_folders.by_mail_folder_id(folder_id).messages
                .to_get_request_information(RequestConfiguration(query_parameters=query)))
    data = await session.send_json(info)
    items = tuple(convert.summary_from_json(item, folder_id) for item in data.get("value", []))
    next_link = data.get("@odata.nextLink")
    return Page(items=items, next_cursor=str(next_link) if next_link and items else None)


# ---------------------------------------------------------------------- fetching
async def fetch_raw(session: GraphSession, message_ids: list[str],
                    policy: RetryPolicy) -> list[bytes]:
    """The MIME sources (``/$value``) of ``message_ids``, in order, 20 per ``$batch``."""
    out: list[bytes] = []
    for group in chunks(message_ids, BATCH_SIZE):
        requests = [{"id": str(n), "method": "GET",
                     "url": f"{session.user_path}/messages/{quote(mid, safe='')}/$value"}
                    for n, mid in enumerate(group)]
        answers = await _batch.run(session, requests, policy)
        for n in range(len(group)):
            response = answers[str(n)]
            if _batch.status_of(response) >= 300:
                raise ItemFailure(response)
            out.append(_body_bytes(response.get("body")))
    return out


async def stream_to(session: GraphSession, message_id: str, sink: IO[bytes]) -> int:
    """Write the MIME source to ``sink`` as it arrives; returns the byte count."""
    builder = session.user.messages.by_message_id(message_id).content
    async with session.stream(builder.to_get_request_information()) as response:
        if response.status_code >= 300:
            await response.aread()
            raise ItemFailure({"status": response.status_code,
                               "headers": dict(response.headers), "body": response.content})
        written = 0
        async for chunk in response.aiter_bytes(_CHUNK):
            sink.write(chunk)
            written += len(chunk)
        return written


def _body_bytes(body: Any) -> bytes:
    # Graph base64-encodes non-JSON bodies (a $value MIME source) inside a JSON batch.
    if isinstance(body, str):
        try:
            return base64.b64decode(body, validate=True)
        except ValueError:
            return body.encode("utf-8")
    if body is None:
        return b""
    return json.dumps(body).encode()
