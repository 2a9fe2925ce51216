"""``inboxlink doctor`` (placeholder until the checks land)."""

from __future__ import annotations

from typing import Any


def add_doctor_parser(sub: Any) -> None:
    """Register the ``doctor`` sub-command."""


def run_doctor_command(args: Any, console: Any, *, connect: Any, resolver: Any) -> int:
    """Run the doctor."""
    return 1
