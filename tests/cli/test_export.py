"""``inboxlink export URL FOLDER out.mbox``: mboxrd, message by message, resumable."""

from __future__ import annotations

import json
import mailbox
import re
from email.message import EmailMessage
from pathlib import Path
from typing import IO, Any

import pytest

from inboxlink import errors
from inboxlink.cli import main
from inboxlink.cli.export_command import mboxrd_quote, read_index
from inboxlink.mailbox import Mailbox
from inboxlink.testing import FakeMailbox

from .fake_cli import ME, URL, Cli, CountingServer, mail
from .helpers import Captured


def _tricky(i: int) -> EmailMessage:
    """A message whose body has lines an mbox must quote."""
    message = mail(i)
    message.set_content("Hello,\nFrom here on it is tricky.\n>From quoted already.\n"
                        ">>From twice.\nFrom\n")
    return message


def _unquote(body: bytes) -> bytes:
    """What an mboxrd reader does: one '>' off every '>+From ' line."""
    return re.sub(rb"^>(>*From )", rb"\1", body, flags=re.MULTILINE)


def _stored(server: CountingServer) -> list[bytes]:
    return [raw.replace(b"\r\n", b"\n") for raw in server.messages(ME)]


def test_export_writes_mboxrd_oldest_first_one_fetch_per_message(
        cli: Cli, data_server: CountingServer, tmp_path: Path) -> None:
    for i in (1, 2):
        data_server.deliver(mail(i), to=ME)
    data_server.deliver(_tricky(3), to=ME)
    target = tmp_path / "inbox.mbox"
    data_server.operations.clear()
    result = cli("export", URL, "inbox", str(target))
    assert result.code == 0, result.err
    assert result.out == ""  # nothing but data ever goes to stdout; the summary is stderr
    assert "exported 3 message(s) from INBOX" in result.err
    assert data_server.operations.count("fetch") == 3
    box = mailbox.mbox(str(target))
    messages = list(box)
    assert [m["Subject"] for m in messages] == ["Message number 1", "Message number 2",
                                                 "Message number 3"]
    assert messages[0].get_from().startswith("s1@example.org ")
    text = target.read_bytes()
    # mboxrd: every >*From line got one more '>'; no body line starts with "From "
    assert b"\n>From here on it is tricky.\n>>From quoted already.\n>>>From twice.\n" in text
    assert re.findall(rb"^From ", text, re.MULTILINE) == [b"From "] * 3
    exported = [_unquote(m.as_bytes(unixfrom=False)) for m in messages]
    # the stored message, byte for byte (line ends as in an mbox: LF)
    stored = _stored(data_server)
    for raw, original in zip(exported, sorted(stored, key=lambda r: r.count(b"tricky")),
                             strict=True):
        assert raw.rstrip(b"\n") == original.rstrip(b"\n")


def test_export_resumes_and_fetches_only_new_messages(cli: Cli, data_server: CountingServer,
                                                      tmp_path: Path) -> None:
    target = tmp_path / "out.mbox"
    for i in (1, 2, 3):
        data_server.deliver(mail(i), to=ME)
    assert cli("export", URL, "inbox", str(target)).code == 0
    for i in (4, 5):
        data_server.deliver(mail(i), to=ME)
    data_server.operations.clear()
    result = cli("export", URL, "inbox", str(target), "--json")
    assert result.code == 0, result.err
    assert data_server.operations.count("fetch") == 2
    summary = json.loads(result.out)
    assert summary["exported"] == 2
    assert summary["skipped"] == 3
    assert summary["folder"] == "INBOX"
    assert [m["Subject"] for m in mailbox.mbox(str(target))] == [
        f"Message number {i}" for i in range(1, 6)]
    done, size = read_index(Path(f"{target}.ids"))
    assert len(done) == 5
    assert size == target.stat().st_size


class _Interrupted(FakeMailbox):
    """Fails (like a dropped connection) on the n-th message fetched."""

    fail_at = 2

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fetched = 0

    def fetch_to_file(self, message_id: str, target: str | Any | IO[bytes]) -> int:
        self.fetched += 1
        if self.fetched == self.fail_at:
            raise errors.ConnectionLost("The connection dropped.", provider="fake")
        return super().fetch_to_file(message_id, target)


def test_an_interrupted_export_continues_without_doubles(
        data_server: CountingServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # the summary on one line
    for i in (1, 2, 3):
        data_server.deliver(mail(i), to=ME)
    target = tmp_path / "out.mbox"

    def flaky(url: str, **options: Any) -> Mailbox:
        return _Interrupted(ME, server=data_server)

    code = main(["export", URL, "inbox", str(target)], connect=flaky,
                console=Captured().console)
    assert code == 1
    assert "ConnectionLost" in capsys.readouterr().err
    assert [m["Subject"] for m in mailbox.mbox(str(target))] == ["Message number 1"]
    # as if the process died while writing a message: a torn tail in the file and index
    with target.open("ab") as fh:
        fh.write(b"From half-written@example.org Sun Nov 29 10:00:00 2026\nSubject: torn")
    with Path(f"{target}.ids").open("a", encoding="utf-8") as fh:
        fh.write("12")
    code = main(["export", URL, "inbox", str(target)],
                connect=lambda url, **kw: FakeMailbox(ME, server=data_server),
                console=Captured().console)
    assert code == 0
    assert "(1 already there)" in capsys.readouterr().err
    assert [m["Subject"] for m in mailbox.mbox(str(target))] == [
        "Message number 1", "Message number 2", "Message number 3"]
    assert b"torn" not in target.read_bytes()


def test_export_of_an_unknown_folder_fails_on_stderr(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "out.mbox"
    result = cli("export", URL, "No such folder", str(target))
    assert result.code == 1
    assert result.out == ""
    assert "FolderNotFound" in result.err
    assert not target.exists()


def test_mboxrd_quote() -> None:
    assert mboxrd_quote(b"a\r\nFrom x\r\n>From y\r\nnot From z\r\n") == (
        b"a\n>From x\n>>From y\nnot From z\n")
