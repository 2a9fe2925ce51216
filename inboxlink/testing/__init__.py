"""Test helpers: the in-memory fake adapter, a pytest plugin and the conformance suite.

>>> from inboxlink.testing import FakeMailServer, FakeMailbox
>>> server = FakeMailServer()
>>> mailbox = FakeMailbox("alice@example.com", server=server)

`connect_fake()` is `inboxlink.connect()` for ``fake://`` URLs, typed as
`FakeMailbox` so ``deliver``/``fail_next``/``sent`` type-check.

The conformance suite (``inboxlink.testing.conformance``) needs pytest; importing this
package does not.
"""

from __future__ import annotations

from typing import Any

from inboxlink.testing.fake import IGNORED_OPTIONS, FakeMailbox, FakeMailServer, SentMail
from inboxlink.testing.routing import current_server, use_server

__all__ = ["IGNORED_OPTIONS", "FakeMailServer", "FakeMailbox", "SentMail", "connect_fake",
           "current_server", "use_server"]


def connect_fake(url: str = "fake://alice@example.com", /, **options: Any) -> FakeMailbox:
    """Open a fake mailbox exactly as ``inboxlink.connect(url, **options)`` would, typed as
    `FakeMailbox` (``connect()`` can only promise a `Mailbox`).

    Same options, same ``ConfigurationError`` for unknown ones, same routing to the
    current test's server.
    """
    return FakeMailbox.from_url(url, **options)
