"""``messages.get(format=full)`` payload trees and ``messages.attachments.get`` for the emulator.

The payload is built from the stored MIME as Gmail documents it: every part has ``partId``
(``""`` for the root, ``"0"``, ``"1"``, ``"1.0"`` … below it), ``mimeType``, ``filename``
(empty unless the part is an attachment), its own ``headers`` and a ``body`` with ``size``
(decoded bytes) and either ``data`` (base64url, for text parts without a file name — a
``text/calendar`` invitation too) or ``attachmentId`` (for named or non-text attachments, whose
content comes from ``attachments.get``). Multiparts have ``parts``.

Like Gmail, every ``format=full`` answer hands out *new* attachment ids (earlier ones keep
working), so a client cannot treat an attachment id as a stable name; the stable name is the
``partId``. Which leaves are attachments is the rule every emulator shares
(``_emulator_mime``).
"""

from __future__ import annotations

import base64
import itertools
import json
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from _emulator_mime import attachment_content, is_attachment

Response = tuple[int, dict[str, str], bytes]


class PartStore:
    """Parsed payload trees and the attachment ids handed out for them."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        #: attachment id → (message id, part id)
        self.issued: dict[str, tuple[str, str]] = {}
        #: (message id, id of its raw bytes) → {part id: decoded content}, parsed once
        self._contents: dict[tuple[str, int], dict[str, bytes]] = {}
        self._trees: dict[tuple[str, int], EmailMessage] = {}

    def _parsed(self, message_id: str, raw: bytes) -> EmailMessage:
        key = (message_id, id(raw))
        if key not in self._trees:
            self._trees[key] = BytesParser(policy=policy.default).parsebytes(raw)
            self._contents[key] = {}
        return self._trees[key]

    def content(self, message_id: str, raw: bytes, part_id: str) -> bytes | None:
        """The decoded content of one attachment part (``None``: no such attachment)."""
        root = self._parsed(message_id, raw)
        cache = self._contents[(message_id, id(raw))]
        if part_id not in cache:
            part = _find(root, part_id)
            if part is None or not is_attachment(part, part is root):
                return None
            cache[part_id] = attachment_content(part)
        return cache[part_id]

    def payload(self, message_id: str, raw: bytes) -> dict[str, Any]:
        """The ``payload`` of a ``format=full`` message, with fresh attachment ids."""
        root = self._parsed(message_id, raw)

        def build(part: EmailMessage, part_id: str) -> dict[str, Any]:
            node: dict[str, Any] = {
                "partId": part_id, "mimeType": part.get_content_type(),
                "filename": part.get_filename() or "",
                "headers": [{"name": k, "value": str(v)} for k, v in part.items()],
            }
            if part.get_content_maintype() == "multipart":
                node["body"] = {"size": 0}
                node["parts"] = [build(child, f"{part_id}.{n}" if part_id else str(n))  # type: ignore[arg-type]
                                 for n, child in enumerate(part.iter_parts())]
            elif is_attachment(part, part is root) and (
                    part.get_filename() or part.get_content_maintype() != "text"):
                token = f"ANGjdJ{next(self._ids):08d}" + "x" * 40
                self.issued[token] = (message_id, part_id)
                size = len(self.content(message_id, raw, part_id) or b"")
                node["body"] = {"attachmentId": token, "size": size}
            else:
                data = attachment_content(part)
                node["body"] = {"size": len(data),
                                "data": base64.urlsafe_b64encode(data).decode()}
            return node

        return build(root, "")


def _find(root: EmailMessage, part_id: str) -> EmailMessage | None:
    if part_id == "":
        return root
    node = root
    for step in part_id.split("."):
        if node.get_content_maintype() != "multipart" or not step.isdigit():
            return None
        children = list(node.iter_parts())
        if int(step) >= len(children):
            return None
        node = children[int(step)]  # type: ignore[assignment]
    return node


def attachment_body(store: PartStore, raw_of: dict[str, bytes], message_id: str,
                    attachment_id: str, fields: list[str]) -> tuple[int, Any]:
    """``attachments.get``: (status, body) — ``MessagePartBody`` or Gmail's 404 body."""
    owner = store.issued.get(attachment_id)
    raw = raw_of.get(message_id)
    if owner is None or owner[0] != message_id or raw is None:
        return 404, None
    data = store.content(message_id, raw, owner[1])
    if data is None:
        return 404, None
    body: dict[str, Any] = {"attachmentId": attachment_id, "size": len(data),
                            "data": base64.urlsafe_b64encode(data).decode()}
    if fields:
        wanted = set(fields[0].split(","))
        body = {k: v for k, v in body.items() if k in wanted}
    return 200, body


def encode(body: Any) -> bytes:
    return json.dumps(body).encode()
