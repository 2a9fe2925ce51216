"""The IMAP adapter's send path: SMTP submission, then the Sent copy by IMAP APPEND.

Both stream the message from its spool in ``settings.stream_chunk`` pieces, so a message
with a 100 MB attachment is never held in memory. Neither is ever repeated blindly: the
submission is attempted once (`_smtp`), and the APPEND is repeated only when the message
provably did not reach the server (the connection failed before its literal was written in
full); once it may have, a lost answer is resolved by looking for the Message-ID.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import default as _default_policy
from typing import IO, TYPE_CHECKING

import attrs

from inboxlink import deadline, errors, mime
from inboxlink.adapters.imap import _ids as ids
from inboxlink.adapters.imap import _imapclient_shim, _smtp
from inboxlink.adapters.imap.connection import DROPPED, Session
from inboxlink.adapters.imap.errors import PROVIDER
from inboxlink.models import Folder, SendResult, SentCopy
from inboxlink.spool import Spool

if TYPE_CHECKING:
    from inboxlink.adapters.imap.mailbox import ImapMailbox

__all__ = ["append", "append_limit", "crlf_lines", "submit"]

log = logging.getLogger("inboxlink.imap")

_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")
#: the drops after which the session is discarded (as in `ImapMailbox._with_session`)
#: tries of one APPEND whose connection dropped before the message left (each on a new
#: connection: every idle pooled one may have been closed by the same server restart)
_APPEND_TRIES = 3
#: the most header bytes read to find the Date and Message-ID of a message to append
_MAX_HEADER = 1 << 20
_LINE_END = re.compile(rb"\r\n|\r|\n")
_APPENDLIMIT = re.compile(r"APPENDLIMIT=(\d+)")


def submit(mailbox: ImapMailbox, prepared: mime.PreparedMessage, save_copy: bool) -> SendResult:
    """Send once over SMTP, then keep the Sent copy unless the server files it itself."""
    with mailbox._translating(), mailbox._pool.slot():
        refused = _smtp.send(mailbox.settings, mailbox._context, prepared)
    if not save_copy:
        result = SendResult(message_id=prepared.message_id, raw=prepared.spool,
                            sent_copy=SentCopy.SKIPPED)
    elif mailbox._saves_sent:
        result = SendResult(message_id=prepared.message_id, raw=prepared.spool,
                            sent_copy=SentCopy.SAVED_BY_PROVIDER)
    else:
        result = mailbox._save_copy(prepared)
    return attrs.evolve(result, refused=refused) if refused else result


def append(mailbox: ImapMailbox, raw: Spool, folder: Folder) -> str | None:
    """APPEND the copy once; repeated only when the message provably never left.

    The literal is written only after the server's ``+`` continuation. A pooled connection
    the server already closed (restart, autologout) fails before that, and one that breaks
    while the literal is being written leaves the server an incomplete message it cannot
    store; either way the copy is written again on a fresh connection. Once the literal was
    written in full, a lost answer is never repeated: the server may have stored it.
    """
    with raw.open() as stream:
        head = _headers(stream)
    stamp = dt.datetime.fromtimestamp(mime.internal_date(head), dt.timezone.utc)

    pieces, size = _literal(raw, mailbox.settings.stream_chunk)
    limit = append_limit(mailbox.server_capabilities)
    if limit is not None and size > limit:
        raise errors.MessageTooLarge(
            f"The message has {size} bytes; the IMAP server stores at most {limit} (its "
            "APPENDLIMIT).", provider=PROVIDER, code="APPENDLIMIT", limit=limit, size=size)
    response = b""
    with _measured(limit, size), mailbox._translating():
        for attempt in range(_APPEND_TRIES):
            try:
                response = mailbox._with_session(
                    lambda s: _append_on(s, folder, pieces, size, stamp), reconnect=False)
                break
            except _imapclient_shim.LiteralIncomplete:
                left = deadline.remaining()
                if attempt + 1 == _APPEND_TRIES or (left is not None and left <= 0):
                    raise
            except DROPPED:
                # The message left and the answer was lost: look for it instead of storing
                # it again. Found, the copy is there; not found, report the failure (never
                # append twice).
                stored = _find_copy(mailbox, folder, head.get("Message-ID"))
                if stored is not None:
                    return stored
                raise errors.ConnectionLost(
                    "The Sent copy was written but the server's answer was lost, and it "
                    "could not be found by its Message-ID.", provider=PROVIDER,
                    code="APPEND-answer-lost", retryable=False,
                    remedy="Look in the Sent folder for the message's Message-ID before storing "
                           "the copy again: it may already be there.",
                ) from None
    found = _APPENDUID.search(response)
    if found is None:
        return None
    return ids.message_id(folder.id, int(found.group(1)), int(found.group(2)))


@contextmanager
def _measured(limit: int | None, size: int) -> Iterator[None]:
    """Fill in what a server's ``[TOOBIG]`` leaves out (it names no number): the limit we
    know of and the size of the refused message."""
    try:
        yield
    except errors.MessageTooLarge as exc:
        exc.limit = exc.limit or limit
        exc.size = exc.size or size
        raise


def append_limit(capabilities: frozenset[str]) -> int | None:
    """The server's ``APPENDLIMIT=n`` (RFC 7889), the largest message it stores, if any."""
    for capability in capabilities:
        found = _APPENDLIMIT.fullmatch(capability)
        if found:
            return int(found.group(1))
    return None


def _append_on(session: Session, folder: Folder, pieces: Callable[[], Iterable[bytes]],
               size: int, stamp: dt.datetime) -> bytes:
    return _imapclient_shim.append_streamed(session.client, folder.id, b"\\Seen", stamp, size,
                                            pieces())


def _literal(raw: Spool, chunk: int) -> tuple[Callable[[], Iterable[bytes]], int]:
    """How to write ``raw`` as an APPEND literal, and the length to announce first.

    Making line ends CRLF only ever adds bytes, so an unchanged length means the spool is
    CRLF already (every message inboxlink builds) and is written as it is.
    """
    size = sum(len(piece) for piece in crlf_lines(raw.chunks(chunk)))
    if size == raw.size:
        return lambda: raw.chunks(chunk), size
    return lambda: crlf_lines(raw.chunks(chunk)), size


def crlf_lines(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """``pieces`` with every line ending (CR, LF or CRLF) written CRLF, as RFC 3501 wants and
    imaplib's own ``append`` does; a CR at the end of a piece waits for the next one.

    Pieces that are CRLF already (every message inboxlink builds) pass unchanged, found by
    counting, without a regular-expression pass.
    """
    held = b""
    for piece in pieces:
        data = held + piece if held else piece
        held = b""
        if data.endswith(b"\r"):
            data, held = data[:-1], b"\r"
        pairs = data.count(b"\r\n")
        if data.count(b"\r") != pairs or data.count(b"\n") != pairs:
            data = _LINE_END.sub(b"\r\n", data)
        if data:
            yield data
    if held:
        yield b"\r\n"


def _find_copy(mailbox: ImapMailbox, folder: Folder, message_id: object) -> str | None:
    """The id of the message with ``message_id`` in ``folder``, if it is there."""
    if not message_id:
        return None
    wanted = str(message_id).strip()

    def search(session: Session) -> str | None:
        session.select(folder.id)
        uids = session.client.search(["HEADER", "Message-ID", wanted])
        if not uids:
            return None
        return ids.message_id(folder.id, session.uidvalidity, max(int(u) for u in uids))

    try:
        return mailbox._with_session(search)
    except Exception as exc:  # the lookup is a courtesy; the APPEND's own error stands
        log.info("imap: could not check %s for the lost copy: %s", folder.id, exc)
        return None


def _headers(stream: IO[bytes]) -> EmailMessage:
    """The header block of the message in ``stream`` (its body is never read)."""
    lines: list[bytes] = []
    total = 0
    while total <= _MAX_HEADER:
        line = stream.readline(_MAX_HEADER)
        if line in (b"", b"\r\n", b"\n"):
            break
        lines.append(line)
        total += len(line)
    parsed = BytesHeaderParser(policy=_default_policy).parsebytes(b"".join(lines))
    assert isinstance(parsed, EmailMessage)
    return parsed
