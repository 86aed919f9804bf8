"""Fixtures for the end-to-end tests: the real processes of one Lumi."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from redis.asyncio import Redis

from tests.support.api import unique_email
from tests.support.lumi_client import LumiClient
from tests.support.processes import free_port
from tests.support.services import Services, system_env


@pytest.fixture
def services(
    database_url: str, redis_url: str, key_prefix: str, tmp_path: Path, redis: Redis
) -> Iterator[Services]:
    """This test's Lumi: its own Redis prefix and storage; every process stopped at the end.

    (`redis` is requested so the test's keys are deleted after the processes have stopped.)
    """
    env = system_env(
        database_url=database_url,
        redis_url=redis_url,
        key_prefix=key_prefix,
        storage_dir=tmp_path / "storage",
        port=free_port(),
    )
    running = Services(tmp_path / "logs", env)
    yield running
    running.close()


@pytest_asyncio.fixture
async def client(services: Services) -> AsyncIterator[LumiClient]:
    """The API running, and a user signed in with a token from `lumi token create`."""
    await services.start_api()
    token = await services.token(unique_email("e2e"))
    async with aiohttp.ClientSession() as session:
        yield LumiClient(session, services.base_url, token)
