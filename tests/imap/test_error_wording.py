"""Servers that say it in words: the same typed errors without RFC 5530 / RFC 3463 codes.

Issue 11: a ``NO`` without ``[NONEXISTENT]`` saying the mailbox does not exist, a plain
"authentication failure" and SMTP ``535 5.7.8`` gave a generic error or a bare `AuthError`.
Each case makes a scripted peer answer with one server's wording while the REAL
imapclient/smtplib talk to it, as in the catalogue tests.
"""

from __future__ import annotations

import pytest

from inboxlink import errors

from .dovecot import Dovecot
from .helpers import Certs
from .test_error_catalogue import CYRUS, DOVECOT, GMAIL, O365, Case, _run_imap, _run_smtp

UW = "* OK [CAPABILITY IMAP4REV1 I18NLEVEL=1 LITERAL+ SASL-IR AUTH=PLAIN] localhost IMAP4rev1 2007f.404 at Mon, 30 Nov 2026 01:00:00 +0000 (UTC)"  # noqa: E501
GENERIC = "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] mail.example.com IMAP ready"

IMAP_CASES = {
    # ------------------------------------------------------------ missing folder, no code
    "cyrus-examine": Case("command", errors.FolderNotFound, "NO Mailbox does not exist",
                          greeting=CYRUS, stage="EXAMINE"),
    "courier-examine": Case("command", errors.FolderNotFound, "NO Mailbox does not exist, or "
                            "must be subscribed to.", greeting=GENERIC, stage="EXAMINE"),
    "dovecot-examine": Case("command", errors.FolderNotFound, "NO Mailbox doesn't exist: INBOX",
                            stage="EXAMINE"),
    "gmail-examine": Case("command", errors.FolderNotFound, "NO Unknown Mailbox: INBOX "
                          "(Failure)", greeting=GMAIL, stage="EXAMINE"),
    "uw-examine": Case("command", errors.FolderNotFound, "NO Can't open mailbox INBOX: no such "
                       "mailbox", greeting=UW, stage="EXAMINE"),
    # the Exchange store's wording for a missing folder (EWS ErrorFolderNotFound's text)
    "exchange-store-examine": Case("command", errors.FolderNotFound, "NO The specified folder "
                                   "could not be found in the store.", greeting=O365,
                                   stage="EXAMINE"),
    "cyrus-append": Case("command", errors.FolderNotFound, "NO Mailbox does not exist",
                         greeting=CYRUS, stage="APPEND"),
    # RFC 4469/7889 [TOOBIG] on an APPEND the server will not store (a code, not words,
    # but the same path): MessageTooLarge, not the generic error
    "toobig-append": Case("command", errors.MessageTooLarge, "NO [TOOBIG] Mail size is larger "
                          "than the maximum size allowed by server configuration",
                          stage="APPEND"),
    # ------------------------------------------------------------ missing message, no code
    "dovecot-fetch": Case("command", errors.MessageNotFound, "NO Some of the requested "
                          "messages no longer exist (0.001 + 0.000 secs).", stage="UID FETCH"),
    "gmail-fetch": Case("command", errors.MessageNotFound, "NO Some messages could not be "
                        "FETCHed (Failure)", greeting=GMAIL, stage="UID FETCH"),
    # ------------------------------------------------------------ refused sign-in, no code
    "courier-login": Case("login", errors.InvalidCredentials, "NO Login failed.",
                          greeting=GENERIC),
    "cyrus-login": Case("login", errors.InvalidCredentials, "NO Login failed: authentication "
                        "failure", greeting=CYRUS),
    "dovecot-login": Case("login", errors.InvalidCredentials, "NO Authentication failed.",
                          greeting=DOVECOT),
    "plain-authentication-failure": Case("login", errors.InvalidCredentials,
                                         "NO authentication failure", greeting=GENERIC),
    "yahoo-login": Case("login", errors.InvalidCredentials, "NO Incorrect username or "
                        "password.", greeting=GENERIC),
    # … but a temporary failure in words stays temporary, and Microsoft's "LOGIN failed."
    # keeps meaning basic authentication is off there
    "dovecot-tempfail": Case("login", errors.TransientError, "NO Temporary authentication "
                             "failure.", greeting=DOVECOT),
    "o365-login": Case("login", errors.BasicAuthDisabled, "NO LOGIN failed.", greeting=O365),
}

SMTP_CASES = {
    "postfix-535-5.7.8": Case("smtp", errors.InvalidCredentials, "535 5.7.8 Error: "
                              "authentication failed: authentication failure", stage="auth"),
    "rfc4954-535-5.7.8": Case("smtp", errors.InvalidCredentials, "535 5.7.8 Authentication "
                              "credentials invalid", stage="auth"),
    "exim-535": Case("smtp", errors.InvalidCredentials, "535 Incorrect authentication data",
                     stage="auth"),
    "rfc4954-454-4.7.0": Case("smtp", errors.TransientError, "454 4.7.0 Temporary "
                              "authentication failure", stage="auth"),
    "rfc4954-530-5.7.0": Case("smtp", errors.AuthError, "530 5.7.0 Authentication required",
                              stage="mail"),
    "postfix-rcpt-5.1.1": Case("smtp", errors.RecipientsRefused, "550 5.1.1 "
                               "<carol@example.org>: Recipient address rejected: User unknown "
                               "in virtual mailbox table", stage="rcpt"),
    "rcpt-5.2.2-full": Case("smtp", errors.RecipientsRefused, "552 5.2.2 Mailbox full",
                            stage="rcpt"),
    "rcpt-4.2.2-full": Case("smtp", errors.TransientError, "452 4.2.2 Mailbox full, try again "
                            "later", stage="rcpt"),
    "data-5.3.4": Case("smtp", errors.MessageTooLarge, "554 5.3.4 Message too big for system",
                       stage="data_end"),
}


@pytest.mark.parametrize("case", IMAP_CASES.values(), ids=IMAP_CASES.keys())
def test_imap_wording(case: Case, certs: Certs) -> None:
    error, _ = _run_imap(case, certs)
    assert type(error) is case.expected, repr(error)
    assert error.remedy
    assert "check the connection settings" not in error.remedy.lower()
    assert error.__cause__ is not None
    if isinstance(error, errors.MessageTooLarge):
        # [TOOBIG] names no number and this server announces no APPENDLIMIT: the size of
        # the refused copy is known, the limit is not
        assert (error.limit, error.size) == (None, len(b"Subject: x\r\n\r\nx\r\n"))


@pytest.mark.parametrize("case", SMTP_CASES.values(), ids=SMTP_CASES.keys())
def test_smtp_wording(case: Case, certs: Certs, dovecot: Dovecot) -> None:
    error, _ = _run_smtp(case, certs, dovecot)
    assert type(error) is case.expected, repr(error)
    assert error.remedy
    assert error.__cause__ is not None
