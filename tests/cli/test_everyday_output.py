"""``folders``, ``ls``, ``show``, ``send``: data on stdout, errors on stderr, ``--json``
schemas, the URL checked before any prompt, remedies in command-line terms."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from inboxlink import errors

from .fake_cli import ME, URL, Cli, CountingServer, mail

ROOT = Path(__file__).resolve().parents[2]

MESSAGE_KEYS = ["id", "folder_id", "message_id", "subject", "from", "to", "cc", "date",
                "received_at", "in_reply_to", "references", "flags", "seen", "flagged",
                "size", "thread_id"]


def test_show_raw_redirected_to_a_file_never_holds_the_error(tmp_path: Path) -> None:
    """The real command in a real shell redirection: the file stays empty, stderr explains."""
    target = tmp_path / "message.eml"
    with target.open("wb") as out:
        done = subprocess.run(
            [sys.executable, "-m", "inboxlink.cli", "show", "fake://alice@example.com",
             "INBOX:1:99", "--raw"],
            cwd=ROOT, stdout=out, stderr=subprocess.PIPE, timeout=60, check=False,
            env={**os.environ, "COLUMNS": "200"},
        )
    assert done.returncode == 1
    assert target.read_bytes() == b""
    assert b"MessageNotFound" in done.stderr
    assert b"remedy:" in done.stderr


def test_folders_json_schema(cli: Cli) -> None:
    result = cli("folders", URL, "--json")
    assert result.code == 0, result.err
    assert result.err == ""
    [line] = result.lines
    document = json.loads(line)
    assert list(document) == ["folders"]
    inbox = next(f for f in document["folders"] if f["role"] == "inbox")
    assert list(inbox) == ["id", "path", "name", "role", "role_source", "parent_id", "total",
                           "unread"]
    assert inbox["path"] == "INBOX"
    sent = next(f for f in document["folders"] if f["role"] == "sent")
    assert sent["role_source"] == "special-use"


def test_ls_json_schema_and_more(cli: Cli, data_server: CountingServer) -> None:
    for i in range(1, 4):
        data_server.deliver(mail(i), to=ME)
    result = cli("ls", URL, "inbox", "--limit", "2", "--json")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert list(document) == ["folder", "folder_id", "messages", "more"]
    assert document["folder"] == "INBOX"
    assert document["more"] is True
    assert [m["subject"] for m in document["messages"]] == ["Message number 3",
                                                             "Message number 2"]
    assert list(document["messages"][0]) == MESSAGE_KEYS
    assert document["messages"][0]["from"] == {"email": "s3@example.org", "name": "Sender 3"}
    # "more" says it in the document; nothing else is printed anywhere
    assert result.err == ""


def test_show_json_schema(cli: Cli, data_server: CountingServer) -> None:
    message_id = data_server.deliver(mail(5, attachment=True), to=ME)
    result = cli("show", URL, message_id, "--json")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert list(document) == [*MESSAGE_KEYS, "text", "html", "attachments"]
    assert document["id"] == message_id
    assert document["message_id"] == "<m5@example.org>"
    assert document["text"] == "Body of message 5.\n"
    assert document["attachments"] == [{"filename": "invoice.pdf",
                                        "content_type": "application/pdf", "size": 8,
                                        "inline": False}]


def test_show_raw_and_json_are_exclusive(cli: Cli) -> None:
    with pytest.raises(SystemExit) as done:
        cli("show", URL, "INBOX:1:1", "--raw", "--json")
    assert done.value.code == 2


def test_send_json(cli: Cli, data_server: CountingServer) -> None:
    result = cli("send", URL, "--to", "bob@example.org", "--subject", "Hi", "--json")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert list(document) == ["message_id", "sent_copy", "sent_folder_id", "refused",
                              "warning"]
    assert document["sent_copy"] == "appended"
    assert document["warning"] is None
    assert len(data_server.sent) == 1


def test_folders_error_goes_to_stderr_with_empty_stdout(cli: Cli) -> None:
    cli.mailbox().fail_next("folders", errors.PermissionDenied(provider="fake", code="NOPERM"))
    result = cli("folders", URL, "--json")
    assert result.code == 1
    assert result.out == ""
    assert "PermissionDenied" in result.err
    assert "NOPERM" in result.err


@pytest.mark.parametrize("url", ["imaps://", "imaps://alice@", "graph://", "ews://alice@:x"])
def test_a_url_without_host_fails_before_any_prompt(cli: Cli, monkeypatch: pytest.MonkeyPatch,
                                                    url: str) -> None:
    asked: list[str] = []

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("getpass.getpass", lambda prompt: asked.append(prompt) or "pw")
    monkeypatch.setattr("sys.stdin", Tty())
    result = cli("ls", url)
    assert result.code == 1
    assert asked == []
    assert "ConfigurationError" in result.err
    assert result.out == ""


def test_a_url_without_scheme_fails_at_once(cli: Cli) -> None:
    result = cli("folders", "mail.example.com")
    assert result.code == 1
    assert "no scheme" in result.err


def test_remedies_name_command_line_options(cli: Cli) -> None:
    cli.mailbox().fail_next("folders", errors.InvalidCredentials(
        provider="graph", code="InvalidAuthenticationToken",
        remedy="Get a new token (a credential= refreshes itself), or pass access_token=."))
    result = cli("folders", URL)
    assert result.code == 1
    assert "credential=" not in result.err
    assert "access_token=" not in result.err
    assert "--token-file PATH, or sign in with 'inboxlink login'" in result.err
    assert "--token-file PATH (or INBOXLINK_ACCESS_TOKEN)" in result.err


def test_every_known_remedy_reads_as_command_line_terms() -> None:
    """Through the one mapping, no remedy of any class or table names a library keyword
    argument the command line has an option for."""
    import re

    from inboxlink.cli.reference import load_tables
    from inboxlink.cli.remedies import for_the_command_line

    remedies = [c.default_remedy for c in errors.all_error_classes()]
    remedies += [r.remedy for t in load_tables().tables for r in t.rules if r.remedy]
    library_words = re.compile(r"\b(access_token|credentials?|password|ssl_context|verify_tls|"
                               r"username|sent_folder|smtp|url)=|folders\(\)|list_messages\(\)")
    leftovers = {for_the_command_line(r) for r in remedies
                 if library_words.search(for_the_command_line(r))}
    assert leftovers == set()
    assert any("--insecure" in for_the_command_line(r) for r in remedies)


def test_an_empty_fake_inbox_says_why_on_stderr(cli: Cli) -> None:
    result = cli("ls", URL)
    assert result.code == 0
    assert "INBOX (0)" in result.out
    assert "start empty in each process" in result.err
    assert "start empty" not in result.out
