"""The doctor's report: one `Check` per step, and what they add up to."""

from __future__ import annotations

import enum
import json
from typing import Any

import attrs

from inboxlink import errors

__all__ = ["Check", "Report", "Status"]


class Status(str, enum.Enum):
    """How one check came out."""

    PASS = "pass"  #: works
    WARN = "warn"  #: works, with a caveat worth knowing
    FAIL = "fail"  #: cannot work as it is; the error's remedy says what to do
    SKIP = "skip"  #: not run (an earlier step failed, or no credentials)

    @property
    def symbol(self) -> str:
        """✓, !, ✗ or -."""
        return _SYMBOLS[self]


_SYMBOLS = {Status.PASS: "✓", Status.WARN: "!", Status.FAIL: "✗", Status.SKIP: "-"}


@attrs.frozen
class Check:
    """One step of the diagnosis.

    ``stage`` groups checks (``dns``, ``tcp``, ``tls`` …); ``detail`` is one line for a
    person; ``error`` is the typed error behind a failure or warning; ``data`` holds
    machine-readable facts for ``--json`` (never secrets).
    """

    stage: str
    name: str
    status: Status
    detail: str = ""
    error: errors.InboxLinkError | None = None
    data: dict[str, Any] = attrs.field(factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-safe dictionary."""
        result: dict[str, Any] = {"stage": self.stage, "name": self.name,
                                  "status": self.status.value, "detail": self.detail}
        if self.data:
            result["data"] = self.data
        if self.error is not None:
            result["error"] = {"type": type(self.error).__name__, "message": self.error.message,
                               "code": self.error.code, "remedy": self.error.remedy,
                               "retryable": self.error.retryable}
        return result


@attrs.define
class Report:
    """Everything the doctor found about one mailbox."""

    target: str
    provider: str | None = None
    checks: list[Check] = attrs.field(factory=list)

    @property
    def failed(self) -> bool:
        """Some check failed."""
        return any(c.status is Status.FAIL for c in self.checks)

    @property
    def logged_in(self) -> bool:
        """The login check ran and passed."""
        return any(c.stage == "login" and c.status in (Status.PASS, Status.WARN)
                   for c in self.checks)

    @property
    def connectable(self) -> bool | None:
        """``True``/``False``; ``None`` when nothing failed but the login was not tried."""
        if self.failed:
            return False
        return True if self.logged_in else None

    @property
    def exit_code(self) -> int:
        """0: can be connected; 1: a check failed; 3: undecided (login not tried)."""
        return {True: 0, False: 1, None: 3}[self.connectable]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-safe dictionary of the whole report."""
        return {"target": self.target, "provider": self.provider,
                "connectable": self.connectable, "exit_code": self.exit_code,
                "checks": [c.as_dict() for c in self.checks]}

    def to_json(self) -> str:
        """The report as indented JSON."""
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False)
