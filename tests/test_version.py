"""``inboxlink.__version__`` comes from the installed package's metadata."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest

import inboxlink


def test_version_is_the_installed_distributions() -> None:
    assert inboxlink.__version__ == metadata.version("inboxlink")


def test_version_is_read_lazily_not_at_import() -> None:
    code = ("import sys, inboxlink; print('__version__' in vars(inboxlink)); "
            "inboxlink.__version__; print('__version__' in vars(inboxlink))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.split() == ["False", "True"]


def test_a_source_tree_without_metadata_says_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    assert inboxlink._version() == "0+unknown"


def test_other_missing_attributes_still_raise() -> None:
    with pytest.raises(AttributeError):
        inboxlink.no_such_thing  # type: ignore[attr-defined]  # noqa: B018
