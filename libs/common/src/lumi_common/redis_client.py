"""Redis connections, configured once (timeouts, retries) for every service.

`REDIS_URL` names one server or a Redis Cluster (`lumi_common.redis_url`). Code that takes a
client annotates it `RedisClient`, whichever it is: both speak the same commands, and what
differs on a cluster is confined to a few places (scripts in `lumi_common.redis_scripts`, pub/sub
in `lumi_common.redis_pubsub`). Every key a command or script touches together shares one hash
tag, so it works unchanged on a cluster.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.connection import SSLConnection, parse_url
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from lumi_common.redis_url import parse_cluster_url
from lumi_common.settings import RedisSettings

RedisClient: TypeAlias = Redis | RedisCluster

SOCKET_TIMEOUT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 2.0


def create_redis(
    settings: RedisSettings, *, socket_timeout: float | None = SOCKET_TIMEOUT_SECONDS
) -> RedisClient:
    """A client for commands. Blocking reads need `socket_timeout=None` or a longer one."""
    options: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
        # on a cluster, the number of times a command is sent again after the client refreshed
        # its map of the cluster (a node down, a failover under way)
        "retry": Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=2),
        "health_check_interval": 30,
    }
    if settings.is_redis_cluster:
        return _cluster(settings.redis_url, options)
    return Redis.from_url(settings.redis_url, **options)


def _cluster(url: str, options: dict[str, Any]) -> RedisCluster:
    seeds = parse_cluster_url(url)
    shared: dict[str, Any] = dict(parse_url(seeds.options_url))
    for name in ("host", "port", "db"):  # per node, or always 0 on a cluster
        shared.pop(name, None)
    if shared.pop("connection_class", None) is SSLConnection:
        shared["ssl"] = True
    nodes = [ClusterNode(host, port) for host, port in seeds.nodes]
    return RedisCluster(startup_nodes=nodes, **shared, **options)


def is_cluster(redis: RedisClient) -> bool:
    return isinstance(redis, RedisCluster)
