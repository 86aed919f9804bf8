"""The tests of this folder run on a real three-master Redis Cluster (`redis_cluster`, started
once for the session from Debian's `redis-server`): `redis_url` names it, so the settings, the
processes and the `redis` client of every fixture use it instead of the single server."""

from __future__ import annotations

import pytest

from tests.support.redis_cluster import RedisClusterServers


@pytest.fixture(scope="session")
def redis_url(redis_cluster: RedisClusterServers) -> str:
    return redis_cluster.url
