"""The core's own costs: ``import inboxlink``, ``__version__``, and what ``connect()`` adds
over calling the adapter class directly (the registry's look-up and extra check).

Run: python benchmarks/core_import.py
Each import figure is the median of 7 fresh interpreters; connect figures are per call.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import timeit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = 7

PROBE = """
import time
t = time.perf_counter()
{stmt}
print(time.perf_counter() - t)
"""

IMPORTS = [
    ("import inboxlink", "import inboxlink"),
    ("import inboxlink + __version__", "import inboxlink; inboxlink.__version__"),
    ("importlib.metadata.version() alone",
     "from importlib import metadata; metadata.version('inboxlink')"),
]


def _fresh(stmt: str) -> float:
    times = []
    for _ in range(RUNS):
        out = subprocess.run([sys.executable, "-c", PROBE.format(stmt=stmt)],
                             capture_output=True, text=True, cwd=ROOT, check=True).stdout
        times.append(float(out))
    return statistics.median(times)


def main() -> int:
    print(f"{'what':40} {'ms':>8}")
    for label, stmt in IMPORTS:
        print(f"{label:40} {_fresh(stmt) * 1000:8.1f}")

    import inboxlink
    from inboxlink.adapters.imap import ImapMailbox  # noqa: F401  (extras loaded once)
    from inboxlink.testing import FakeMailbox, FakeMailServer

    server = FakeMailServer()
    n = 2000
    direct = timeit.timeit(lambda: FakeMailbox.from_url("fake://a@example.com", server=server),
                           number=n) / n
    via = timeit.timeit(lambda: inboxlink.connect("fake://a@example.com", server=server),
                        number=n) / n
    print(f"{'FakeMailbox.from_url (raw)':40} {direct * 1e6:8.1f} µs")
    print(f"{'inboxlink.connect(fake://)':40} {via * 1e6:8.1f} µs  ratio {via / direct:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
