"""``sync-token``, ``changes`` and ``watch`` on a shared fake data_server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from .fake_cli import ME, URL, Cli, CountingServer, mail

SUMMARY_KEYS = {"id", "folder_id", "message_id", "subject", "from", "to", "cc", "date",
                "received_at", "in_reply_to", "references", "flags", "seen", "flagged",
                "size", "thread_id"}


def _token(cli: Cli, *folder: str) -> str:
    result = cli("sync-token", URL, *folder)
    assert result.code == 0, result.err
    [token] = result.lines
    assert result.err == ""
    return token


def test_changes_prints_each_kind_then_the_token_last(cli: Cli,
                                                      data_server: CountingServer) -> None:
    old = [data_server.deliver(mail(i), to=ME) for i in range(3)]
    token = _token(cli)
    new = data_server.deliver(mail(7, subject="Fresh one"), to=ME)
    mailbox = cli.mailbox()
    mailbox.set_read(old[0])
    mailbox.delete(old[1], permanent=True)

    result = cli("changes", URL, "--since", token)
    assert result.code == 0
    assert result.err == ""
    *changes, next_token = result.lines
    by_id = {line.split("  ")[1]: line for line in changes}
    assert set(by_id) == {new, old[0], old[1]}
    assert by_id[new].startswith("+  ")
    assert by_id[new].endswith("  Fresh one")
    assert "Sender 7 <s7@example.org>" in by_id[new]
    assert by_id[old[0]].startswith("~  ")
    assert by_id[old[0]].endswith("  Message number 0")
    assert by_id[old[1]] == f"-  {old[1]}"
    # the printed token is the library's token: nothing changed since it
    assert mailbox.changes("INBOX", next_token).token == next_token
    assert not mailbox.changes("INBOX", next_token)

    again = cli("changes", URL, "--since", next_token)
    assert again.code == 0
    assert again.lines == [next_token]


def test_a_no_change_call_is_one_changes_operation(cli: Cli, data_server: CountingServer) -> None:
    token = _token(cli)
    data_server.operations.clear()
    result = cli("changes", URL, "--since", token)
    assert result.lines == [token]
    assert data_server.operations.count("changes") == 1
    assert set(data_server.operations) <= {"connect", "folders", "changes"}


def test_changes_json_schema(cli: Cli, data_server: CountingServer) -> None:
    token = _token(cli)
    added = data_server.deliver(mail(1, attachment=True), to=ME)
    result = cli("changes", URL, "inbox", "--since", token, "--json")
    assert result.code == 0
    document = json.loads(result.out)
    assert set(document) == {"folder", "folder_id", "added", "updated", "removed", "token",
                             "more"}
    assert document["folder"] == "INBOX"
    assert document["more"] is False
    assert document["updated"] == []
    assert document["removed"] == []
    [summary] = document["added"]
    assert set(summary) == SUMMARY_KEYS
    assert summary["id"] == added
    assert summary["message_id"] == "<m1@example.org>"
    assert summary["from"] == {"email": "s1@example.org", "name": "Sender 1"}
    assert summary["seen"] is False
    assert summary["flags"] == []
    assert not cli.mailbox().changes("INBOX", document["token"])


def test_limit_leaves_more_for_the_next_call(cli: Cli, data_server: CountingServer) -> None:
    token = _token(cli)
    ids = [data_server.deliver(mail(i), to=ME) for i in range(5)]
    first = cli("changes", URL, "--since", token, "--limit", "2")
    assert first.code == 0
    assert [line.split()[1] for line in first.lines[:-1]] == ids[:2]
    assert "more changes are waiting" in first.err
    second = cli("changes", URL, "--since", first.lines[-1], "--json")
    document = json.loads(second.out)
    assert [s["id"] for s in document["added"]] == ids[2:]
    assert document["more"] is False


@pytest.mark.parametrize("spoil", ["reset", "garbage", "other-folder"])
def test_expired_token_has_its_own_exit_code_and_a_shell_remedy(
        cli: Cli, data_server: CountingServer, spoil: str) -> None:
    token = _token(cli)
    if spoil == "reset":
        data_server.reset_uidvalidity(ME, "INBOX")
    elif spoil == "garbage":
        token = "not-a-token"
    else:
        token = _token(cli, "archive")
    result = cli("changes", URL, "--since", token)
    assert result.code == 3
    assert result.out == ""
    assert "SyncTokenExpired" in result.err
    assert "inboxlink sync-token URL inbox" in result.err
    assert "mailbox.sync_token" not in result.err  # no Python on the command line


def test_errors_go_to_stderr_and_stdout_stays_clean(cli: Cli) -> None:
    result = cli("changes", URL, "No such folder", "--since", "x")
    assert result.code == 1
    assert result.out == ""
    assert "FolderNotFound" in result.err
    assert "remedy:" in result.err
    bad = cli("sync-token", "pop3://alice@mail.example.com")
    assert bad.code == 1
    assert bad.out == ""
    assert "UnsupportedProtocol" in bad.err


def test_usage_errors_exit_2(cli: Cli) -> None:
    for argv in (["changes", URL], ["changes", URL, "--since", "t", "--limit", "0"],
                 ["watch", URL, "--timeout", "-1"]):
        with pytest.raises(SystemExit) as done:
            cli(*argv)
        assert done.value.code == 2


@pytest.fixture
def mail_arrives(data_server: CountingServer) -> Iterator[threading.Event]:
    """Deliver a message every 0.2 s until the test sets the event: whenever the watch
    starts waiting, a change follows."""
    stop = threading.Event()

    def deliver() -> None:
        i = 100
        while not stop.wait(0.2):
            data_server.deliver(mail(i, subject=f"Arrived {i}"), to=ME)
            i += 1

    worker = threading.Thread(target=deliver, daemon=True)
    worker.start()
    yield stop
    stop.set()
    worker.join()


def test_watch_prints_one_line_per_hint(cli: Cli, mail_arrives: threading.Event) -> None:
    result = cli("watch", URL, "--count", "2", "--timeout", "30")
    mail_arrives.set()
    assert result.code == 0
    assert len(result.lines) == 2
    assert all(line.endswith("  INBOX  changed (changed)") for line in result.lines)
    assert "watching INBOX" in result.err


def test_watch_json_with_changes(cli: Cli, data_server: CountingServer,
                                 mail_arrives: threading.Event) -> None:
    result = cli("watch", URL, "--count", "1", "--changes", "--json", "--timeout", "30")
    mail_arrives.set()
    assert result.code == 0
    events = [json.loads(line) for line in result.lines]
    assert events[0]["event"] == "hint"
    assert set(events[0]) == {"event", "folder", "folder_id", "reason", "at"}
    changes = [e for e in events[1:] if e["event"] == "changes"]
    assert changes
    assert changes[-1]["more"] is False
    subjects = [s["subject"] for e in changes for s in e["added"]]
    assert subjects
    assert all(s.startswith("Arrived ") for s in subjects)
    assert set(changes[0]["added"][0]) == SUMMARY_KEYS


def test_watch_ends_quietly_at_the_timeout(cli: Cli) -> None:
    result = cli("watch", URL, "--timeout", "0.3", "--json")
    assert result.code == 0
    assert result.out == ""


def test_watch_changes_rebaselines_an_expired_token(cli: Cli, data_server: CountingServer) -> None:
    stop = threading.Event()

    def rebuild_then_deliver() -> None:
        # Once the watch waits (its first "watch" operation), rebuild the folder, then mail.
        while "watch" not in data_server.operations and not stop.wait(0.05):
            pass
        data_server.reset_uidvalidity(ME, "INBOX")
        i = 200
        while not stop.wait(0.3):
            data_server.deliver(mail(i, subject=f"After {i}"), to=ME)
            i += 1

    worker = threading.Thread(target=rebuild_then_deliver, daemon=True)
    worker.start()
    try:
        result = cli("watch", URL, "--changes", "--count", "2", "--timeout", "30")
    finally:
        stop.set()
        worker.join()
    assert result.code == 0
    assert "Continuing from now" in result.err
    assert any(line.startswith("+  ") and "After 2" in line for line in result.lines)


def test_a_real_process_keeps_stdout_for_data() -> None:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "COLUMNS": "200"}

    def inboxlink(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "inboxlink.cli", *argv], cwd=root, env=env,
                              capture_output=True, text=True, timeout=120, check=False)

    token = inboxlink("sync-token", URL)
    assert token.returncode == 0
    assert token.stderr == ""
    assert len(token.stdout.splitlines()) == 1
    expired = inboxlink("changes", URL, "--since", "not-a-token")
    assert expired.returncode == 3
    assert expired.stdout == ""
    assert "SyncTokenExpired" in expired.stderr
    missing = inboxlink("rm", URL, "INBOX:1:1", "--json")
    assert missing.returncode == 4
    assert json.loads(missing.stdout) == {"deleted": [], "permanent": False,
                                          "missing": ["INBOX:1:1"]}
    assert "MessageNotFound" in missing.stderr


def test_sync_token_json(cli: Cli) -> None:
    result = cli("sync-token", URL, "archive", "--json")
    document = json.loads(result.out)
    assert set(document) == {"folder", "folder_id", "token"}
    assert document["folder"] == "Archive"
    assert not cli.mailbox().changes("Archive", document["token"])
