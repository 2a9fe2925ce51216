"""Every built-in adapter keeps the adapter skeleton (docs/adapters.md): the same public file
names in the same roles, everything else private, client-library internals touched only in
the adapter's ``_*_shim.py`` files, and a ``mailbox.py`` that only delegates."""

from __future__ import annotations

import importlib
from collections.abc import Collection, Iterable
from pathlib import Path

import attrs
import pytest

SKELETON = frozenset({"__init__.py", "actions.py", "attachments.py", "connection.py",
                      "convert.py", "errors.py", "mailbox.py", "send.py", "settings.py",
                      "sync.py", "watch.py"})
#: the most lines an adapter's mailbox.py may have
MAILBOX_LINES = 300


@attrs.frozen
class Layout:
    """What one adapter's folder must keep to itself."""

    package: str
    #: the private shims allowed to touch the client libraries' internals
    shims: frozenset[str]
    #: text that means a client library's internals are touched
    internals: tuple[str, ...]
    #: text that means a provider failure is mapped outside the error table (errors.py)
    mapped_outside_table: tuple[str, ...] = ()

    def folder(self) -> Path:
        module = importlib.import_module(self.package)
        assert module.__file__ is not None
        return Path(module.__file__).parent


ADAPTERS = {
    "imap": Layout(
        "inboxlink.adapters.imap", frozenset({"_imaplib_shim.py", "_imapclient_shim.py"}),
        ("client._imap", "imap._command(", "_checkok", "untagged_responses", "_get_response",
         "_command_complete", "_MAXLINE", "._mesg(")),
    "ews": Layout(
        "inboxlink.adapters.ews", frozenset({"_exchangelib_shim.py"}),
        ("def _elem_to_obj", "def _get_soap_parts", "def _handle_backoff",
         "_streaming_response", "FIELDS.copy()", "Protocol[")),
    "graph": Layout(
        "inboxlink.adapters.graph", frozenset({"_msgraph_shim.py"}),
        ("graph_request_adapter import options", "graph_request_adapter.options",
         "set_base_url_for_request_information", "RetryHandlerOption",
         "create_with_default_middleware"),
        mapped_outside_table=("except httpx",)),
    "gmail": Layout(
        "inboxlink.adapters.gmail", frozenset({"_googleapiclient_shim.py", "_httplib2_shim.py"}),
        ("_in_error_state", ".connections", "resumable_progress",
         "_fix_up_media_path_base_url", "request.uri =")),
}

adapters = pytest.mark.parametrize("layout", list(ADAPTERS.values()), ids=list(ADAPTERS))


@adapters
def test_public_files_are_exactly_the_skeleton(layout: Layout) -> None:
    public = {p.name for p in layout.folder().glob("*.py")
              if p.name == "__init__.py" or not p.name.startswith("_")}
    assert public <= SKELETON, f"not a skeleton role, make it private: {public - SKELETON}"
    assert public == SKELETON, f"missing: {SKELETON - public}"


@adapters
def test_the_shims_exist_and_are_private(layout: Layout) -> None:
    names = {p.name for p in layout.folder().glob("_*_shim.py")}
    assert layout.shims <= names, f"listed but missing: {layout.shims - names}"


def _found_outside(layout: Layout, allowed: Collection[str], needles: Iterable[str]) -> list[str]:
    """``file: needle`` for every needle in a module of the adapter not in ``allowed``."""
    needles = tuple(needles)
    return [f"{path.name}: {needle}" for path in sorted(layout.folder().glob("*.py"))
            if path.name not in allowed
            for needle in needles if needle in path.read_text(encoding="utf-8")]


@adapters
def test_client_library_internals_are_touched_in_the_shims_only(layout: Layout) -> None:
    assert _found_outside(layout, layout.shims, layout.internals) == []


@adapters
def test_provider_failures_are_mapped_in_the_table_only(layout: Layout) -> None:
    assert _found_outside(layout, {"errors.py"}, layout.mapped_outside_table) == []


@adapters
def test_mailbox_module_stays_small(layout: Layout) -> None:
    lines = (layout.folder() / "mailbox.py").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAILBOX_LINES


def test_the_hooks_catch_what_they_look_for() -> None:
    # The scan above passes vacuously if its hooks match nothing: they must find what the
    # adapter's own shims do (some hooks are other spellings of the same access).
    for name, layout in ADAPTERS.items():
        shim_text = "".join((layout.folder() / shim).read_text(encoding="utf-8")
                            for shim in layout.shims)
        found = [hook for hook in layout.internals if hook in shim_text]
        assert len(found) >= len(layout.internals) - 1, f"{name}: stale hooks, found {found}"
