"""Redis connections, configured once (timeouts, retries) for every service."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from lumi_common.settings import RedisSettings

SOCKET_TIMEOUT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 2.0


def create_redis(
    settings: RedisSettings, *, socket_timeout: float | None = SOCKET_TIMEOUT_SECONDS
) -> Redis:
    """A client for commands. Blocking reads need `socket_timeout=None` or a longer one."""
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=2),
        health_check_interval=30,
    )
