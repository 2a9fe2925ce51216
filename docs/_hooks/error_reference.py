"""mkdocs hook: add ``errors.md``, generated from inboxlink.errors and the adapters' tables."""

from __future__ import annotations

from typing import Any

from mkdocs.structure.files import File, Files


def on_files(files: Files, config: Any) -> Files:
    """Generate the error reference at every build, so it always matches the code."""
    from inboxlink.cli.reference import render_markdown

    files.append(File.generated(config, "errors.md", content=render_markdown()))
    return files
