"""Argument types and signatures shared by the CLI's command modules."""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["AddConnection", "positive_float", "positive_int"]

#: registers the URL and secret options on a sub-command's parser
AddConnection = Callable[[argparse.ArgumentParser], None]


def positive_int(text: str) -> int:
    """An ``int`` of at least 1 (argparse ``type=``)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def positive_float(text: str) -> float:
    """A ``float`` above 0 (argparse ``type=``)."""
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value
