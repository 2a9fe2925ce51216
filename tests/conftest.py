"""Fixtures shared across test packages: a real redis-server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sync.redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.close()
