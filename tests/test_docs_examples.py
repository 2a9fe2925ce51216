"""The self-contained code samples of the asyncio and scale pages run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
FENCE = re.compile(r"```python\n(.*?)```", re.S)


def samples(page: str) -> list[str]:
    return FENCE.findall((DOCS / page).read_text(encoding="utf-8"))


@pytest.mark.parametrize(("page", "index"), [("async.md", 0), ("scale.md", 0), ("scale.md", 1)])
def test_sample_runs(page: str, index: int) -> None:
    code = samples(page)[index]
    exec(compile(code, f"{page}[{index}]", "exec"), {"__name__": "docs_sample"})
