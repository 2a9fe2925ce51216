"""``inboxlink demo`` tells the whole story, and says how to install rich when it is missing."""

from __future__ import annotations

import re
import subprocess
import sys
import time

from inboxlink.cli import main

from .helpers import Captured


def test_demo_tells_the_story(captured: Captured) -> None:
    started = time.perf_counter()
    assert main(["demo"], console=captured.console) == 0
    assert time.perf_counter() - started < 5
    out = captured.text
    # delivered mail and folder roles with their provenance
    assert "Quote for 40 licences" in out
    assert re.search(r"Sent\s+│ sent\s+│ special-use", out)
    assert re.search(r"Junk\s+│ junk\s+│ name", out)
    assert re.search(r"Archiv\s+│ archive\s+│ name", out)
    assert re.search(r"INBOX\s+│ inbox\s+│ provider", out)
    # the reply threads onto Bob's second message and carries the whole thread
    assert re.search(r"In-Reply-To\s+│ <msg-2@customer.test>", out)
    assert re.search(r"References\s+│ <msg-1@customer.test> <msg-2@customer.test>", out)
    # the sent copy: appended once, and never twice on a provider that keeps it itself
    assert "sent_copy = appended  into folder Sent" in out
    assert "copies of this message in Sent: 1" in out
    assert "sent_copy = saved-by-provider" in out
    # typed errors with remedies
    assert "RateLimited" in out
    assert "Wait 30 seconds and retry." in out
    assert "UnsupportedProtocol" in out
    assert "POP3 is not supported" in out


def test_console_script_runs_demo() -> None:
    done = subprocess.run([sys.executable, "-m", "inboxlink.cli", "demo"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "Where the sent copy went" in done.stdout


def test_missing_rich_names_the_extra() -> None:
    # sys.modules[name] = None makes every later "import rich" raise ImportError.
    code = ("import sys; sys.modules['rich'] = None\n"
            "from inboxlink.cli import main\n"
            "raise SystemExit(main(['demo']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 1
    assert "pip install 'inboxlink[cli]'" in done.stderr
    assert "Traceback" not in done.stderr
