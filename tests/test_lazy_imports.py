"""The base install: no optional library is imported by ``import inboxlink``, and each
adapter's URL names the extra to install. ``nox -s no_extras`` runs the same script in a
real base-only virtualenv; here the extras' libraries are blocked at import instead."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parent / "no_extras" / "check_base_install.py"

#: top-level names of every optional dependency (the extras imap/ews/graph/gmail/cli)
BLOCKED = ("imapclient", "exchangelib", "msgraph", "kiota_abstractions", "kiota_http",
           "azure", "googleapiclient", "google", "httplib2", "google_auth_httplib2", "dns",
           "rich")

_BLOCKER = """
import importlib.abc, runpy, sys
BLOCKED = set({blocked!r})
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, Block())
runpy.run_path({script!r}, run_name="__main__")
"""


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False, cwd=Path(__file__).parent.parent)


def test_base_install_without_extras_gives_install_hints() -> None:
    done = _run(_BLOCKER.format(blocked=BLOCKED, script=str(SCRIPT)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 install hints" in done.stdout


def test_the_check_fails_when_an_extra_would_be_needed() -> None:
    # The script must be able to fail: with the extras present, imaps:// connects (and is
    # refused for the made-up host) instead of asking for the extra.
    done = _run(_BLOCKER.format(blocked=(), script=str(SCRIPT)))
    assert done.returncode != 0
