"""Shared set-up of the benchmarks: a fresh database and a private Redis key prefix."""

from __future__ import annotations

import os
import secrets
import statistics
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support import backends

from lumi_common.db import migrate
from lumi_common.settings import DatabaseSettings


@dataclass(frozen=True)
class BenchEnv:
    database_url: str
    redis_url: str
    key_prefix: str
    storage_dir: Path

    @property
    def backend(self) -> str:
        return "MariaDB" if self.database_url.startswith("mysql") else "SQLite"

    def process_env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            REDIS_KEY_PREFIX=self.key_prefix,
            STORAGE_DIR=str(self.storage_dir),
            APP_ENV="test",
            LOG_LEVEL="WARNING",
            LOG_FORMAT="json",
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
    try:
        yield BenchEnv(url, redis_url, f"bench-{secrets.token_hex(4)}", tmp / "storage")
    finally:
        if mysql:
            await backends.drop_mysql_database(url)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    return statistics.median(values)
