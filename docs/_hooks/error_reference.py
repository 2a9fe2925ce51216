"""mkdocs hook: pages generated from the code and the repository, so they cannot drift.

* ``errors.md``: the error reference, from ``inboxlink.errors`` and the adapters' tables;
* a provider page's ``<!-- inboxlink:error-table imap smtp tls -->`` marker: that
  provider's raw-code tables, from the same tables;
* ``changelog.md``: ``CHANGELOG.md`` itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

_ROOT = Path(__file__).resolve().parents[2]


def on_files(files: Files, config: Any) -> Files:
    """Generate the error reference and the changelog page at every build."""
    from inboxlink.cli.reference import render_markdown

    files.append(File.generated(config, "errors.md", content=render_markdown()))
    changelog = (_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    files.append(File.generated(config, "changelog.md", content=changelog))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """Replace each error-table marker with the generated tables it names."""
    from inboxlink.cli.reference import expand_error_tables

    return expand_error_tables(markdown, reference_page="errors.md")
