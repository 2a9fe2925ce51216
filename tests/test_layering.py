"""Layering: every module imports on its own (no import cycle), the core never reaches
into the command line, and the built-in adapters are listed once."""

from __future__ import annotations

import functools
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import inboxlink
from inboxlink import registry

ROOT = Path(__file__).parent.parent

#: each module is imported in a process whose inboxlink modules were all forgotten first,
#: so a cycle shows up as the ImportError it causes for whoever imports that module first
_IMPORT_ALONE = """
import importlib, json, sys, traceback
failed, reached = {}, {}
for name in json.loads(sys.argv[1]):
    for loaded in [m for m in sys.modules if m == "inboxlink" or m.startswith("inboxlink.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failed[name] = traceback.format_exc(limit=3)
    reached[name] = sorted(m for m in sys.modules if m.startswith("inboxlink."))
print(json.dumps({"failed": failed, "reached": reached}))
"""


def _modules() -> list[str]:
    found = [m.name for m in pkgutil.walk_packages(inboxlink.__path__, "inboxlink.")]
    # __main__ modules run the command line when imported.
    return sorted(name for name in found if not name.endswith(".__main__"))


@functools.cache
def _import_each_alone() -> tuple[dict[str, str], dict[str, list[str]]]:
    """(module → traceback of its failed import, module → inboxlink modules it loaded)."""
    done = subprocess.run([sys.executable, "-c", _IMPORT_ALONE, json.dumps(_modules())],
                          capture_output=True, text=True, timeout=300, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    return result["failed"], result["reached"]


def test_every_module_imports_alone_and_the_core_never_imports_the_cli() -> None:
    failed, reached = _import_each_alone()
    assert failed == {}
    assert len(reached) >= 60  # the walk found the package, not an empty list
    # Only the command line itself (and the doctor's own sub-command) may load inboxlink.cli.
    allowed = ("inboxlink.cli", "inboxlink.doctor.cli")
    offenders = {name: [m for m in modules if m.startswith("inboxlink.cli")]
                 for name, modules in reached.items() if not name.startswith(allowed)}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_doctor_checks_do_not_import_the_cli() -> None:
    reached = _import_each_alone()[1]["inboxlink.doctor.checks"]
    assert "inboxlink.secrets" in reached
    assert not [m for m in reached if m.startswith("inboxlink.cli")]


def test_one_list_of_builtin_adapters() -> None:
    from inboxlink.cli.reference import BUILTIN_ADAPTERS
    from inboxlink.secrets import secret_kind

    assert BUILTIN_ADAPTERS == registry.builtin_adapter_packages() == (
        "imap", "ews", "graph", "gmail")
    assert {scheme: registry.secret_kind(scheme) for scheme in registry.BUILTIN_ADAPTERS} == {
        "imap": "password", "imaps": "password", "ews": "password",
        "graph": "access_token", "gmail": "access_token", "fake": None}
    assert secret_kind("imaps://alice@mail.example.com") == "password"
    assert secret_kind("jmap://alice@example.com") is None
