"""What the emulators read out of the MIME they store: one rule for every emulator.

Which parts are attachments is decided as Exchange (and IMAP's BODYSTRUCTURE reading in
inboxlink) decide it: every leaf of the MIME tree — an attached ``message/rfc822`` is one
leaf — except the text/plain and text/html bodies that carry no file name and are not
marked ``attachment``; a single-part message is an attachment only when it is named or
marked ``attachment``.

Imported as the top-level module ``_emulator_mime``: pytest puts ``tests/`` on
``sys.path`` (its rootdir conftest), and the benchmarks add ``tests/`` themselves, so the
emulators import it the same way whether they are ``graph.emulator`` or
``tests.graph.emulator``.
"""

from __future__ import annotations

from collections.abc import Hashable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

__all__ = ["AttachmentCache", "attachment_content", "attachment_leaves", "is_attachment"]

_BODY_TYPES = frozenset({"text/plain", "text/html"})


def is_attachment(part: EmailMessage, root: bool) -> bool:
    """Whether the leaf ``part`` (the whole message when ``root``) is an attachment."""
    named = part.get_content_disposition() == "attachment" or bool(part.get_filename())
    # A single-part message is its own body unless it is a named/marked file.
    return named or (not root and part.get_content_type() not in _BODY_TYPES)


def attachment_leaves(raw: bytes) -> list[EmailMessage]:
    """The attachment parts of a message, in MIME order (see the module docstring)."""
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    found: list[EmailMessage] = []

    def walk(part: EmailMessage) -> None:
        if part.get_content_maintype() == "multipart":
            for child in part.iter_parts():
                walk(child)  # type: ignore[arg-type]
            return
        if is_attachment(part, part is parsed):
            found.append(part)

    walk(parsed)
    return found


def attachment_content(part: EmailMessage) -> bytes:
    """The attachment's bytes: decoded for a file, the MIME of an attached message."""
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload(0)
        return inner.as_bytes(policy=policy.SMTP)  # type: ignore[union-attr]
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


class AttachmentCache:
    """Attachments per stored message, parsed and decoded once (a 100 MB message is parsed
    once, however many attachment requests follow)."""

    def __init__(self) -> None:
        self._parts: dict[tuple[Hashable, int], list[tuple[EmailMessage, bytes]]] = {}

    def parts(self, key: Hashable, raw: bytes) -> list[tuple[EmailMessage, bytes]]:
        """``(part, content)`` of every attachment of the message ``key`` stored as ``raw``
        (a message whose MIME is replaced is parsed again)."""
        slot = (key, id(raw))
        if slot not in self._parts:
            self._parts[slot] = [(p, attachment_content(p)) for p in attachment_leaves(raw)]
        return self._parts[slot]
