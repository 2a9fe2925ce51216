"""Test helpers: the in-memory fake adapter, a pytest plugin and the conformance suite.

>>> from inboxlink.testing import FakeMailServer, FakeMailbox
>>> server = FakeMailServer()
>>> mailbox = FakeMailbox("alice@example.com", server=server)

The conformance suite (``inboxlink.testing.conformance``) needs pytest; importing this
package does not.
"""

from inboxlink.testing.fake import FakeMailbox, FakeMailServer, SentMail

__all__ = ["FakeMailServer", "FakeMailbox", "SentMail"]
