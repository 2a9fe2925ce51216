"""The documentation builds strictly, and its error reference is generated from the code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from inboxlink import errors
from inboxlink.cli.reference import LoadedTables, load_tables, render_markdown
from inboxlink.translate import ErrorTable, Rule

ROOT = Path(__file__).resolve().parents[2]


def test_docs_build_strict(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=180, env=env, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    page = (tmp_path / "site" / "errors" / "index.html").read_text(encoding="utf-8")
    for cls in errors.all_error_classes():
        assert f'id="{cls.__name__.lower()}"' in page, cls.__name__
    assert errors.RestApiNotEnabled.default_remedy.split(":")[0] in page


def test_reference_lists_every_class_with_its_remedy() -> None:
    text = render_markdown(loaded=LoadedTables((), ("imap",)))
    for cls in errors.all_error_classes():
        assert f"## {cls.__name__}\n" in text
        assert cls.default_remedy in text
    assert "`InboxLinkError › PermissionDenied › SendAsDenied`" in text
    assert "Also catchable as: `LookupError`" in text
    assert "Extra fields: `consent_url`" in text
    assert "Built-in adapters not in this build: `imap`" in text


def test_reference_shows_table_rules_under_their_class() -> None:
    table = ErrorTable("acme", (
        Rule(errors.RestApiNotEnabled, code="MailboxNotEnabledForRESTAPI", status=(400, 404),
             source="graph-rest-not-enabled"),
        Rule(errors.InvalidCredentials, pattern=r"AUTHENTICATIONFAILED|bad \w+",
             remedy="Use the app password."),
    ), fallback=errors.TransientError)
    text = render_markdown(loaded=LoadedTables((table,), ()))
    rest = text.split("## RestApiNotEnabled\n")[1].split("\n## ")[0]
    assert ("| acme | <code>MailboxNotEnabledForRESTAPI</code> |  | 400, 404 | "
            "graph-rest-not-enabled |  |") in rest
    creds = text.split("## InvalidCredentials\n")[1].split("\n## ")[0]
    # a pipe inside a pattern must not split the table cell
    assert "<code>AUTHENTICATIONFAILED&#124;bad \\w+</code>" in creds
    assert "Use the app password." in creds
    assert "`acme` → `TransientError`" in text


def test_load_tables_tolerates_absent_adapters_only() -> None:
    loaded = load_tables(("no_such_adapter_xyz",))
    assert loaded.absent == ("no_such_adapter_xyz",)
