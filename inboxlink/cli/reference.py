"""The error reference page, generated from the code so it cannot drift.

Every class from :func:`inboxlink.errors.all_error_classes` is listed with its default
message and remedy, followed by each raw provider signal that the adapters' error tables
(:func:`inboxlink.translate.all_tables`) map to it. The docs build calls
:func:`render_markdown` from a mkdocs hook; ``python -m inboxlink.cli.reference`` prints it.
"""

from __future__ import annotations

import html
import importlib
import inspect
from collections.abc import Iterable, Sequence

import attrs

from inboxlink import errors
from inboxlink.registry import builtin_adapter_packages
from inboxlink.translate import ErrorTable, Rule, all_tables

__all__ = ["BUILTIN_ADAPTERS", "load_tables", "render_markdown"]

#: built-in adapters whose ``inboxlink.adapters.<name>.errors`` module holds an ErrorTable
#: (read from the registry's one table of built-ins)
BUILTIN_ADAPTERS: tuple[str, ...] = builtin_adapter_packages()

_COMMON_PARAMETERS = frozenset({"self", "message", "provider", "code", "remedy", "retryable",
                                "kwargs"})


@attrs.frozen
class LoadedTables:
    """The tables found, and the built-in adapters that are not part of this build."""

    tables: tuple[ErrorTable, ...]
    absent: tuple[str, ...]


def load_tables(adapters: Iterable[str] = BUILTIN_ADAPTERS) -> LoadedTables:
    """Import each built-in adapter's ``errors`` module; tolerate adapters not written yet."""
    absent = []
    for name in adapters:
        module = f"inboxlink.adapters.{name}.errors"
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            # Only the adapter's own absence is tolerated; a broken import inside it is a bug
            # the docs build must show.
            if exc.name is None or not module.startswith(exc.name):
                raise
            absent.append(name)
    return LoadedTables(tuple(all_tables()), tuple(absent))


def _cell(value: str | None, *, code: bool = False) -> str:
    if not value:
        return ""
    text = html.escape(value).replace("|", "&#124;").replace("\n", " ")
    return f"<code>{text}</code>" if code else text


def _status(rule: Rule) -> str:
    if rule.status is None:
        return ""
    if isinstance(rule.status, int):
        return str(rule.status)
    return ", ".join(str(s) for s in sorted(rule.status))


def _lineage(cls: type[errors.InboxLinkError]) -> str:
    chain = [c.__name__ for c in reversed(cls.__mro__)
             if isinstance(c, type) and issubclass(c, errors.InboxLinkError)]
    return " › ".join(chain)


def _builtin_bases(cls: type[errors.InboxLinkError]) -> list[str]:
    return sorted({c.__name__ for c in cls.__mro__
                   if c.__module__ == "builtins" and c not in (object, Exception,
                                                                  BaseException)})


def _fields(cls: type[errors.InboxLinkError]) -> list[str]:
    parameters = inspect.signature(cls.__init__).parameters
    return [name for name in parameters if name not in _COMMON_PARAMETERS]


def _tree(classes: Sequence[type[errors.InboxLinkError]]) -> list[str]:
    lines = []
    for cls in classes:
        depth = len([c for c in cls.__mro__[1:]
                     if isinstance(c, type) and issubclass(c, errors.InboxLinkError)])
        lines.append(f"{'    ' * depth}- [{cls.__name__}](#{cls.__name__.lower()})")
    return lines


def _rules_for(cls: type[errors.InboxLinkError],
               tables: Sequence[ErrorTable]) -> list[tuple[str, Rule]]:
    return [(table.provider, rule) for table in tables for rule in table.rules
            if rule.error is cls]


def render_markdown(
    classes: Sequence[type[errors.InboxLinkError]] | None = None,
    loaded: LoadedTables | None = None,
) -> str:
    """The whole error reference as Markdown."""
    classes = list(classes if classes is not None else errors.all_error_classes())
    loaded = loaded if loaded is not None else load_tables()
    tables = sorted(loaded.tables, key=lambda t: t.provider)
    out = [
        "# Error reference",
        "",
        "Every failure raises a subclass of `inboxlink.errors.InboxLinkError` carrying "
        "`provider`, `code` (the raw provider code or text), `remedy` and `retryable`, with "
        "the client library's exception as `__cause__`. This page is generated from "
        "`inboxlink.errors` and the adapters' error tables at build time.",
        "",
    ]
    covered = ", ".join(f"`{t.provider}` ({len(t.rules)} rules)" for t in tables) or "none"
    out.append(f"Error tables included: {covered}.")
    if loaded.absent:
        out.append(" Built-in adapters not in this build: "
                   + ", ".join(f"`{name}`" for name in loaded.absent) + ".")
    out += ["", "## The tree", "", *_tree(classes), ""]
    for cls in classes:
        out += [f"## {cls.__name__}", "", f"`{_lineage(cls)}`", ""]
        doc = inspect.getdoc(cls) or ""
        if doc:
            out += [doc.split("\n\n")[0], ""]
        also = _builtin_bases(cls)
        if also:
            out += ["Also catchable as: " + ", ".join(f"`{b}`" for b in also) + ".", ""]
        fields = _fields(cls)
        if fields:
            out += ["Extra fields: " + ", ".join(f"`{f}`" for f in fields) + ".", ""]
        out += [
            f"- **Default message:** {cls.default_message}",
            f"- **Default remedy:** {cls.default_remedy}",
            f"- **Retryable:** {'yes' if cls.default_retryable else 'no'}",
            "",
        ]
        rules = _rules_for(cls, tables)
        if not rules:
            out += ["No provider signal maps here directly; inboxlink raises it itself "
                    "(or a subclass is raised).", ""]
            continue
        out += ["| provider | code | text pattern | status | catalog id | remedy given |",
                "|---|---|---|---|---|---|"]
        for provider, rule in rules:
            out.append(
                f"| {provider} | {_cell(rule.code, code=True)} | "
                f"{_cell(rule.pattern, code=True)} | {_status(rule)} | "
                f"{_cell(rule.source)} | {_cell(rule.remedy)} |"
            )
        out.append("")
    fallbacks = [f"`{t.provider}` → `{t.fallback.__name__}`" for t in tables]
    if fallbacks:
        out += ["## When no rule matches", "",
                "Each table's fallback class: " + ", ".join(fallbacks) + ".", ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(render_markdown())
