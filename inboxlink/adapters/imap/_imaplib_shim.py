"""The one place that wraps imaplib's own readers; ``tests/faults`` has canaries for it.

imaplib reads server responses itself, below imapclient, and trusts them:

* a literal ``{N}`` makes ``IMAP4._get_response`` call ``self.read(N)``, which asks the
  socket file for N bytes at once: a server announcing ``{999999999999}`` makes the
  process try to allocate a terabyte (``MemoryError``/``OverflowError``) before anything
  else can react;
* a line longer than ``imaplib._MAXLINE`` raises a plain ``IMAP4.error`` from
  ``IMAP4.readline`` — the same class as a server's tagged ``NO`` — after the connection is
  left in the middle of a response, so it looked reusable.

`guard` replaces ``read`` and ``readline`` *on one connection object* (instance
attributes, imaplib's class is untouched) with checks that refuse an absurd literal before
reading it and turn an over-long line into `ProtocolViolation`, an ``IMAP4.abort``:
the session is then discarded, never reused. `set_wait` sets the socket timeout of the
next reads (the per-call deadline). If imaplib changes these internals,
``tests/faults/test_imap_faults.py::test_imaplib_shim_canaries`` fails loudly.
"""

from __future__ import annotations

import imaplib
from typing import Any

__all__ = ["MAX_LITERAL", "ProtocolViolation", "guard", "set_wait", "violation"]

_MARK = "_inboxlink_violation"

#: the largest literal read (1 GiB: far above any provider's message size limit, far below
#: what a hostile length would make us allocate)
MAX_LITERAL = 1 << 30


class ProtocolViolation(imaplib.IMAP4.abort):
    """The server sent something that is not a sane IMAP response; the connection is dropped."""


def guard(imap: imaplib.IMAP4, max_literal: int = MAX_LITERAL) -> None:
    """Refuse literals above ``max_literal`` and over-long lines on this connection."""
    read = imap.read
    readline = imap.readline

    def refuse(text: str) -> ProtocolViolation:
        # imaplib re-raises an abort from a command as a plain abort with a new text, so the
        # violation is also noted on the connection for violation() to find.
        setattr(imap, _MARK, text)
        return ProtocolViolation(text)

    def checked_read(size: int) -> bytes:
        if size > max_literal:
            raise refuse(f"The server announced a literal of {size} bytes (the limit is "
                         f"{max_literal}); it was not read.")
        return read(size)

    def checked_readline() -> bytes:
        try:
            return readline()
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as exc:
            # readline's only error: "got more than _MAXLINE bytes" without a line end.
            raise refuse(f"The server sent a line longer than {_maxline()} bytes "
                         "without a line end.") from exc

    instance: Any = imap
    instance.read = checked_read
    instance.readline = checked_readline


def violation(imap: imaplib.IMAP4) -> ProtocolViolation | None:
    """The protocol violation this connection met, if any (then it must be discarded)."""
    text = getattr(imap, _MARK, None)
    return ProtocolViolation(text) if text else None


def _maxline() -> int:
    limit: int = getattr(imaplib, "_MAXLINE", 0)
    return limit


def set_wait(imap: imaplib.IMAP4, seconds: float) -> None:
    """Make each following network read of ``imap`` wait at most ``seconds``."""
    sock = getattr(imap, "sock", None)
    if sock is not None:
        sock.settimeout(seconds)
