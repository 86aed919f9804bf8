"""Shared fixtures: real backends for the whole run, a unique Redis key prefix per test."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from lumi_api.settings import ApiSettings
from lumi_common.db import migrate
from lumi_common.db.engine import create_engine, create_sessionmaker
from lumi_common.redis_client import RedisClient, open_redis
from lumi_common.settings import DatabaseSettings, RedisSettings
from tests.support import backends as b
from tests.support.redis_cluster import RedisClusterServers
from tests.support.redis_cluster import binaries as cluster_binaries
from tests.support.redis_cluster import redis_cluster as start_redis_cluster
from tests.support.s3 import S3Server, moto_s3

TEST_COOKIE_SECRET = secrets.token_urlsafe(40)
TEST_FILE_URL_SECRET = secrets.token_urlsafe(40)


@pytest_asyncio.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    server = b.mysql_server_url()
    if not b.sqlite_requested() and await b.mysql_reachable(server):
        url = await b.create_mysql_database(server)
        await migrate.upgrade(DatabaseSettings(database_url=url))
        yield url
        await b.drop_mysql_database(url)
        return
    if b.required():
        pytest.fail(f"CI=true but MariaDB is not reachable at {server}")
    url = b.sqlite_url(tmp_path_factory.mktemp("db"))
    await migrate.upgrade(DatabaseSettings(database_url=url))
    yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    import asyncio
    import os

    url = os.environ.get("REDIS_URL", b.DEFAULT_REDIS)
    if asyncio.run(b.redis_reachable(url)):
        yield url
        return
    if b.required():
        pytest.fail(f"CI=true but Redis is not reachable at {url}")
    with b.embedded_valkey() as embedded:
        yield embedded


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServers]:
    """A real three-master Redis Cluster for the session, started only if a test asks for it
    (the `cluster` folders name it their `redis_url`)."""
    if cluster_binaries() is None:
        if b.required():
            pytest.fail("CI=true but redis-server/redis-cli are missing (apt: redis-server)")
        pytest.skip("redis-server/redis-cli are not installed (apt: redis-server)")
    with start_redis_cluster(tmp_path_factory.mktemp("redis-cluster")) as servers:
        yield servers


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real S3 server (moto's) for the session, started only if a test asks for it."""
    with moto_s3(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture
def key_prefix() -> str:
    """Each test owns the Redis keys under its prefix, so tests never see each other's streams."""
    return f"test-{secrets.token_hex(6)}"


def build_settings(
    *, database_url: str, redis_url: str, key_prefix: str, storage_dir: Path, **overrides: Any
) -> ApiSettings:
    """The API's settings for a test: real backends, its own Redis keys and storage."""
    values: dict[str, Any] = {
        "app_env": "test",
        "database_url": database_url,
        "redis_url": redis_url,
        "redis_key_prefix": key_prefix,
        "cookie_secret": TEST_COOKIE_SECRET,
        "file_url_secret": TEST_FILE_URL_SECRET,
        "storage_dir": storage_dir,
        "log_format": "json",
        # a relay publishes every due row of the shared test database: only where asked for
        "relay_enabled": False,
        # likewise the file sweep, which takes every due row; tests run it by hand
        "file_sweep_seconds": 0,
        # every scrape reads afresh: tests compare scrapes taken moments apart
        "metrics_cache_seconds": 0,
        # tests create many tasks as one user; test_tasks_quotas turns the quotas on
        "tasks_per_user_per_day": 0,
        "active_tasks_per_user": 0,
    }
    values.update(overrides)
    return ApiSettings(**values)


@pytest.fixture
def settings_factory(
    database_url: str, redis_url: str, key_prefix: str, tmp_path: Path
) -> Callable[..., ApiSettings]:
    def build(**overrides: Any) -> ApiSettings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "redis_url": redis_url,
            "key_prefix": key_prefix,
            "storage_dir": tmp_path / "storage",
        }
        return build_settings(**{**values, **overrides})

    return build


@pytest.fixture
def api_settings(settings_factory: Callable[..., ApiSettings]) -> ApiSettings:
    return settings_factory()


@pytest_asyncio.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(DatabaseSettings(database_url=database_url))
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest_asyncio.fixture
async def redis(redis_url: str, key_prefix: str) -> AsyncIterator[RedisClient]:
    settings = RedisSettings(redis_url=redis_url)
    client = await open_redis(settings) if settings.is_redis_cluster else Redis.from_url(redis_url)
    yield client
    keys = [key async for key in client.scan_iter(match=f"{key_prefix}:*", count=500)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest_asyncio.fixture
async def empty_outbox(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Relays publish every due row: start from an empty outbox so no other test's rows leak in."""
    from sqlalchemy import delete

    from lumi_common.db.tables import OutboxEvent

    async with sessionmaker.begin() as session:
        await session.execute(delete(OutboxEvent))


@pytest_asyncio.fixture(scope="session")
async def effects_table(engine: AsyncEngine) -> None:
    """The test-only table that `tests.support.handlers` record their side effects in."""
    from tests.support.handlers import create_effects_table

    await create_effects_table(engine)


@pytest_asyncio.fixture
async def no_stuck_jobs(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """A reconciler re-emits every stuck job of the database: cancel what earlier tests left
    active (those tests are over), so that it sees only this test's jobs."""
    from sqlalchemy import update

    from lumi_common.db.tables import ImageJob, ModelJob
    from lumi_common.states import ACTIVE_JOB_STATUSES, JobStatus

    async with sessionmaker.begin() as session:
        for table in (ImageJob, ModelJob):
            await session.execute(
                update(table)
                .where(table.status.in_(ACTIVE_JOB_STATUSES))
                .values(status=JobStatus.CANCELLED)
            )
