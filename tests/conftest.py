"""Fixtures shared by every test suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import RedisServer, redis_binary, start_redis


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server for the whole session; tests use their own key prefixes or flush."""
    if redis_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is missing; .ci/run installs the Debian package redis-server")
        pytest.skip("redis-server is not installed")
    server = start_redis(Path(tmp_path_factory.mktemp("redis")))
    yield server
    server.stop()
