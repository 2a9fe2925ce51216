"""A wide, colourless rich console whose output the tests read back."""

from __future__ import annotations

import io

from rich.console import Console


class Captured:
    """A rich console writing into a buffer, and the text written so far."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.console = Console(file=self.buffer, width=200, color_system=None,
                               force_terminal=False, highlight=False, soft_wrap=True)

    @property
    def text(self) -> str:
        return self.buffer.getvalue()

