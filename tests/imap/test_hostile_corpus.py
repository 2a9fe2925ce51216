"""The hostile corpus end to end through the real Dovecot: list, fetch, attachments, reply.

Every generated broken message (``tests/hostile/corpus.py``) is APPENDed to a fresh
account, listed with the adapter's fast header path, fetched and compared with its
listing, its attachments listed from BODYSTRUCTURE and compared with the MIME layer's
definition, each attachment saved by section, and a reply sent over SMTP (Sent copy too).

Where Dovecot's MIME parser and the stdlib's split the same bytes differently, or the IMAP
adapter has a bug outside this area, the sample is a strict expected failure with the
reason: it turns into an error the day the two agree, so the list cannot go stale.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hostile.checks import through_mailbox
from hostile.corpus import CORPUS, Sample

from inboxlink import mime
from inboxlink.adapters.imap import ImapMailbox
from inboxlink.models import MessageSummary

from .dovecot import Dovecot
from .helpers import Certs, settings_for
from .smtp_peer import SmtpServer

pytestmark = pytest.mark.dovecot

#: what Dovecot refuses to store at all (APPEND answers NO), and why
REFUSED = {"empty-message": "Dovecot: 'Can't save a zero byte message'"}
KNOWN: dict[str, str] = {
    "boundary-in-body-text": "parsers differ: Dovecot takes '--b-- text' for the close "
                             "delimiter, the stdlib (RFC 2046: only white space may follow) not",
    "mutation-11": "parsers differ: with this damaged Content-Type Dovecot's BODYSTRUCTURE "
                   "has no leaf for the named part the stdlib finds",
    "mutation-16": "parsers differ: Dovecot ends a file name at a DEL byte, the stdlib keeps it",
    "rfc2231-bad-charset": "parsers differ: an unknown RFC 2231 charset is read as Latin-1 by "
                           "the IMAP path, with replacement characters by the stdlib",
}


@pytest.fixture(scope="module")
def loaded(dovecot: Dovecot, certs: Certs, smtp_server: SmtpServer
           ) -> Iterator[tuple[ImapMailbox, dict[str, MessageSummary]]]:
    account = dovecot.new_user()
    stored: list[Sample] = []
    refused: set[str] = set()
    for sample in CORPUS:
        try:
            dovecot.deliver(account, sample.raw)
        except RuntimeError:  # the server's own refusal (APPEND answered NO)
            refused.add(sample.name)
        else:
            stored.append(sample)
    assert refused == set(REFUSED)
    with ImapMailbox(settings_for(dovecot, account, certs, smtp_server)) as mailbox:
        listed = list(mailbox.iter_messages(page_size=50))
        assert len(listed) == len(stored)
        # Newest first: the reverse of the APPEND order.
        yield mailbox, {sample.name: summary
                        for sample, summary in zip(stored, reversed(listed), strict=True)}


def _params() -> list[object]:
    return [pytest.param(s, id=s.name, marks=pytest.mark.xfail(strict=True, reason=KNOWN[s.name]))
            if s.name in KNOWN else pytest.param(s, id=s.name)
            for s in CORPUS if s.name not in REFUSED]


def test_the_corpus_is_stored_but_for_what_dovecot_refuses(
        loaded: tuple[ImapMailbox, dict[str, MessageSummary]]) -> None:
    _, summaries = loaded
    assert len(summaries) == len(CORPUS) - len(REFUSED) >= 100


@pytest.mark.parametrize("sample", _params())
def test_list_fetch_attachments_reply_on_dovecot(
        loaded: tuple[ImapMailbox, dict[str, MessageSummary]], sample: Sample) -> None:
    mailbox, summaries = loaded
    summary = summaries[sample.name]  # from the adapter's fast listing path
    message = through_mailbox(mailbox, summary)  # listing == message, saves, a reply sent
    imap = [(i.filename, i.content_type) for i in mailbox.list_attachments(summary.id)]
    assert imap == [(a.filename, a.content_type) for a in mime.attachments(message.email)]
