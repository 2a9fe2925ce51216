"""`import inboxlink` stays light: msgraph-sdk is imported only when the Graph adapter is used.

Run: python benchmarks/graph_import.py
"""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAVY = ("msgraph", "msgraph_core", "kiota_abstractions", "kiota_http", "azure", "httpx")

PROBE = """
import sys, time
t = time.perf_counter()
{stmt}
dt = time.perf_counter() - t
heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r}))
print(f"{{dt:.3f}} {{len(sys.modules)}} {{','.join(heavy) or '-'}}")
"""

CASES = [
    ("import inboxlink", "import inboxlink"),
    ("+ adapters.graph (settings, errors)", "import inboxlink, inboxlink.adapters.graph.errors"),
    ("+ GraphMailbox (loads msgraph-sdk)",
     "import inboxlink.adapters.graph as g; g.GraphMailbox"),
]


def main() -> int:
    print(f"{'what':40} {'seconds':>8} {'modules':>8}  heavy modules loaded")
    failed = False
    for label, stmt in CASES:
        out = subprocess.run([sys.executable, "-c", PROBE.format(stmt=stmt, heavy=HEAVY)],
                             capture_output=True, text=True, cwd=ROOT, check=True).stdout
        secs, count, heavy = out.split()
        print(f"{label:40} {float(secs):8.3f} {int(count):8d}  {heavy}")
        if "GraphMailbox" not in stmt and heavy != "-":
            failed = True
    print("OK: import inboxlink does not import msgraph" if not failed
          else "FAIL: msgraph imported too early")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
