"""The hostile corpus (``corpus.py``, 100+ generated broken messages) end to end.

Each message goes through parse → Message fields → attachments → reply → ``mime.prepare``,
and through the fake mailbox: deliver, list, fetch (listing and message agree), list and
save every attachment, send a reply. ``tests/imap/test_hostile_corpus.py`` does the same
through Dovecot.
"""

from __future__ import annotations

import pytest

from inboxlink import mime
from inboxlink.models import Message
from inboxlink.testing import FakeMailbox

from .checks import ME, exercise, through_mailbox
from .corpus import CORPUS, Sample


def test_the_corpus_is_large_and_covers_every_shape() -> None:
    assert len(CORPUS) >= 100
    prefixes = {s.name.split("-")[0] for s in CORPUS}
    assert {"nested", "signed", "forwarded", "charset", "encoded", "line", "boundary", "huge",
            "8bit", "uuencode", "base64", "mutation"} <= prefixes


@pytest.mark.parametrize("sample", CORPUS, ids=lambda s: s.name)
def test_parse_read_attachments_reply_prepare(sample: Sample) -> None:
    message = exercise(sample.raw)
    if sample.attachments is not None:
        assert tuple(a.filename for a in message.attachments) == sample.attachments


@pytest.mark.parametrize("sample", CORPUS, ids=lambda s: s.name)
def test_through_the_fake_mailbox(sample: Sample) -> None:
    mailbox = FakeMailbox(address=ME)
    mailbox.deliver(sample.raw)
    (summary,) = mailbox.list_messages(limit=5)
    message = through_mailbox(mailbox, summary)
    assert message.raw == sample.raw
    infos = mailbox.list_attachments(summary.id)
    assert [(i.filename, i.content_type) for i in infos] == [
        (a.filename, a.content_type) for a in mime.attachments(message.email)]


def test_known_answers_from_the_corpus() -> None:
    by_name = {s.name: Message(id="1", folder_id="f", raw=s.raw) for s in CORPUS}
    assert by_name["two-at-msgid"].message_id == "<a@b@example.com>"
    assert by_name["at-in-name"].from_ is not None
    assert by_name["at-in-name"].from_.email == "alice@example.com"
    assert by_name["malformed-line"].subject == "Hello"
    assert by_name["obsolete-colon"].subject == "obs"
    assert by_name["mbox-from-line"].subject == "Hello"
    assert by_name["encoded-word-subject-0"].subject == "a"
    assert by_name["encoded-word-subject-8"].subject == "café"
    assert by_name["unicode-breaks-subject"].reply(text="x").subject == "Re: A B C D"
    assert by_name["signed-pkcs7-signature-True"].attachments[0].data.startswith(b"%PDF-1.4")
    assert by_name["base64-mid-padding"].attachments[0].data == b"A"
