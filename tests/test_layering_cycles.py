"""Layering: every inboxlink module imports alone, and no module-level import cycle exists.

The core is layered ``errors → values → headers → mime → models → …`` (DESIGN §2); a
cycle would make import order matter and hide behind function-level imports. The graph is
read from each module's source (top-level imports only: ``TYPE_CHECKING`` blocks and
imports inside functions are not module-level edges), and each module is imported first
in a fresh interpreter, which an import cycle breaks.
"""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import inboxlink

ROOT = Path(inboxlink.__file__).parent
#: modules whose import needs an optional client library that may be absent
_OPTIONAL = ("inboxlink.adapters.", "inboxlink.cli", "inboxlink.doctor")


def _modules() -> dict[str, Path]:
    found = {"inboxlink": ROOT / "__init__.py"}
    for info in pkgutil.walk_packages([str(ROOT)], prefix="inboxlink."):
        path = ROOT.joinpath(*info.name.split(".")[1:])
        found[info.name] = path / "__init__.py" if info.ispkg else path.with_suffix(".py")
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If) and not _is_type_checking(node):
            pending.extend(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            pending.extend(node.body + node.orelse + node.finalbody
                           + [s for h in node.handlers for s in h.body])
    return found


def _edges(name: str, path: Path) -> set[str]:
    """Modules of inboxlink that ``name`` imports at module level (parents excluded)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in _top_level_imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            parts = package.split(".")
            base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            targets.add(sub if sub in MODULES else base)
    # Importing a submodule runs its packages' __init__ first; that is not a cycle edge.
    return {t for t in targets if t in MODULES and t != name and not name.startswith(t + ".")}


def _cycle() -> list[str] | None:
    graph = {name: _edges(name, path) for name, path in MODULES.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for name in sorted(graph):
        if name not in state and (found := visit(name)):
            return found
    return None


def test_the_module_graph_has_no_import_cycle() -> None:
    assert _cycle() is None, " -> ".join(_cycle() or [])


def test_the_core_is_layered_values_headers_mime_models() -> None:
    order = ["inboxlink.errors", "inboxlink.values", "inboxlink.headers", "inboxlink.mime",
             "inboxlink.models"]
    for lower, name in enumerate(order):
        above = set(order[lower + 1:])
        assert not (_edges(name, MODULES[name]) & above), f"{name} imports a layer above it"


def test_models_has_no_function_level_imports() -> None:
    tree = ast.parse(MODULES["inboxlink.models"].read_text(encoding="utf-8"))
    nested = [node.lineno for fn in ast.walk(tree)
              if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
              for node in ast.walk(fn) if isinstance(node, ast.Import | ast.ImportFrom)]
    assert nested == []


def test_a_cycle_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    real = _edges

    def with_cycle(name: str, path: Path) -> set[str]:
        extra = {"inboxlink.models"} if name == "inboxlink.values" else set()
        return real(name, path) | extra

    monkeypatch.setitem(globals(), "_edges", with_cycle)
    assert _cycle() is not None


CORE = sorted(n for n in MODULES if not n.startswith(_OPTIONAL))


def test_every_core_module_imports_first_in_a_fresh_interpreter() -> None:
    # One interpreter per module: the module is the first inboxlink import it sees.
    script = "\n".join([
        "import importlib, subprocess, sys",
        "bad = []",
        "for name in sys.argv[1:]:",
        "    r = subprocess.run([sys.executable, '-c', f'import {name}'], capture_output=True,",
        "                       text=True)",
        "    if r.returncode:",
        "        bad.append(name + ': ' + r.stderr.strip().splitlines()[-1])",
        "print('\\n'.join(bad))",
    ])
    result = subprocess.run([sys.executable, "-c", script, *CORE], capture_output=True,
                            text=True, cwd=ROOT.parent, timeout=300, check=True)
    assert result.stdout.strip() == ""
