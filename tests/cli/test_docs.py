"""The documentation builds strictly, and its error reference is generated from the code."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

from inboxlink import errors
from inboxlink.cli.reference import LoadedTables, load_tables, render_markdown
from inboxlink.translate import ErrorTable, Rule

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once with --strict (any warning fails the build)."""
    target = tmp_path_factory.mktemp("site") / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(target)],
        cwd=ROOT, capture_output=True, text=True, timeout=180, env=env, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return target


def test_docs_build_strict(site: Path) -> None:
    page = (site / "errors" / "index.html").read_text(encoding="utf-8")
    for cls in errors.all_error_classes():
        assert f'id="{cls.__name__.lower()}"' in page, cls.__name__
    assert errors.RestApiNotEnabled.default_remedy.split(":")[0] in page
    for label in ("imap", "smtp", "tls", "graph", "gmail", "ews"):
        assert f'id="raw-codes-{label}"' in page, label


def test_no_sphinx_role_is_shown_as_text(site: Path) -> None:
    """Docstrings use Markdown, so no page shows a literal ``:class:`` (or another role)."""
    role = re.compile(r":(class|meth|attr|func|data|mod|exc|obj):")
    shown = {str(p.relative_to(site)): sorted(set(role.findall(p.read_text("utf-8"))))
             for p in site.rglob("*.html") if role.search(p.read_text("utf-8"))}
    assert shown == {}


def test_api_reference_documents_primitives_and_prepared_message(site: Path) -> None:
    page = (site / "api" / "index.html").read_text(encoding="utf-8")
    for target in ("inboxlink.mailbox.BaseMailbox._list_page",
                   "inboxlink.mailbox_sync.SyncMixin._changes",
                   "inboxlink.mailbox_sync.SyncMixin._wait_for_change",
                   "inboxlink.mailbox_actions.ActionMixin._move",
                   "inboxlink.mailbox_actions.ActionMixin._search",
                   "inboxlink.mime.PreparedMessage"):
        assert f'id="{target}"' in page, target


def test_changelog_is_generated_into_the_navigation(site: Path) -> None:
    page = (site / "changelog" / "index.html").read_text(encoding="utf-8")
    first_entry = (ROOT / "CHANGELOG.md").read_text("utf-8").split("## [Unreleased]")[1]
    first_bullet = first_entry.split("\n- ")[1].split("`")[0].strip()
    assert first_bullet in page
    assert 'href="changelog/"' in (site / "index.html").read_text("utf-8")


def test_imap_page_error_tables_are_generated(site: Path) -> None:
    page = (site / "imap" / "index.html").read_text(encoding="utf-8")
    assert "inboxlink:error-table" not in page
    # Every table imported so far is loaded (other tests import other adapters): pick IMAP's.
    imap = next(t for t in load_tables(("imap",)).tables if t.provider == "imap")
    # every rule's catalogue id is on the page, the SMTP ones under the smtp table
    for rule in imap.rules:
        if rule.source:
            assert rule.source in page, rule.source
    smtp = page.split("<strong>smtp</strong>")[1].split("<strong>tls</strong>")[0]
    assert "status 530/534/535" in smtp
    assert "status 530/534/535" not in page.split("<strong>smtp</strong>")[0]


def test_reference_lists_every_class_compactly() -> None:
    text = render_markdown(loaded=LoadedTables((), ("imap",)))
    for cls in errors.all_error_classes():
        entry = text.split(f"## {cls.__name__}\n")[1].split("\n## ")[0]
        assert f"- **Remedy:** {cls.default_remedy}" in entry
        assert f"- **Cause:** {cls.default_message}" in entry
        assert "- **Retryable:** " in entry
        assert '??? quote "What to tell your user"' in entry
        assert cls.default_remedy in entry.split("What to tell your user")[1]
    assert "`InboxLinkError › PermissionDenied › SendAsDenied`" in text
    assert "- **Also catchable as:** `LookupError`" in text
    assert "- **Extra fields:** `consent_url`" in text
    assert "Built-in adapters not in this build: `imap`" in text


def test_reference_tables_merge_rows_and_never_repeat_a_remedy() -> None:
    table = ErrorTable("acme", (
        Rule(errors.RestApiNotEnabled, code="MailboxNotEnabledForRESTAPI", status=(400, 404),
             source="acme.rest-not-enabled"),
        Rule(errors.InvalidCredentials, pattern=r"AUTHENTICATIONFAILED|bad \w+",
             remedy="Use the app password.", source="acme.bad_password"),
        Rule(errors.InvalidCredentials, code="AADSTS50126", remedy="Use the app password."),
        Rule(errors.AuthError, status=(530, 535), source="smtp.auth_failed",
             remedy="Use the app password."),
    ), fallback=errors.TransientError)
    text = render_markdown(loaded=LoadedTables((table,), ()))
    acme = text.split("## Raw codes: acme {#raw-codes-acme}\n")[1].split("\n## ")[0]
    rest = next(line for line in acme.splitlines() if "(#restapinotenabled)" in line)
    # break points between the words of a long code or class name, never inside a word
    assert rest == ("| status 400/404 · code <code>Mailbox<wbr>Not<wbr>Enabled<wbr>For<wbr>"
                    "RESTAPI</code><br><small>acme.rest-not-enabled</small> | "
                    "[Rest<wbr>Api<wbr>Not<wbr>Enabled](#restapinotenabled) | "
                    "the class's remedy ([RestApiNotEnabled](#restapinotenabled)) |")
    # two signals, one class, one remedy: one row; a pipe inside a pattern stays in its cell
    [creds] = [line for line in acme.splitlines() if "(#invalidcredentials)" in line]
    assert "<code>AUTHENTICATIONFAILED&#124;<wbr>bad \\w+</code><br>code <code>AADSTS50126</code>" in creds
    assert creds.endswith("| Use the app password. |")
    # an SMTP rule of the table is labelled smtp, and its remedy is not repeated
    smtp = text.split("## Raw codes: smtp {#raw-codes-smtp}\n")[1].split("\n## ")[0]
    assert "status 530/535" in smtp
    assert "status 530/535" not in acme
    assert "same remedy as under [acme](#raw-codes-acme) above" in smtp
    assert text.count("Use the app password.") == 1
    assert "`acme` → `TransientError`" in text


def test_real_reference_repeats_no_remedy() -> None:
    text = render_markdown()
    rows = [line for line in text.splitlines()
            if line.startswith("| ") and "raw signal" not in line]
    remedies = [row.rstrip(" |").rsplit(" | ", 1)[1] for row in rows]
    written = [r for r in remedies if not r.startswith(("same remedy", "the class"))]
    assert len(written) == len(set(written))
    # Signals that lead to the same class and remedy share a row: fewer rows than rules.
    rules = sum(len(table.rules) for table in load_tables().tables)
    assert len(rows) < 0.8 * rules


def test_load_tables_tolerates_absent_adapters_only() -> None:
    loaded = load_tables(("no_such_adapter_xyz",))
    assert loaded.absent == ("no_such_adapter_xyz",)


def test_home_page_example_runs_and_is_ten_lines(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The home page's sample, run as written against the fake (connect() is pointed at a
    fake account holding one message), replies to that message with a copy in Sent."""
    import inboxlink
    from inboxlink.testing import FakeMailbox, FakeMailServer

    text = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    [code] = re.findall(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert len(code.strip().splitlines()) == 10
    server = FakeMailServer()
    server.account("alice@example.com")
    incoming = EmailMessage()
    incoming["From"] = "Bob <bob@example.org>"
    incoming["To"] = "alice@example.com"
    incoming["Subject"] = "Lunch?"
    incoming["Message-ID"] = "<lunch@example.org>"
    incoming.set_content("Tomorrow at noon?\n")
    server.deliver(incoming, to="alice@example.com")
    seen: list[tuple[str, dict[str, object]]] = []

    def connect(url: str, **options: object) -> FakeMailbox:
        seen.append((url, options))
        return FakeMailbox("alice@example.com", server=server)

    monkeypatch.setattr(inboxlink, "connect", connect)
    exec(compile(code, "index.md", "exec"), {"__name__": "docs_index"})
    assert seen == [("imaps://alice@mail.example.com", {"password": "app-password"})]
    assert "Lunch?" in capsys.readouterr().out
    [reply] = server.sent
    assert reply.email["In-Reply-To"] == "<lunch@example.org>"
    assert reply.email["Subject"] == "Re: Lunch?"
    assert len(server.messages("alice@example.com", "Sent")) == 1
