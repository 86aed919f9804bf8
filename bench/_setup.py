"""Shared set-up of the benchmarks: a fresh database and a private Redis key prefix."""

from __future__ import annotations

import os
import platform
import secrets
import statistics
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.support import backends

from lumi_common.db import migrate
from lumi_common.db.engine import create_engine
from lumi_common.redis_client import RedisClient, create_redis
from lumi_common.settings import DatabaseSettings, RedisSettings


@dataclass(frozen=True)
class BenchEnv:
    database_url: str
    redis_url: str
    key_prefix: str
    storage_dir: Path

    @property
    def backend(self) -> str:
        return "MariaDB" if self.database_url.startswith("mysql") else "SQLite"

    def engine(self, pool_size: int = 10) -> AsyncEngine:
        return create_engine(
            DatabaseSettings(
                database_url=self.database_url, db_pool_size=pool_size, db_max_overflow=10
            )
        )

    def redis(self) -> RedisClient:
        """A client configured as the services configure theirs."""
        return create_redis(RedisSettings(redis_url=self.redis_url))

    def header(self) -> str:
        return f"# {machine()}\n# database: {self.backend}; redis: {self.redis_url}"

    def process_env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            REDIS_KEY_PREFIX=self.key_prefix,
            STORAGE_URL=self.storage_dir.resolve().as_uri(),
            APP_ENV="test",
            LOG_LEVEL="WARNING",
            LOG_FORMAT="json",
            # one user creates every task of a run: no generation quotas
            TASKS_PER_USER_PER_DAY="0",
            ACTIVE_TASKS_PER_USER="0",
        )
        env.update(extra)
        return env


@asynccontextmanager
async def bench_env(tmp: Path) -> AsyncIterator[BenchEnv]:
    server = backends.mysql_server_url()
    mysql = not backends.sqlite_requested() and await backends.mysql_reachable(server)
    url = await backends.create_mysql_database(server) if mysql else backends.sqlite_url(tmp)
    await migrate.upgrade(DatabaseSettings(database_url=url))
    redis_url = os.environ.get("REDIS_URL", backends.DEFAULT_REDIS)
    if not await backends.redis_reachable(redis_url):
        raise SystemExit(f"Redis is not reachable at {redis_url}")
    env = BenchEnv(url, redis_url, f"bench-{secrets.token_hex(4)}", tmp / "storage")
    try:
        yield env
    finally:
        await _delete_keys(env)
        if mysql:
            await backends.drop_mysql_database(url)


async def _delete_keys(env: BenchEnv) -> None:
    """Every key under the prefix, and under the `<prefix>-<variant>` ones some runs use."""
    async with Redis.from_url(env.redis_url) as redis:
        for pattern in (f"{env.key_prefix}:*", f"{env.key_prefix}-*"):
            keys = [key async for key in redis.scan_iter(match=pattern, count=1000)]
            for first in range(0, len(keys), 1000):
                await redis.delete(*keys[first : first + 1000])


def machine() -> str:
    """The date, the CPUs and Python: the first line of a benchmark's output."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    now, python = datetime.now(UTC), platform.python_version()
    return f"{now:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs ({model}), Python {python}"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    return statistics.median(values)
