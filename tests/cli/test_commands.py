"""``folders``, ``ls``, ``show``, ``send`` on a prepared fake server; credential handling."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import pytest

from inboxlink import errors
from inboxlink.cli import main
from inboxlink.mailbox import Mailbox
from inboxlink.testing import FakeMailbox, FakeMailServer

from .helpers import Captured

URL = "fake://alice@example.com"


def _mail(i: int, subject: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Sender {i} <s{i}@example.org>"
    message["To"] = "alice@example.com"
    message["Subject"] = subject or f"Message number {i}"
    message["Message-ID"] = f"<m{i}@example.org>"
    message.set_content(f"Body of message {i}.\n")
    return message


class Recorder:
    """A connect() replacement that hands out FakeMailboxes on one server and records options."""

    def __init__(self, server: FakeMailServer) -> None:
        self.server = server
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, url: str, **options: Any) -> Mailbox:
        self.calls.append((url, dict(options)))
        # The fake takes no credentials; what the CLI passed is checked through self.calls.
        kept = {k: v for k, v in options.items() if k in {"sent_folder"}}
        return FakeMailbox.from_url(url, server=self.server, **kept)


@pytest.fixture
def server() -> FakeMailServer:
    server = FakeMailServer()
    server.account("alice@example.com")
    return server


@pytest.fixture
def connect(server: FakeMailServer, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    monkeypatch.delenv("INBOXLINK_PASSWORD", raising=False)
    monkeypatch.delenv("INBOXLINK_ACCESS_TOKEN", raising=False)
    return Recorder(server)


Run = Callable[..., tuple[int, str]]


@pytest.fixture
def run(connect: Recorder) -> Run:
    def run(*argv: str) -> tuple[int, str]:
        captured = Captured()
        code = main(list(argv), connect=connect, console=captured.console)
        return code, captured.text

    return run


def test_folders_shows_roles_and_provenance(run: Run, server: FakeMailServer) -> None:
    server.add_folder("alice@example.com", "Elementy wysłane")
    code, out = run("folders", URL, "--sent-folder", "Elementy wysłane")
    assert code == 0
    assert re.search(r"Elementy wysłane\s+│ Elementy wysłane\s+│ sent\s+│ override", out)
    assert re.search(r"Drafts\s+│ Drafts\s+│ drafts\s+│ special-use", out)


def test_ls_lists_newest_first_with_limit(run: Run, server: FakeMailServer,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(1, 6):
        server.deliver(_mail(i), to="alice@example.com")
    code, out = run("ls", URL, "--limit", "3")
    assert code == 0
    assert "INBOX (3)" in out
    assert out.index("Message number 5") < out.index("Message number 4")
    assert "Message number 2" not in out
    assert "more messages" not in out
    assert "more messages: raise --limit (now 3)" in capsys.readouterr().err


def test_ls_pages_through_many(run: Run, server: FakeMailServer) -> None:
    for i in range(450):
        server.deliver(_mail(i), to="alice@example.com")
    code, out = run("ls", URL, "inbox", "--limit", "420")
    assert code == 0
    assert "INBOX (420)" in out
    assert "Message number 449" in out
    assert "Message number 30 " in out
    assert "Message number 29 " not in out


def test_show_and_show_raw(run: Run, server: FakeMailServer,
                           capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    message_id = server.deliver(_mail(7, "Hello there"), to="alice@example.com")
    code, out = run("show", URL, message_id)
    assert code == 0
    assert re.search(r"Subject\s+Hello there", out)
    assert re.search(r"Message-ID\s+<m7@example.org>", out)
    assert "Body of message 7." in out
    code, _ = run("show", URL, message_id, "--raw")
    assert code == 0
    raw = capfdbinary.readouterr().out
    assert raw == server.messages("alice@example.com")[0]


def test_show_unknown_id_prints_typed_error(run: Run,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run("show", URL, "INBOX:1:99")
    assert code == 1
    assert out == ""  # the error is not data: stderr only
    err = capsys.readouterr().err
    assert "MessageNotFound" in err
    assert "remedy:" in err
    assert "Traceback" not in err


def test_send_reads_body_file_and_reports_sent_copy(run: Run, server: FakeMailServer,
                                                    tmp_path: Any) -> None:
    body = tmp_path / "body.txt"
    body.write_text("Thanks for the call.\n", encoding="utf-8")
    code, out = run("send", URL, "--to", "bob@example.org", "--to", "carol@example.org",
                    "--bcc", "audit@example.com", "--subject", "Follow-up",
                    "--body-file", str(body))
    assert code == 0
    assert "sent copy: appended into Sent" in out
    [sent] = server.sent
    assert set(sent.recipients) == {"bob@example.org", "carol@example.org", "audit@example.com"}
    assert b"audit@example.com" not in sent.raw  # Bcc never in the headers
    assert sent.email.get_content().strip() == "Thanks for the call."
    assert len(server.messages("alice@example.com", "Sent")) == 1


def test_send_failure_shows_remedy_and_exits_nonzero(
        run: Run, server: FakeMailServer, capsys: pytest.CaptureFixture[str]) -> None:
    server.fail_next("send", errors.SendAsDenied(provider="fake", code="550 5.7.60"))
    code, out = run("send", URL, "--to", "bob@example.org", "--subject", "x")
    assert code == 1
    assert out == ""
    err = capsys.readouterr().err
    assert "SendAsDenied" in err
    assert "550 5.7.60" in err
    assert server.sent == []


def test_header_injection_refused(run: Run, server: FakeMailServer,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run("send", URL, "--to", "bob@example.org", "--subject", "hi\r\nBcc: x@evil.test")
    assert code == 1
    assert "InvalidMessage" in capsys.readouterr().err
    assert server.sent == []


def test_password_from_environment_is_passed_never_printed(
        run: Run, connect: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOXLINK_PASSWORD", "s3cret-Passw0rd")
    code, out = run("folders", "imaps://alice@mail.example.com", "--smtp",
                    "smtp://mail.example.com:587")
    assert code == 0
    url, options = connect.calls[-1]
    assert url == "imaps://alice@mail.example.com"
    assert options["password"] == "s3cret-Passw0rd"
    assert options["smtp"] == "smtp://mail.example.com:587"
    assert "s3cret" not in out


def test_password_file_and_token_stdin(run: Run, connect: Recorder, tmp_path: Any,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "pw"
    secret.write_text("from-file\n", encoding="utf-8")
    run("folders", "imaps://alice@mail.example.com", "--password-file", str(secret))
    assert connect.calls[-1][1]["password"] == "from-file"
    monkeypatch.setattr("sys.stdin", io.StringIO("tok-123\n"))
    run("folders", "graph://alice@contoso.com", "--token-file", "-")
    assert connect.calls[-1][1]["access_token"] == "tok-123"


def test_prompt_when_interactive(run: Run, connect: Recorder,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def fake_getpass(prompt: str) -> str:
        asked.append(prompt)
        return "typed-secret"

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    monkeypatch.setattr("sys.stdin", Tty())
    code, out = run("folders", "imaps://alice:inline@mail.example.com")
    assert code == 0
    # a password in the URL is used (and the prompt skipped); nothing shows it
    assert connect.calls[-1] == ("imaps://alice@mail.example.com", {"password": "inline"})
    assert "inline" not in out
    assert asked == []
    run("folders", "imaps://alice@mail.example.com")
    assert connect.calls[-1][1]["password"] == "typed-secret"
    assert asked == ["Password for imaps://alice@mail.example.com: "]
    run("folders", "imaps://alice@mail.example.com", "--no-prompt")
    assert "password" not in connect.calls[-1][1]


def test_connect_error_is_typed(captured: Captured, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # a wide stderr keeps the remedy on one line
    code = main(["folders", "pop3://alice@mail.example.com"], console=captured.console)
    assert code == 1
    assert captured.text == ""
    err = capsys.readouterr().err
    assert "UnsupportedProtocol" in err
    assert "POP3" in err


def test_version_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("inboxlink 0.")
    with pytest.raises(SystemExit) as done:
        main(["ls"])
    assert done.value.code == 2
