"""Every Python sample on the sync, actions, watch and recipes pages runs against the fake,
and ``cli.md`` shows only commands the parser accepts and every exit code there is."""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from inboxlink.cli import build_parser
from inboxlink.cli.data_output import EXIT_CODES, folder_json, summary_json
from inboxlink.models import Folder, MessageSummary
from inboxlink.testing import FakeMailServer

DOCS = Path(__file__).resolve().parents[2] / "docs"
# A fenced block at the start of a line: ```lang [attributes] … ```
_FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
#: languages a page may show without running; anything Python-like must be `python`
_NOT_RUN = {"console", "json", "text"}
PAGES = ("sync.md", "actions.md", "watch.md", "recipes.md")


def blocks(page: str) -> list[tuple[str, str]]:
    """``(language, code)`` of each fenced block of a page."""
    text = (DOCS / page).read_text("utf-8")
    return [(m.group(1), m.group(2)) for m in _FENCE.finditer(text)]


def run_page(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Run every python block of the page, top to bottom, in one namespace."""
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": f"docs_{page[:-3]}"}
    code = [text for lang, text in blocks(page) if lang == "python"]
    assert len(code) >= 3, page
    for number, text in enumerate(code, start=1):
        exec(compile(text, f"{page}[{number}]", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("page", PAGES)
def test_pages_show_python_only_as_tested_python(page: str) -> None:
    languages = {lang for lang, _ in blocks(page)}
    assert languages <= {"python"} | _NOT_RUN, languages


def test_sync_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ns = run_page("sync.md", tmp_path, monkeypatch)
    # the loop's state survived the expired token and reflects the server exactly
    assert sorted(ns["inbox"].values()) == ["Order #2", "Order #3"]
    assert ns["inbox"] == {s.id: s.subject for s in ns["mailbox"].iter_messages("INBOX")}
    stored = (tmp_path / "inbox-sync.json").read_text()
    assert not ns["mailbox"].changes("INBOX", ns["json"].loads(stored)["token"])


def test_actions_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ns = run_page("actions.md", tmp_path, monkeypatch)
    server: FakeMailServer = ns["server"]
    assert len(server.messages("alice@example.com", "Archive")) == 1
    assert len(server.messages("alice@example.com", "Junk")) == 1


def test_watch_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ns = run_page("watch.md", tmp_path, monkeypatch)
    assert ns["arrived"] == ["Ping 1", "Ping 2", "Ping 3"]
    assert not ns["mailbox"].changes("INBOX", ns["token"])


def test_recipes_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ns = run_page("recipes.md", tmp_path, monkeypatch)
    assert (tmp_path / "archive.mbox").exists()
    assert ns["result"].message_id == ns["answer"].message_id


def test_archive_recipe_moves_only_old_mail(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    ns = run_page("recipes.md", tmp_path, monkeypatch)
    mailbox, server = ns["mailbox"], ns["server"]
    fresh = mailbox.deliver(ns["incoming"](10, "Fresh"))
    old = mailbox.deliver(ns["incoming"](11, "Old"))
    # Age one message on the fake server: arrival times are not settable through the API.
    state = server._folder("alice@example.com", "INBOX")
    uid = int(old.rsplit(":", 1)[1])
    state.messages[uid].received_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=31)
    assert ns["archive_older_than"](mailbox, days=30) == 1
    left = [s.id for s in mailbox.list_messages("INBOX").items]
    assert fresh in left
    assert old not in left
    [archived] = [s for s in mailbox.list_messages("Archive").items if s.subject == "Old"]
    assert archived.message_id == "<r11@example.org>"


def _shown_commands() -> list[list[str]]:
    """Each ``$ inboxlink …`` of cli.md as argv (continuations joined, pipes split)."""
    commands = []
    for lang, block in blocks("cli.md"):
        if lang != "console":
            continue
        for line in block.replace("\\\n", " ").splitlines():
            if not line.startswith("$ inboxlink"):
                continue
            words = shlex.split(line[2:], comments=True)
            segment: list[str] = []
            redirect = False
            for word in [*words, "|"]:
                if word == "|":
                    if segment and segment[0] == "inboxlink":
                        commands.append(segment[1:])
                    segment = []
                elif word in {">", "2>", "<"}:
                    redirect = True           # the next word is a file, not an argument
                elif redirect:
                    redirect = False
                else:
                    segment.append(word)
    return commands


def test_cli_page_shows_commands_the_parser_accepts() -> None:
    shown = _shown_commands()
    assert {argv[0] for argv in shown} >= {"sync-token", "changes", "watch", "search", "mark",
                                           "mv", "rm"}
    parser = build_parser()
    for argv in shown:
        parser.parse_args(argv)  # exits (fails the test) on a wrong example


def test_cli_page_lists_every_exit_code() -> None:
    text = (DOCS / "cli.md").read_text("utf-8")
    for code, meaning in EXIT_CODES.items():
        assert f"| {code} | {meaning} |" in text, code


def test_cli_page_message_schema_is_what_json_prints() -> None:
    message, folder = [json.loads(text) for lang, text in blocks("cli.md") if lang == "json"]
    summary = MessageSummary(id="INBOX:1:1", folder_id="INBOX")
    assert list(message) == list(summary_json(summary))
    assert list(folder) == list(folder_json(Folder(id="Sent", name="Sent")))
