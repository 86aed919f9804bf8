"""Fixtures for the API's routes: a client on a fresh app, its database behind a proxy the test
controls, and signed-in users."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from pytest_aiohttp import AiohttpClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.app import create_app
from lumi_api.auth.service import IssuedToken
from lumi_api.settings import ApiSettings
from tests.support.api import Client, issue, unique_email
from tests.support.mysql_proxy import MysqlProxy, database_proxy


@pytest_asyncio.fixture
async def client(
    aiohttp_client: AiohttpClient, settings_factory: Callable[..., ApiSettings]
) -> Client:
    """The API without its relay: these tests read the outbox rows the routes write."""
    return await aiohttp_client(create_app(settings_factory()))


@pytest_asyncio.fixture
async def uncached_client(
    aiohttp_client: AiohttpClient, settings_factory: Callable[..., ApiSettings]
) -> Client:
    """The API asking the database about every token (no in-process token cache): for tests of
    what a lookup does, or of revocations made outside the process."""
    return await aiohttp_client(create_app(settings_factory(token_cache_seconds=0)))


@pytest_asyncio.fixture
async def proxy(database_url: str) -> AsyncIterator[MysqlProxy]:
    """MariaDB behind a proxy that can hang or cut connections (skips on SQLite)."""
    async with database_proxy(database_url) as proxy:
        yield proxy


@pytest.fixture
def proxied_settings(
    settings_factory: Callable[..., ApiSettings], proxy: MysqlProxy, database_url: str
) -> Callable[..., ApiSettings]:
    """`settings_factory`, with the database reached through `proxy`."""

    def build(**overrides: Any) -> ApiSettings:
        return settings_factory(database_url=proxy.url_for(database_url), **overrides)

    return build


@pytest_asyncio.fixture
async def alice(sessionmaker: async_sessionmaker[AsyncSession]) -> IssuedToken:
    return await issue(sessionmaker)


@pytest_asyncio.fixture
async def bob(sessionmaker: async_sessionmaker[AsyncSession]) -> IssuedToken:
    return await issue(sessionmaker)


@pytest_asyncio.fixture
async def admin(sessionmaker: async_sessionmaker[AsyncSession]) -> IssuedToken:
    """A signed-in administrator (`lumi token create --admin`)."""
    return await issue(sessionmaker, email=unique_email("admin"), admin=True)


@pytest_asyncio.fixture
async def empty_gallery(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """The gallery lists every published model of the shared database: start from none."""
    from sqlalchemy import delete

    from lumi_common.db.tables import Model

    async with sessionmaker.begin() as session:
        await session.execute(delete(Model))
