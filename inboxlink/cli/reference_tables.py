"""Per-provider tables of raw codes → error class, for the error reference and provider pages.

One row per (error class, remedy): every raw signal that leads to the same class with the same
remedy shares a row, so no remedy text is repeated; a rule that keeps the class's default
remedy links to the class's entry instead of copying it. Rows are labelled by the protocol
that raises them (``smtp``, ``tls`` rules of the IMAP adapter's table are shown as such),
read from each rule's catalogue id (``smtp.gmail.sending_limit``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

import attrs

from inboxlink import errors
from inboxlink.translate import ErrorTable, Rule

__all__ = ["Group", "ProviderRows", "provider_rows", "render_provider_table", "signal_text"]

#: catalogue-id prefixes shown under their own label although another adapter's table holds
#: them: the IMAP adapter also sends over SMTP and speaks TLS
SUB_PROTOCOLS = frozenset({"smtp", "tls"})


@attrs.frozen
class Group:
    """One table row: the signals that raise ``error`` with ``remedy``."""

    error: type[errors.InboxLinkError]
    remedy: str | None  #: ``None``: the class's default remedy
    rules: tuple[Rule, ...]


@attrs.frozen
class ProviderRows:
    """The rows of one provider label (``imap``, ``smtp``, ``graph`` …), in table order."""

    label: str
    table: str  #: the adapter table they come from
    groups: tuple[Group, ...]


def _label(table: ErrorTable, rule: Rule, previous: str) -> str:
    """A rule's label: its catalogue prefix when that names a sub-protocol; a rule without a
    catalogue id sits among its neighbours (the table is ordered by protocol)."""
    if rule.source is None:
        return previous
    prefix = rule.source.split(".", 1)[0]
    return prefix if prefix in SUB_PROTOCOLS else table.provider


def provider_rows(tables: Iterable[ErrorTable]) -> list[ProviderRows]:
    """Every table's rules, split by label and merged by (class, remedy)."""
    found: dict[str, dict[tuple[type[errors.InboxLinkError], str | None], list[Rule]]] = {}
    origin: dict[str, str] = {}
    for table in tables:
        label = table.provider
        for rule in table.rules:
            label = _label(table, rule, label)
            remedy = rule.remedy if rule.remedy != rule.error.default_remedy else None
            found.setdefault(label, {}).setdefault((rule.error, remedy), []).append(rule)
            origin.setdefault(label, table.provider)
    return [ProviderRows(label, origin[label],
                         tuple(Group(cls, remedy, tuple(rules))
                               for (cls, remedy), rules in groups.items()))
            for label, groups in found.items()]


#: where a long code may break: between the words of a CamelCase name, after ``.`` or ``_``
_BREAK = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[._])(?=\w)")


def _breakable(text: str) -> str:
    """``text`` escaped for HTML, with break points at word boundaries only."""
    return "<wbr>".join(html.escape(part) for part in _BREAK.split(text))


def _code(text: str) -> str:
    # A long alternation may break after each "|", and a long name between its words
    # (ErrorMailbox·NotEnabled·ForRESTAPI), never inside a token ("AADSTS50057").
    escaped = "&#124;<wbr>".join(_breakable(part) for part in text.split("|"))
    return f"<code>{escaped}</code>"


def _status(rule: Rule) -> str:
    if rule.status is None:
        return ""
    values = [rule.status] if isinstance(rule.status, int) else sorted(rule.status)
    return "status " + "/".join(str(v) for v in values)


def signal_text(rule: Rule) -> str:
    """A rule's raw signal as HTML: ``status 400/404 · code X · text ~ pattern``."""
    parts = [_status(rule)]
    if rule.code:
        parts.append(f"code {_code(rule.code)}")
    if rule.pattern:
        parts.append(f"text ~ {_code(rule.pattern)}")
    return " · ".join(p for p in parts if p) or "any"


def _remedy_cell(group: Group, anchor_of: str, label: str, seen: dict[str, str]) -> str:
    """The remedy text the first time it appears on the page; later, a pointer to it."""
    if group.remedy is None:
        return f"the class's remedy ([{group.error.__name__}]({anchor_of}#{_anchor(group.error)}))"
    if group.remedy in seen:
        first = seen[group.remedy]
        return f"same remedy as under [{first}]({anchor_of}#raw-codes-{first}) above" \
            if first != label else "same remedy as the row above with this remedy"
    seen[group.remedy] = label
    # a dotted name in a remedy (inboxlink.adapters.graph.lookup_mail_hosting) breaks at dots
    return _breakable(group.remedy).replace("|", "&#124;").replace("\n", " ")


def _anchor(cls: type[errors.InboxLinkError]) -> str:
    return cls.__name__.lower()


def _signals_cell(group: Group) -> str:
    sources = sorted({r.source for r in group.rules if r.source})
    signals = "<br>".join(signal_text(r) for r in group.rules)
    if sources:
        # catalogue ids make the row searchable by the name used in issues and logs
        signals += "<br><small>" + ", ".join(sources) + "</small>"
    return signals


def render_provider_table(rows: ProviderRows, *, reference_page: str = "",
                          seen: dict[str, str] | None = None) -> list[str]:
    """The Markdown lines of one label's table (3 columns: signals, error, remedy).

    ``reference_page`` is the link to the error reference from the page the table is on
    (``""`` on the reference itself, ``"errors.md"`` on a provider page). ``seen`` carries
    the remedies already shown on the page (remedy → label), so none is printed twice.
    """
    seen = {} if seen is None else seen
    # The marked header lets the stylesheet keep codes whole in these tables.
    out = ['| <span class="raw-codes">raw signal</span> | error | remedy |', "|---|---|---|"]
    for group in rows.groups:
        name = _breakable(group.error.__name__)
        link = f"[{name}]({reference_page}#{_anchor(group.error)})"
        out.append(f"| {_signals_cell(group)} | {link} | "
                   f"{_remedy_cell(group, reference_page, rows.label, seen)} |")
    return out

