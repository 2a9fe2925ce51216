"""Running the data commands on a shared fake server: stdout, stderr and exit code apart."""

from __future__ import annotations

import datetime as dt
import io
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import attrs
import pytest

import inboxlink
from inboxlink.cli import main
from inboxlink.mailbox import Mailbox
from inboxlink.testing import FakeMailbox, FakeMailServer

from .helpers import Captured

URL = "fake://alice@example.com"
ME = "alice@example.com"


class CountingServer(FakeMailServer):
    """A fake server that records every operation a client asks of it (round trips)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.operations: list[str] = []

    def _check(self, operation: str, address: str) -> None:
        self.operations.append(operation)
        super()._check(operation, address)


def mail(i: int, *, subject: str | None = None, sender: str | None = None,
         when: dt.datetime | None = None, attachment: bool = False,
         in_reply_to: str | None = None) -> EmailMessage:
    """A small incoming message numbered ``i`` (Message-ID ``<m{i}@example.org>``)."""
    message = EmailMessage()
    message["From"] = sender or f"Sender {i} <s{i}@example.org>"
    message["To"] = ME
    message["Subject"] = subject or f"Message number {i}"
    message["Message-ID"] = f"<m{i}@example.org>"
    if when is not None:
        message["Date"] = format_datetime(when)
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(f"Body of message {i}.\n")
    if attachment:
        message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf",
                               filename="invoice.pdf")
    return message


@attrs.frozen
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


class Cli:
    """``inboxlink …`` against one shared :class:`CountingServer`."""

    def __init__(self, server: CountingServer, capsys: pytest.CaptureFixture[str],
                 monkeypatch: pytest.MonkeyPatch) -> None:
        self.server = server
        self._capsys = capsys
        self._monkeypatch = monkeypatch

    def connect(self, url: str, **options: Any) -> Mailbox:
        if not url.startswith("fake://"):
            return inboxlink.connect(url, **options)  # the real registry's typed errors
        return FakeMailbox.from_url(url, server=self.server)

    def mailbox(self) -> FakeMailbox:
        return FakeMailbox(ME, server=self.server)

    def __call__(self, *argv: str, stdin: str | None = None) -> Result:
        if stdin is not None:
            self._monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        self._capsys.readouterr()
        captured = Captured()
        code = main(list(argv), connect=self.connect, console=captured.console)
        return Result(code, captured.text, self._capsys.readouterr().err)


@pytest.fixture
def data_server() -> CountingServer:
    server = CountingServer()
    server.account(ME)
    return server


@pytest.fixture
def cli(data_server: CountingServer, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> Cli:
    # A wide stderr so an error panel keeps its remedy on one line.
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("INBOXLINK_PASSWORD", raising=False)
    monkeypatch.delenv("INBOXLINK_ACCESS_TOKEN", raising=False)
    return Cli(data_server, capsys, monkeypatch)
