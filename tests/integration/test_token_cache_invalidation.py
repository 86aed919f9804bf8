"""Cached tokens end everywhere at once: a logout, a profile change or `lumi token revoke` is
announced on Redis and every API process drops the entries it names; a process that lost its
subscription starts again with an empty cache. Replicas are apps sharing the database and Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from pytest_aiohttp import AiohttpClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.app import create_app
from lumi_api.auth import service as auth_service
from lumi_api.auth.invalidation import LISTENER
from lumi_api.auth.operator import TokenCliSettings, revoke_tokens
from lumi_api.keys import TOKEN_CACHE
from lumi_api.settings import ApiSettings
from tests.support.api import Client, issue, unique_email
from tests.support.backends import private_valkey

# long enough that only an announcement can explain a refusal within the test
CACHE_SECONDS = 300


async def replica(aiohttp_client: AiohttpClient, settings: ApiSettings) -> Client:
    client = await aiohttp_client(create_app(settings))
    await asyncio.wait_for(client.app[LISTENER].listening.wait(), 5)
    return client


async def status(client: Client, header: str) -> int:
    response = await client.get("/api/tasks", headers={"Authorization": header})
    return response.status


async def refused_within(client: Client, header: str, seconds: float) -> float:
    """How long until the replica answers 401 to this token (fails after `seconds`)."""
    began = time.perf_counter()
    while await status(client, header) != 401:
        assert time.perf_counter() - began < seconds, "the token still works on this replica"
        await asyncio.sleep(0.02)
    return time.perf_counter() - began


async def test_a_logout_on_one_replica_ends_the_token_on_the_others_at_once(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    settings = settings_factory(token_cache_seconds=CACHE_SECONDS)
    one, two = await replica(aiohttp_client, settings), await replica(aiohttp_client, settings)
    token = await issue(sessionmaker)
    assert (await status(one, token.header), await status(two, token.header)) == (200, 200)
    assert two.app[TOKEN_CACHE].get(auth_service.hash_token(token.token)) is not None  # cached

    await one.post("/api/auth/logout", headers={"Authorization": token.header})

    assert await refused_within(two, token.header, 2) < 2
    assert await status(one, token.header) == 401


async def test_lumi_token_revoke_ends_cached_tokens_at_once(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    sessionmaker: async_sessionmaker[AsyncSession],
    database_url: str,
    redis_url: str,
    key_prefix: str,
) -> None:
    client = await replica(aiohttp_client, settings_factory(token_cache_seconds=CACHE_SECONDS))
    email = unique_email()
    token = await issue(sessionmaker, email=email)
    assert await status(client, token.header) == 200

    cli = TokenCliSettings(
        database_url=database_url, redis_url=redis_url, redis_key_prefix=key_prefix
    )
    revoked = await revoke_tokens(cli, email=email)

    assert revoked is not None
    assert revoked.count == 1
    assert await refused_within(client, token.header, 2) < 2


async def test_a_replica_that_lost_redis_listens_again_with_an_empty_cache(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    with private_valkey() as server:
        settings = settings_factory(token_cache_seconds=CACHE_SECONDS, redis_url=server.url)
        one, two = await replica(aiohttp_client, settings), await replica(aiohttp_client, settings)
        token = await issue(sessionmaker)
        token_hash = auth_service.hash_token(token.token)
        assert await status(two, token.header) == 200

        server.stop()  # announcements made now would be lost
        listener = two.app[LISTENER]
        for _ in range(200):
            if not listener.listening.is_set():
                break
            await asyncio.sleep(0.05)
        assert not listener.listening.is_set()
        server.start()
        await asyncio.wait_for(listener.listening.wait(), 30)

        assert two.app[TOKEN_CACHE].get(token_hash) is None  # whatever was missed, forgotten
        assert await status(two, token.header) == 200  # looked up again, cached again
        await asyncio.wait_for(one.app[LISTENER].listening.wait(), 30)
        await one.post("/api/auth/logout", headers={"Authorization": token.header})
        assert await refused_within(two, token.header, 2) < 2
