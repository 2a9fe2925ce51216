"""Shared set-up of the Gmail benchmarks: settings on the tests' Gmail emulator, the raw
googleapiclient service a direct user of the client library would build, and the table."""

from __future__ import annotations

from typing import Any

import _bench  # noqa: F401  (puts the repository and tests/ on sys.path)

from inboxlink.adapters.gmail import GmailSettings
from inboxlink.adapters.gmail.connection import authorized_http, build_service
from tests.gmail.emulator import GmailEmulator

__all__ = ["Row", "print_rows", "raw_service", "settings"]

#: (case, HTTP requests, quota units, seconds)
Row = tuple[str, int, int, float]


def settings(emu: GmailEmulator, **extra: Any) -> GmailSettings:
    """The emulator's account, signed in with a token it accepts, plus ``extra``."""
    return GmailSettings(address=emu.address, access_token="good-token", api_endpoint=emu.url,
                         **extra)


def raw_service(emu: GmailEmulator) -> Any:
    """The ``gmail`` v1 service of googleapiclient on the emulator (no inboxlink in between)."""
    plain = settings(emu)
    return build_service(plain, authorized_http(plain))


def print_rows(rows: list[Row], width: int, digits: int = 2) -> None:
    """The result table: case (``width`` wide), requests, units, seconds."""
    print(f"{'case':<{width}} {'HTTP requests':>13} {'quota units':>11} {'seconds':>8}")
    for name, requests, units, seconds in rows:
        print(f"{name:<{width}} {requests:>13} {units:>11} {seconds:>8.{digits}f}")
