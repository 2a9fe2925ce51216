"""Shared set-up of the benchmarks: the import paths, child processes and peak memory.

Importing it puts the repository (``inboxlink``, ``benchmarks.*``) and ``tests/`` (the
emulators, imported as ``graph.emulator`` … or ``tests.graph.emulator``, and the
``_emulator_mime`` module they share) on ``sys.path``.

Each memory figure is taken in a fresh child process (`run_child`), so one measurement's
allocations cannot raise the next one's peak.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["ROOT", "child_or_args", "peak_kb", "reset_peak", "run_child", "run_children"]

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT / "tests", ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def reset_peak() -> int:
    """Reset the peak-RSS mark (Linux clear_refs) and return the current RSS in kB.

    ru_maxrss cannot be used: Linux carries it over exec from the parent process.
    """
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    return _status_kb("VmRSS")


def peak_kb() -> int:
    """Peak RSS in kB since the last :func:`reset_peak`."""
    return _status_kb("VmHWM")


def run_child(script: str, mode: str, config: dict[str, Any]) -> dict[str, Any]:
    """Run ``script --child MODE CONFIG`` in a fresh process; it prints one JSON line last."""
    out = subprocess.run([sys.executable, script, "--child", mode, json.dumps(config)],
                         check=True, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    row: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return row


def run_children(script: str, modes: tuple[str, ...],
                 config: dict[str, Any]) -> list[dict[str, Any]]:
    """`run_child` once per mode, in order."""
    return [run_child(script, mode, config) for mode in modes]


def child_or_args(parser: argparse.ArgumentParser,
                  child: Callable[[str, dict[str, Any]], None]) -> argparse.Namespace | None:
    """The parent's arguments; or, in a process `run_child` started (``--child MODE CONFIG``),
    ``child(MODE, CONFIG)`` run and ``None`` (the caller returns)."""
    parser.add_argument("--child", nargs=2, metavar=("MODE", "CONFIG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], json.loads(args.child[1]))
        return None
    return args

