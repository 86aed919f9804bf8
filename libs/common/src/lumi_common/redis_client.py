"""Redis connections, configured once (timeouts, retries) for every service.

`REDIS_URL` names one server or a Redis Cluster (`lumi_common.redis_url`). Code that takes a
client annotates it `RedisClient`, whichever it is: both speak the same commands, and what
differs on a cluster is confined to a few places (scripts in `lumi_common.redis_scripts`, pub/sub
in `lumi_common.redis_pubsub`). Every key a command or script touches together shares one hash
tag, so it works unchanged on a cluster.
"""

from __future__ import annotations

import os
import traceback
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any, TypeAlias, cast

import structlog
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterNode, ClusterPipeline
from redis.asyncio.connection import SSLConnection, parse_url
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.event import EventDispatcherInterface
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError, SlotNotCoveredError

from lumi_common.redis_breaker import RedisBreaker
from lumi_common.redis_url import parse_cluster_url
from lumi_common.settings import RedisSettings

RedisClient: TypeAlias = Redis | RedisCluster

SOCKET_TIMEOUT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 2.0
# redis-py's cluster client keeps at most this many connections per node and refuses a command
# beyond it (MaxConnectionsError, 100 by default) instead of waiting; one server's client has no
# such limit, and neither should a node's
CLUSTER_MAX_CONNECTIONS_PER_NODE = 2**31

log = structlog.get_logger(__name__)
_REDIS_CONNECTION = os.path.join("redis", "asyncio", "connection.py")
_ASYNCIO = os.sep + "asyncio" + os.sep


def create_redis(
    settings: RedisSettings,
    *,
    socket_timeout: float | None = SOCKET_TIMEOUT_SECONDS,
    breaker: RedisBreaker | None = None,
) -> RedisClient:
    """A client for commands. Blocking reads need `socket_timeout=None` or a longer one.

    With a `breaker` (the API's request path), every command and pipeline runs within its
    deadline and fails at once while it is open; connecting waits no longer than the deadline."""
    connect_timeout = CONNECT_TIMEOUT_SECONDS
    if breaker is not None:
        socket_timeout = connect_timeout = breaker.timeout
    options: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": connect_timeout,
        # on a cluster, the number of times a command is sent again after the client refreshed
        # its map of the cluster (a node down, a failover under way)
        "retry": Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=2),
        "health_check_interval": 30,
    }
    if settings.is_redis_cluster:
        cluster = _cluster(settings.redis_url, options)
        cluster.breaker = breaker
        return cluster
    if breaker is None:
        return Redis.from_url(settings.redis_url, **options)
    guarded = cast(_GuardedRedis, _GuardedRedis.from_url(settings.redis_url, **options))
    guarded.breaker = breaker
    return guarded


def _guard(breaker: RedisBreaker | None) -> AbstractAsyncContextManager[None]:
    return nullcontext() if breaker is None else breaker.guard()


class _GuardedRedis(Redis):
    """One server's client whose commands and pipelines go through a breaker."""

    breaker: RedisBreaker

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        async with self.breaker.guard():
            # redis-py leaves it untyped
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        pipe = _GuardedPipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint
        )
        pipe.breaker = self.breaker
        return pipe


class _GuardedPipeline(Pipeline):
    breaker: RedisBreaker

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        async with self.breaker.guard():
            return await super().execute(raise_on_error)


def _cluster(url: str, options: dict[str, Any]) -> _Cluster:
    seeds = parse_cluster_url(url)
    shared: dict[str, Any] = dict(parse_url(seeds.options_url))
    for name in ("host", "port", "db"):  # per node, or always 0 on a cluster
        shared.pop(name, None)
    if shared.pop("connection_class", None) is SSLConnection:
        shared["ssl"] = True
    nodes = [ClusterNode(host, port) for host, port in seeds.nodes]
    return _Cluster(
        startup_nodes=nodes, max_connections=CLUSTER_MAX_CONNECTIONS_PER_NODE, **shared, **options
    )


class ClusterUnavailable(RedisConnectionError):
    """No node of the cluster could be reached, or a slot has no master (a failover under way)."""


class _Cluster(RedisCluster):
    """redis-py's cluster client, whose outages are `RedisError`s like one server's.

    redis-py raises `RedisClusterException` when no node answers and `SlotNotCoveredError` while
    a slot has no master, and neither is a `RedisError`: every `except RedisError` that keeps a
    loop alive through a Redis outage (the relay, consumers, the token listener, the limits and
    caches that let requests through) would let them escape. Cross-slot mistakes keep their type.
    """

    breaker: RedisBreaker | None = None

    async def initialize(self, *args: Any, **kwargs: Any) -> RedisCluster:
        try:
            return await super().initialize(*args, **kwargs)
        except RedisClusterException as exc:  # discovering the cluster failed: nobody answered
            raise ClusterUnavailable(str(exc)) from exc

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        async with _guard(self.breaker):
            try:
                return await super().execute_command(*args, **kwargs)
            except SlotNotCoveredError as exc:
                raise ClusterUnavailable(str(exc)) from exc
            except (AttributeError, TypeError) as exc:
                if closed_while_writing(exc):
                    raise ConnectionClosedWhileWriting(str(exc)) from exc
                raise

    def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> Any:
        if shard_hint:
            raise RedisClusterException("shard_hint is deprecated in cluster mode")
        pipe = _ClusterPipeline(self, transaction)
        pipe.breaker = self.breaker
        return pipe


class _ClusterPipeline(ClusterPipeline):
    # declared by redis-py's command protocol, which the pipeline never sets (nor reads)
    _event_dispatcher: EventDispatcherInterface
    breaker: RedisBreaker | None = None

    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> Any:
        async with _guard(self.breaker):
            try:
                return await super().execute(raise_on_error, allow_redirections)
            except SlotNotCoveredError as exc:
                raise ClusterUnavailable(str(exc)) from exc
            except (AttributeError, TypeError) as exc:
                if closed_while_writing(exc):
                    raise ConnectionClosedWhileWriting(str(exc)) from exc
                raise


class ConnectionClosedWhileWriting(RedisConnectionError):
    """redis-py let a transport's close race escape as AttributeError or TypeError."""


def closed_while_writing(exc: BaseException) -> bool:
    """A connection closed under a write (a failover's node reset while a command was being
    sent) surfaces from redis-py 8.1 as `'NoneType' object has no attribute 'writelines'` or
    `'NoneType' object is not callable` (redis-py#4287), not as the ConnectionError every loop
    here recovers from. True only for an error raised inside redis-py's connection or asyncio's
    transport under it; any other keeps its type (a bug of ours)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames or not any(_REDIS_CONNECTION in frame.filename for frame in frames):
        return False
    innermost = frames[-1].filename
    return _REDIS_CONNECTION in innermost or _ASYNCIO in innermost


async def open_redis(
    settings: RedisSettings,
    *,
    socket_timeout: float | None = SOCKET_TIMEOUT_SECONDS,
    breaker: RedisBreaker | None = None,
) -> RedisClient:
    """`create_redis` for a process that sends many commands at once: a cluster client learns
    the cluster's layout now. redis-py 8.1's cluster client, first used by concurrent commands,
    races its own discovery: some commands fail and some are sent twice (an INCR counted twice;
    `tests/integration/cluster/test_client.py`). A cluster unreachable now is discovered on first
    use instead, as one server's client connects on first use."""
    redis = create_redis(settings, socket_timeout=socket_timeout, breaker=breaker)
    if isinstance(redis, RedisCluster):
        try:
            await redis.initialize()
        except (RedisError, OSError) as exc:
            log.warning("redis.cluster.unreachable", error=repr(exc))
    return redis
