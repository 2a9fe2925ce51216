"""Fixtures of the command-line tests."""

from __future__ import annotations

import pytest

from .helpers import Captured


@pytest.fixture
def captured() -> Captured:
    return Captured()
