"""Adapter discovery and `connect()`.

Adapters are found by URL scheme: first the built-in table (imported lazily, so a missing
optional dependency only matters when that adapter is used), then classes registered with
`register_adapter()`, then entry points in the group ``inboxlink.adapters`` (read once,
on the first look-up that needs them). Built-ins win name clashes.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from collections.abc import Mapping
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

import attrs

from inboxlink import errors
from inboxlink.mailbox import Mailbox

__all__ = ["BUILTIN_ADAPTERS", "builtin_adapter_packages", "connect", "get_adapter",
           "known_schemes", "register_adapter", "secret_kind"]

ENTRY_POINT_GROUP = "inboxlink.adapters"


@attrs.frozen
class _Builtin:
    target: str  #: "module:Class"
    extra: str | None  #: the pip extra that installs its dependencies
    #: top-level modules the extra provides, looked up (not imported) before the adapter is:
    #: an adapter that imports its client library late must still fail here, typed
    requires: tuple[str, ...] = ()
    #: the secret ``connect()`` signs in with: "password", "access_token" or None
    secret: str | None = None


#: the one list of built-in adapters: the registry, the CLI and the docs read it
BUILTIN_ADAPTERS: Mapping[str, _Builtin] = {
    "imap": _Builtin("inboxlink.adapters.imap:ImapMailbox", "imap", ("imapclient",),
                     "password"),
    "imaps": _Builtin("inboxlink.adapters.imap:ImapMailbox", "imap", ("imapclient",),
                      "password"),
    "ews": _Builtin("inboxlink.adapters.ews:EwsMailbox", "ews", ("exchangelib",), "password"),
    "graph": _Builtin("inboxlink.adapters.graph:GraphMailbox", "graph", ("msgraph",),
                      "access_token"),
    "gmail": _Builtin("inboxlink.adapters.gmail:GmailMailbox", "gmail",
                      ("googleapiclient", "google_auth_httplib2"), "access_token"),
    "fake": _Builtin("inboxlink.testing.fake:FakeMailbox", None),
}


def builtin_adapter_packages() -> tuple[str, ...]:
    """The built-in adapter packages under ``inboxlink.adapters`` (``"imap"``, ``"ews"`` …),
    once each, in table order."""
    names = (b.target.partition(":")[0] for b in BUILTIN_ADAPTERS.values())
    return tuple(dict.fromkeys(n.rpartition(".")[2] for n in names
                               if n.startswith("inboxlink.adapters.")))


def secret_kind(scheme: str) -> str | None:
    """What a built-in scheme signs in with (``"password"``/``"access_token"``), or ``None``
    (the fake, plugins, unknown schemes)."""
    builtin = BUILTIN_ADAPTERS.get(scheme.lower())
    return builtin.secret if builtin else None


_REFUSED: Mapping[str, type[errors.InboxLinkError]] = {
    "pop3": errors.UnsupportedProtocol,
    "pop3s": errors.UnsupportedProtocol,
    "pop": errors.UnsupportedProtocol,
    "pops": errors.UnsupportedProtocol,
}

_lock = threading.Lock()
_registered: dict[str, type[Any]] = {}
_entry_points: dict[str, metadata.EntryPoint] | None = None


def register_adapter(scheme: str, cls: type[Any], *, replace: bool = False) -> None:
    """Register ``cls`` (with a ``from_url`` classmethod) for ``scheme://`` URLs.

    Built-in schemes cannot be replaced; registering a taken scheme needs ``replace=True``.
    """
    scheme = scheme.lower()
    if scheme in BUILTIN_ADAPTERS or scheme in _REFUSED:
        raise ValueError(f"{scheme!r} is a built-in scheme and cannot be replaced")
    if not callable(getattr(cls, "from_url", None)):
        raise TypeError(f"{cls!r} has no from_url() classmethod")
    with _lock:
        if scheme in _registered and not replace and _registered[scheme] is not cls:
            raise ValueError(f"{scheme!r} is already registered to {_registered[scheme]!r}")
        _registered[scheme] = cls


def _load_entry_points() -> dict[str, metadata.EntryPoint]:
    global _entry_points
    with _lock:
        if _entry_points is None:
            found = {ep.name.lower(): ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
            _entry_points = found
        return _entry_points


def _reset_entry_points() -> None:
    """Forget cached entry points (for tests that install a plugin at run time)."""
    global _entry_points
    with _lock:
        _entry_points = None


def known_schemes() -> list[str]:
    """Every scheme connect() accepts: built-ins, registered classes and entry points."""
    return sorted({*BUILTIN_ADAPTERS, *_registered, *_load_entry_points()})


def _missing_module(builtin: _Builtin) -> str | None:
    for name in builtin.requires:
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except ImportError:  # a parent package is missing (or refuses to load)
            return name
    return None


def _import_builtin(scheme: str, builtin: _Builtin) -> type[Any]:
    module_name, _, attr = builtin.target.partition(":")
    hint = f"pip install 'inboxlink[{builtin.extra}]'" if builtin.extra else "reinstall inboxlink"
    missing = _missing_module(builtin)
    if missing is not None:
        raise errors.AdapterNotAvailable(
            f"The {scheme}:// adapter needs packages that are not installed ({missing}).",
            code=missing, remedy=f"Install them with: {hint}",
        )
    try:
        # Adapter packages import their client library lazily (module __getattr__), so the
        # ImportError of a missing extra can come from either step.
        cls: type[Any] = getattr(importlib.import_module(module_name), attr)
    except ImportError as exc:
        raise errors.AdapterNotAvailable(
            f"The {scheme}:// adapter needs packages that are not installed ({exc.name}).",
            code=exc.name, remedy=f"Install them with: {hint}",
        ) from exc
    return cls


def get_adapter(scheme: str) -> type[Any]:
    """The adapter class for a URL scheme; raises ``UnsupportedProtocol`` if none."""
    scheme = scheme.lower()
    if scheme in _REFUSED:
        raise _REFUSED[scheme](
            f"{scheme.upper()} is not supported.", code=scheme,
        )
    if scheme in BUILTIN_ADAPTERS:
        return _import_builtin(scheme, BUILTIN_ADAPTERS[scheme])
    if scheme in _registered:
        return _registered[scheme]
    entry_point = _load_entry_points().get(scheme)
    if entry_point is not None:
        try:
            loaded = entry_point.load()
        except ImportError as exc:
            raise errors.AdapterNotAvailable(
                f"The {scheme}:// adapter plugin ({entry_point.value}) failed to import: {exc}",
                code=scheme, remedy="Reinstall the plugin package that provides it.",
            ) from exc
        cls: type[Any] = loaded
        return cls
    raise errors.UnsupportedProtocol(
        f"No adapter handles {scheme}:// URLs.",
        code=scheme,
        remedy="Use one of: " + ", ".join(f"{s}://" for s in known_schemes())
        + ", or install the plugin that provides this scheme.",
    )


def connect(url: str, /, **options: Any) -> Mailbox:
    """Connect to a mailbox described by ``url`` (``imaps://alice@host``, ``graph://…``).

    Keyword options go to the adapter's ``from_url`` (``password=``, ``smtp=``,
    ``access_token=``, ``ssl_context=`` …); see each adapter's documentation. ``url`` is
    positional-only, so an adapter can take a ``url=`` option (the EWS endpoint). An unknown
    option raises ``ConfigurationError`` naming it; a built-in adapter whose extra is not
    installed raises ``AdapterNotAvailable`` with the ``pip install`` line.

    The result is typed `Mailbox` (the scheme is only known at run time); when the
    adapter is known in advance, its class's ``from_url`` is the typed entry point
    (``ImapMailbox.from_url(…)`` is an ``ImapMailbox``; for the fake,
    `inboxlink.testing.connect_fake()`).
    """
    scheme = urlsplit(url).scheme
    if not scheme:
        raise errors.ConfigurationError(
            f"{url!r} has no scheme.",
            remedy="Start the URL with the protocol, e.g. imaps://alice@mail.example.com.",
        )
    cls = get_adapter(scheme)
    mailbox: Mailbox = cls.from_url(url, **options)
    return mailbox
