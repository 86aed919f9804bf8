"""One API on a real port, one local SMTP server and one populated world for the whole package:
building the world runs both workers, so it is built once."""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.app import create_app
from lumi_common.db.tables import OutboxEvent
from lumi_common.storage.local import LocalStorage
from tests.conftest import build_settings
from tests.contract.world import World
from tests.support.smtp import smtp_server
from tests.support.workers import Workers


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest_asyncio.fixture(scope="package")
async def world(
    database_url: str,
    redis_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[World]:
    # the in-process relay publishes every due row of the shared database: start from none
    async with sessionmaker.begin() as session:
        await session.execute(delete(OutboxEvent))
    root, prefix, port = (
        tmp_path_factory.mktemp("contract"),
        f"test-{secrets.token_hex(6)}",
        free_port(),
    )
    redis = Redis.from_url(redis_url)
    async with smtp_server() as inbox, aiohttp.ClientSession() as http:
        settings = build_settings(
            database_url=database_url,
            redis_url=redis_url,
            key_prefix=prefix,
            storage_dir=root / "storage",
            public_base_url=f"http://127.0.0.1:{port}",
            send_code_interval_seconds=0,  # the same user logs in again for logout
            send_code_per_ip_per_hour=1000,
            **inbox.settings(),
        )
        server = TestServer(create_app(settings), host="127.0.0.1", port=port)
        await server.start_server()
        try:
            workers = Workers(sessionmaker, redis, prefix, LocalStorage(root / "storage"))
            world = World(f"http://127.0.0.1:{port}", http, inbox, workers, root / "relief")
            await world.populate()
            yield world
        finally:
            await server.close()
            keys = [key async for key in redis.scan_iter(match=f"{prefix}:*", count=500)]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()
