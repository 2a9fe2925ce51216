"""``search``, ``mark``, ``mv`` and ``rm`` on a shared fake server."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from inboxlink import SearchQuery

from .fake_cli import ME, URL, Cli, CountingServer, mail

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def ids(data_server: CountingServer) -> list[str]:
    """Five messages on five days; #1 from the boss with an invoice, #3 unread-flagged."""
    delivered = [
        data_server.deliver(mail(0, when=NOW - dt.timedelta(days=40)), to=ME, flags={"\\Seen"}),
        data_server.deliver(mail(1, sender="The Boss <boss@corp.example>", subject="Invoice 7",
                                 attachment=True, when=NOW - dt.timedelta(days=10)), to=ME),
        data_server.deliver(mail(2, when=NOW - dt.timedelta(days=5)), to=ME, flags={"\\Seen"}),
        data_server.deliver(mail(3, when=NOW - dt.timedelta(days=2)), to=ME,
                            flags={"\\Flagged"}),
        data_server.deliver(mail(4, subject="Re: Invoice 7", in_reply_to="<m1@example.org>",
                                 when=NOW - dt.timedelta(days=1)), to=ME, flags={"\\Seen"}),
    ]
    return delivered


def _flags(cli: Cli, message_id: str) -> frozenset[str]:
    return cli.mailbox().fetch(message_id).flags


# Each option row: the CLI options and the SearchQuery they must mean.
SEARCHES = [
    (["--from", "BOSS"], SearchQuery(from_="BOSS")),
    (["--subject", "invoice"], SearchQuery(subject="invoice")),
    (["--to", "alice@"], SearchQuery(to="alice@")),
    (["--text", "body of message 2"], SearchQuery(text="body of message 2")),
    (["--unread"], SearchQuery(unread=True)),
    (["--read"], SearchQuery(unread=False)),
    (["--flagged"], SearchQuery(flagged=True)),
    (["--unflagged", "--read"], SearchQuery(flagged=False, unread=False)),
    (["--has-attachments"], SearchQuery(has_attachments=True)),
    (["--no-attachments", "--subject", "invoice"],
     SearchQuery(has_attachments=False, subject="invoice")),
    (["--message-id", "m4@example.org"], SearchQuery(message_id="m4@example.org")),
]


@pytest.mark.parametrize(("options", "query"), SEARCHES)
def test_search_options_mean_the_query(cli: Cli, ids: list[str], options: list[str],
                                       query: SearchQuery) -> None:
    result = cli("search", URL, *options, "--ids")
    assert result.code == 0, result.err
    expected = [s.id for s in cli.mailbox().search("INBOX", query).items]
    assert result.lines == expected
    assert expected  # every row finds something, so a wrong mapping cannot pass
    assert result.err == ""


def test_search_by_date_and_sender(cli: Cli, ids: list[str]) -> None:
    # The fake stores each message's arrival time (now), which --since/--before compare with.
    since = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).date().isoformat()
    result = cli("search", URL, "--since", since, "--from", "boss", "--ids")
    assert result.lines == [ids[1]]
    nothing = cli("search", URL, "--before", "2000-01-01", "--ids")
    assert nothing.code == 0
    assert nothing.lines == []


def test_search_json_schema_and_table(cli: Cli, ids: list[str]) -> None:
    result = cli("search", URL, "inbox", "--subject", "invoice", "--json")
    document = json.loads(result.out)
    assert set(document) == {"folder", "folder_id", "query", "messages", "more"}
    assert document["query"] == {"subject": "invoice"}
    assert [m["id"] for m in document["messages"]] == [ids[4], ids[1]]  # newest first
    assert document["messages"][1]["from"] == {"email": "boss@corp.example",
                                               "name": "The Boss"}
    assert document["more"] is False
    table = cli("search", URL, "--subject", "invoice")
    assert "INBOX: 2 found" in table.out
    assert table.out.index("Re: Invoice 7") < table.out.index("│ Invoice 7")


def test_search_pages_up_to_the_limit(cli: Cli, data_server: CountingServer) -> None:
    for i in range(260):
        data_server.deliver(mail(i, subject=f"Batch {i}"), to=ME)
    data_server.operations.clear()
    result = cli("search", URL, "--subject", "batch", "--limit", "230", "--json")
    document = json.loads(result.out)
    assert len(document["messages"]) == 230
    assert document["messages"][0]["subject"] == "Batch 259"
    assert document["more"] is True
    assert "more messages match" in result.err
    assert data_server.operations.count("search") == 2  # pages of 200 + 30


def test_search_bad_date_is_a_usage_error(cli: Cli, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli("search", URL, "--since", "last tuesday")
    assert done.value.code == 2
    assert "is not a date" in capsys.readouterr().err


def test_mark_read_and_flagged_in_one_command(cli: Cli, ids: list[str],
                                              data_server: CountingServer) -> None:
    data_server.operations.clear()
    result = cli("mark", URL, ids[1], ids[3], "--read", "--flagged")
    assert result.code == 0
    assert result.out == ""
    assert "marked 2 message(s) read, flagged" in result.err
    assert {"\\Seen", "\\Flagged"} <= _flags(cli, ids[1])
    assert {"\\Seen", "\\Flagged"} <= _flags(cli, ids[3])
    assert data_server.operations.count("set_flags") == 2  # one call per flag, all ids
    cli("mark", URL, ids[1], "--unread", "--unflagged")
    assert not {"\\Seen", "\\Flagged"} & _flags(cli, ids[1])


def test_mark_with_a_missing_id_does_the_others_and_exits_4(cli: Cli, ids: list[str]) -> None:
    gone = "INBOX:1:999"
    result = cli("mark", URL, ids[1], gone, "--read", "--json")
    assert result.code == 4
    assert json.loads(result.out) == {"marked": [ids[1]], "set": {"read": True},
                                      "missing": [gone]}
    assert "MessageNotFound" in result.err
    assert repr(gone) in result.err
    assert "\\Seen" in _flags(cli, ids[1])


def test_mark_needs_something_to_do(cli: Cli, ids: list[str]) -> None:
    result = cli("mark", URL, ids[1])
    assert result.code == 1
    assert result.out == ""
    assert "--read, --unread, --flagged or --unflagged" in result.err


def test_mv_prints_old_and_new_ids(cli: Cli, ids: list[str], data_server: CountingServer) -> None:
    result = cli("mv", URL, ids[0], ids[2], "archive")
    assert result.code == 0
    moved = dict(line.split("  ") for line in result.lines)
    assert set(moved) == {ids[0], ids[2]}
    assert all(new.startswith("Archive:") for new in moved.values())
    assert len(data_server.messages(ME, "Archive")) == 2
    assert "moved 2 message(s) to Archive" in result.err
    # the new ids are real: they fetch
    assert cli.mailbox().fetch(moved[ids[0]]).subject == "Message number 0"


def test_mv_partial_reports_what_moved(cli: Cli, ids: list[str],
                                       data_server: CountingServer) -> None:
    data_server.operations.clear()
    result = cli("mv", URL, ids[1], "INBOX:1:999", "Junk", "--json")
    assert result.code == 4
    document = json.loads(result.out)
    assert document["folder"] == "Junk"
    assert list(document["moved"]) == [ids[1]]
    assert document["missing"] == ["INBOX:1:999"]
    assert data_server.operations.count("move") == 1  # never retried
    assert len(data_server.messages(ME, "Junk")) == 1


def test_rm_to_trash_then_for_good(cli: Cli, ids: list[str], data_server: CountingServer) -> None:
    result = cli("rm", URL, ids[0], "--json")
    assert result.code == 0
    assert json.loads(result.out) == {"deleted": [ids[0]], "permanent": False, "missing": []}
    assert len(data_server.messages(ME, "Trash")) == 1
    [trashed] = cli.mailbox().list_messages("Trash").items
    gone = cli("rm", URL, trashed.id, ids[1], "--permanent")
    assert gone.code == 0
    assert "deleted 2 message(s) for good" in gone.err
    assert data_server.messages(ME, "Trash") == []
    assert len(data_server.messages(ME)) == 3


def test_ids_from_stdin_pipe_search_into_mark(cli: Cli, ids: list[str]) -> None:
    found = cli("search", URL, "--unread", "--ids")
    assert found.lines == [ids[3], ids[1]]
    result = cli("mark", URL, "-", "--read", stdin=found.out)
    assert result.code == 0
    assert cli("search", URL, "--unread", "--ids").lines == []


def test_action_errors_go_to_stderr(cli: Cli, ids: list[str]) -> None:
    result = cli("mv", URL, ids[0], "No such folder")
    assert result.code == 1
    assert result.out == ""
    assert "FolderNotFound" in result.err
    assert len(cli.mailbox().list_messages("INBOX", limit=10).items) == 5


def test_brackets_in_subjects_and_folders_are_shown_as_sent(cli: Cli,
                                                          data_server: CountingServer) -> None:
    data_server.add_folder(ME, "[Work]")
    data_server.deliver(mail(1, subject="[URGENT] [bold]call me[/bold]"), to=ME)
    table = cli("search", URL, "--subject", "urgent")
    assert "[URGENT] [bold]call me[/bold]" in table.out
    [found] = cli("search", URL, "--ids").lines
    moved = cli("mv", URL, found, "[Work]")
    assert moved.code == 0
    assert "moved 1 message(s) to [Work]" in moved.err
