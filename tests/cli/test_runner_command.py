"""``inboxlink sync``: baseline, then each batch to the handler or stdout, tokens kept in
the store between runs, errors on stderr."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from inboxlink import ChangeSet

from .fake_cli import ME, URL, Cli, CountingServer, mail

OTHER = "fake://bob@example.com"


def test_first_run_baselines_then_a_later_run_prints_the_changes(
        cli: Cli, data_server: CountingServer, tmp_path: Path) -> None:
    store = str(tmp_path / "sync.db")
    data_server.deliver(mail(1), to=ME)
    first = cli("sync", URL, OTHER, "--store", store, "--rounds", "1")
    assert first.code == 0, first.err
    assert first.out == ""
    assert "2 baseline(s)" in first.err
    data_server.deliver(mail(2), to=ME)
    second = cli("sync", URL, OTHER, "--store", store, "--rounds", "1")
    assert second.code == 0, second.err
    [line] = second.lines
    batch = json.loads(line)
    assert batch["mailbox"] == URL
    assert [m["message_id"] for m in batch["added"]] == ["<m2@example.org>"]
    assert "1 batch(es), 1 change(s)" in second.err
    third = cli("sync", URL, "--store", store, "--rounds", "1")
    assert third.out == ""


def test_a_handler_gets_the_batches_and_its_failure_replays(
        cli: Cli, data_server: CountingServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    got: list[tuple[str, ChangeSet]] = []
    state = {"fail": 1}

    def on_changes(key: str, batch: ChangeSet) -> None:
        if state["fail"]:
            state["fail"] -= 1
            raise RuntimeError("database down")
        got.append((key, batch))

    module = types.ModuleType("runner_handler_mod")
    module.on_changes = on_changes  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "runner_handler_mod", module)
    store = str(tmp_path / "sync.db")
    args = ("sync", URL, "--store", store, "--handler", "runner_handler_mod:on_changes",
            "--rounds", "1")
    assert cli(*args).code == 0
    data_server.deliver(mail(3), to=ME)
    failed = cli(*args)
    assert "database down" in failed.err
    assert "1 failure(s)" in failed.err
    assert got == []
    assert cli(*args).code == 0
    assert [(k, [s.message_id for s in b.added]) for k, b in got] == [
        (URL, ["<m3@example.org>"])]


@pytest.mark.parametrize("spec", ["nocolon", "no_such_module_7f:fn", "json:no_such_fn"])
def test_a_bad_handler_is_a_typed_error_on_stderr(cli: Cli, tmp_path: Path, spec: str) -> None:
    result = cli("sync", URL, "--store", str(tmp_path / "s.db"), "--handler", spec,
                 "--rounds", "1")
    assert result.code == 1
    assert result.out == ""
    assert "--handler" in result.err
