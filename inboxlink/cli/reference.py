"""The error reference page, generated from the code so it cannot drift.

Every class from ``inboxlink.errors.all_error_classes()`` gets one compact entry (cause,
remedy, fields, retryable, what to tell your user); then each provider gets one table of raw
codes → class built from the adapters' error tables (``inboxlink.translate.all_tables()``).
The docs build calls `render_markdown` (and `render_provider_tables` for the provider pages)
from a mkdocs hook; ``python -m inboxlink.cli.reference`` prints the page.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Iterable, Sequence

import attrs

from inboxlink import errors
from inboxlink.cli.reference_tables import ProviderRows, provider_rows, render_provider_table
from inboxlink.registry import builtin_adapter_packages
from inboxlink.translate import ErrorTable, all_tables

__all__ = ["BUILTIN_ADAPTERS", "ERROR_TABLE_MARKER", "expand_error_tables", "load_tables",
           "render_markdown", "render_provider_tables"]

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


def _counts(cls: type[errors.InboxLinkError], rows: Sequence[ProviderRows]) -> str:
    links = []
    for provider in rows:
        count = sum(len(g.rules) for g in provider.groups if g.error is cls)
        if count:
            links.append(f"[{provider.label}](#raw-codes-{provider.label}) ({count})")
    return ", ".join(links)


def _user_text(cls: type[errors.InboxLinkError]) -> str:
    text = f"{cls.default_message} {cls.default_remedy}"
    if cls.default_retryable:
        text += " This is usually temporary: trying again later often works."
    return text


def _class_entry(cls: type[errors.InboxLinkError], rows: Sequence[ProviderRows]) -> list[str]:
    out = [f"## {cls.__name__}", "", f"`{_lineage(cls)}`", ""]
    doc = inspect.getdoc(cls) or ""
    if doc:
        out += [doc.split("\n\n")[0], ""]
    out += [f"- **Cause:** {cls.default_message}",
            f"- **Remedy:** {cls.default_remedy}",
            f"- **Retryable:** {'yes' if cls.default_retryable else 'no'}"]
    fields = _fields(cls)
    if fields:
        out.append("- **Extra fields:** " + ", ".join(f"`{f}`" for f in fields))
    also = _builtin_bases(cls)
    if also:
        out.append("- **Also catchable as:** " + ", ".join(f"`{b}`" for b in also))
    counts = _counts(cls, rows)
    out.append(f"- **Raw codes:** {counts}" if counts else
               "- **Raw codes:** none map here directly; inboxlink raises it itself "
               "(or a subclass is raised)")
    out += ["", '??? quote "What to tell your user"', f"    {_user_text(cls)}", ""]
    return out


def render_markdown(
    classes: Sequence[type[errors.InboxLinkError]] | None = None,
    loaded: LoadedTables | None = None,
) -> str:
    """The whole error reference as Markdown: the tree, one compact entry per class, then
    one table of raw codes per provider."""
    classes = list(classes if classes is not None else errors.all_error_classes())
    loaded = loaded if loaded is not None else load_tables()
    tables = sorted(loaded.tables, key=lambda t: t.provider)
    rows = provider_rows(tables)
    out = [
        "# Error reference",
        "",
        "Every failure raises a subclass of `inboxlink.errors.InboxLinkError` carrying "
        "`message`, `provider`, `code` (the raw provider code or text), `remedy` and "
        "`retryable`, with the client library's exception as `__cause__`. This page is "
        "generated from `inboxlink.errors` and the adapters' error tables at build time.",
        "",
    ]
    covered = ", ".join(f"`{t.provider}` ({len(t.rules)} rules)" for t in tables) or "none"
    out.append(f"Error tables included: {covered}.")
    if loaded.absent:
        out.append(" Built-in adapters not in this build: "
                   + ", ".join(f"`{name}`" for name in loaded.absent) + ".")
    out += ["", "## Telling your user", "",
            "An error's `message` and `remedy` are written for a person; each class below "
            "shows its default wording. Show the error's own text, which names the provider's "
            "details:",
            "",
            "```python",
            "try:",
            "    mailbox = inboxlink.connect(url, password=password)",
            "except inboxlink.errors.InboxLinkError as exc:",
            "    show_to_user(f\"{exc.message} {exc.remedy}\")",
            "    log.warning(\"%s: %s\", exc.provider, exc.code)  # the raw code, for you",
            "```",
            "", "## The tree", "", *_tree(classes), ""]
    for cls in classes:
        out += _class_entry(cls, rows)
    seen: dict[str, str] = {}
    for provider in rows:
        out += [f"## Raw codes: {provider.label} {{#raw-codes-{provider.label}}}", "",
                f"From the `{provider.table}` adapter's table, most specific first (the first "
                "matching rule wins). Signals that lead to the same error with the same remedy "
                "share a row.", "",
                *render_provider_table(provider, seen=seen), ""]
    fallbacks = [f"`{t.provider}` → `{t.fallback.__name__}`" for t in tables]
    if fallbacks:
        out += ["## When no rule matches", "",
                "Each table's fallback class: " + ", ".join(fallbacks) + ".", ""]
    return "\n".join(out)


def render_provider_tables(labels: Sequence[str], *, reference_page: str = "errors.md",
                           loaded: LoadedTables | None = None) -> str:
    """The raw-code tables of ``labels`` (``"imap"``, ``"smtp"`` …) for a provider's page."""
    loaded = loaded if loaded is not None else load_tables()
    rows = {r.label: r for r in provider_rows(loaded.tables)}
    out: list[str] = []
    seen: dict[str, str] = {}
    for label in labels:
        if label not in rows:
            raise KeyError(f"no error table rows labelled {label!r}")
        out += [f"**{label}**", "",
                *render_provider_table(rows[label], reference_page=reference_page, seen=seen),
                ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(render_markdown())


#: the marker a provider page puts where its generated raw-code tables go
ERROR_TABLE_MARKER = re.compile(r"<!--\s*inboxlink:error-table\s+([\w\s-]+?)\s*-->")


def expand_error_tables(markdown: str, *, reference_page: str = "errors.md") -> str:
    """``markdown`` with every ``<!-- inboxlink:error-table LABEL… -->`` marker replaced by
    the generated tables it names (what the docs build shows)."""
    return ERROR_TABLE_MARKER.sub(
        lambda match: render_provider_tables(match.group(1).split(),
                                             reference_page=reference_page), markdown)
