"""Shell completion through argcomplete, driven exactly as bash drives it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from inboxlink.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _complete(line: str, tmp_path: Path) -> list[str]:
    """What the shell would offer after typing ``line`` (argcomplete's own protocol)."""
    out = tmp_path / "completions"
    env = {**os.environ, "_ARGCOMPLETE": "1", "_ARGCOMPLETE_IFS": "\n", "COMP_LINE": line,
           "COMP_POINT": str(len(line)), "_ARGCOMPLETE_STDOUT_FILENAME": str(out)}
    done = subprocess.run([sys.executable, "-m", "inboxlink.cli"], cwd=ROOT, env=env,
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    # a single completion comes with the space the shell adds after a finished word
    return sorted(c.rstrip(" ") for c in out.read_text().split("\n") if c)


@pytest.mark.parametrize(("line", "offered"), [
    ("inboxlink ex", ["export"]),
    ("inboxlink export --js", ["--json"]),
    ("inboxlink ls ima", ["imap://", "imaps://"]),
    ("inboxlink ls imaps://alice@mail.example.com se", ["sent"]),
    ("inboxlink show fake://a@example.com ID --r", ["--raw"]),
])
def test_completion(line: str, offered: list[str], tmp_path: Path) -> None:
    assert _complete(line, tmp_path) == offered


def test_print_completion_prints_the_shell_hook(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--print-completion", "bash"]) == 0
    code = capsys.readouterr().out
    assert "complete " in code
    assert "inboxlink" in code
    with pytest.raises(SystemExit) as done:
        main(["--print-completion", "cmd.exe"])
    assert done.value.code == 2
