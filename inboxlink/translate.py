"""Error tables: raw provider signals → typed `inboxlink.errors`, in one place per adapter.

An adapter describes what its client library raised as a `Signal` (status, code,
text) and looks it up in its `ErrorTable`: an ordered list of `Rule` rows,
most specific first. `translating()` is the one context manager at the adapter boundary
that does this for every call and raises the typed error ``from`` the original.

Tables hold data only, so they can be imported (by the docs' error reference, by tests)
without the provider's client library being installed.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import attrs

from inboxlink import errors

__all__ = ["ErrorTable", "Extract", "Rule", "Signal", "all_tables", "translating"]

C = TypeVar("C")


@attrs.frozen
class Signal:
    """What a provider said, normalised: the input of an `ErrorTable` lookup."""

    provider: str
    code: str | None = None
    text: str = ""
    status: int | None = None
    #: extra keyword arguments for the error (``retry_after``, ``missing``, ``consent_url`` …)
    details: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Rule:
    """One row: when ``code``/``pattern``/``status`` all match (those given), raise ``error``.

    ``code`` is compared case-insensitively with `Signal.code`; ``pattern`` is a
    case-insensitive regular expression searched in `Signal.text`; ``status`` is one
    HTTP/SMTP status or a collection of them. ``source`` names the errors.yaml entry.
    """

    error: type[errors.InboxLinkError]
    code: str | None = None
    pattern: str | None = None
    status: int | Collection[int] | None = None
    remedy: str | None = None
    message: str | None = None
    retryable: bool | None = None
    source: str | None = None
    _regex: re.Pattern[str] | None = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        compiled = re.compile(self.pattern, re.IGNORECASE) if self.pattern else None
        object.__setattr__(self, "_regex", compiled)

    def matches(self, signal: Signal) -> bool:
        """Whether every condition this rule states holds for ``signal``."""
        if self.code is not None and (signal.code or "").lower() != self.code.lower():
            return False
        if self._regex is not None and not self._regex.search(signal.text or ""):
            return False
        if self.status is not None:
            allowed = {self.status} if isinstance(self.status, int) else set(self.status)
            if signal.status not in allowed:
                return False
        return True


_TABLES: list[ErrorTable] = []


@attrs.frozen
class ErrorTable:
    """An adapter's ordered mapping of raw signals to typed errors."""

    provider: str
    rules: tuple[Rule, ...]
    #: used when no rule matches
    fallback: type[errors.InboxLinkError] = errors.InboxLinkError

    def __attrs_post_init__(self) -> None:
        _TABLES.append(self)

    def match(self, signal: Signal) -> Rule | None:
        """The first rule that matches, or ``None``."""
        return next((rule for rule in self.rules if rule.matches(signal)), None)

    def match_any(self, signals: Sequence[Signal]) -> tuple[Rule, Signal] | None:
        """Multi-signal matching: the first rule (in table order) that any of ``signals``
        matches, with the signal it matched; ``None`` when no rule matches any.

        For providers whose one error carries several codes (Gmail's ``details[].reason``,
        ``errors[].reason`` and ``status``): the table's order decides, not the codes'.
        """
        for rule in self.rules:
            for signal in signals:
                if rule.matches(signal):
                    return rule, signal
        return None

    def error_for(self, signal: Signal, *, rule: Rule | None = None) -> errors.InboxLinkError:
        """Build the typed error for ``signal`` (the fallback class when nothing matches).

        ``rule``: the row already chosen (e.g. by `match_any`), instead of matching again.
        """
        rule = rule or self.match(signal)
        cls = rule.error if rule else self.fallback
        text = errors.redact(signal.text or "")
        message = (rule.message if rule and rule.message else None) or (
            f"{cls.default_message} The server said: {text}" if text else None
        )
        kwargs: dict[str, Any] = {
            "provider": signal.provider,
            "code": signal.code or (str(signal.status) if signal.status else None),
        }
        if rule and rule.remedy:
            kwargs["remedy"] = rule.remedy
        if rule and rule.retryable is not None:
            kwargs["retryable"] = rule.retryable
        kwargs.update(_details_for(cls, signal.details))
        try:
            return cls(message, **kwargs)
        except TypeError:
            # A detail of the right name but the wrong shape: the error is still built,
            # with the rule's own wording, never a crash of the translation itself.
            for key in signal.details:
                kwargs.pop(key, None)
            if rule and rule.remedy:
                kwargs["remedy"] = rule.remedy
            return cls(message, **kwargs)


_KEYWORDS: dict[type, frozenset[str]] = {}


def _keywords(cls: type[errors.InboxLinkError]) -> frozenset[str]:
    """The keyword arguments ``cls(...)`` accepts, along its ``__init__`` chain."""
    known = _KEYWORDS.get(cls)
    if known is not None:
        return known
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):  # a builtin's slot wrapper: nothing to read
            continue
        names.update(p.name for p in params
                     if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break  # this __init__ passes nothing further up
    known = _KEYWORDS[cls] = frozenset(names - {"self", "message"})
    return known


def _details_for(cls: type[errors.InboxLinkError],
                 details: Mapping[str, Any]) -> dict[str, Any]:
    """The details ``cls`` takes. When one is dropped (``suggested_url`` on a
    `ConnectError`), a ``remedy`` among the details goes too: it was written around the
    dropped detail, so the rule's own remedy is the one that still fits."""
    accepted = _keywords(cls)
    kept = {key: value for key, value in details.items() if key in accepted}
    if len(kept) < len(details):
        kept.pop("remedy", None)
    return kept


def all_tables() -> list[ErrorTable]:
    """Every table created so far (import the adapters' ``errors`` modules first)."""
    return list(_TABLES)


#: The one shape of every adapter's ``errors.extract``: the exception and the adapter's own
#: `ErrorContext` (what the mailbox knows that explains the error: endpoint, operation, …).
Extract = Callable[[BaseException, C], "errors.InboxLinkError | Signal | None"]


@contextmanager
def translating(table: ErrorTable, extract: Extract[C], context: C) -> Iterator[None]:
    """Translate any exception raised inside the block exactly once.

    ``extract(exc, context)`` turns a client-library exception into a `Signal` (looked up in
    ``table``), into a ready error, or returns ``None`` to let it through untouched
    (programming errors such as ``TypeError`` should pass). Typed errors pass as they are.
    """
    try:
        yield
    except errors.InboxLinkError:
        raise
    except Exception as exc:
        result = extract(exc, context)
        if result is None:
            raise
        error = result if isinstance(result, errors.InboxLinkError) else table.error_for(result)
        raise error from exc
