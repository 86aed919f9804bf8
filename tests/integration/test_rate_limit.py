"""Rate limiting: a fixed one-minute window per caller in Redis, shared by replicas, 429 JSend
with `Retry-After`; signed-in users by account, everyone else by address; probes exempt."""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from collections.abc import Callable

import pytest
from pytest_aiohttp import AiohttpClient
from redis.asyncio import Redis

from lumi_api import texts
from lumi_api.app import create_app
from lumi_api.auth.service import IssuedToken
from lumi_api.ratelimit import WINDOW_SECONDS
from lumi_api.settings import ApiSettings
from tests.support.api import Client
from tests.support.backends import private_valkey
from tests.support.language import said

LIMIT = 3


@pytest.fixture(autouse=True)
async def fresh_window() -> None:
    """A test must not straddle two windows: wait for the next one when this one is ending."""
    left = WINDOW_SECONDS - time.time() % WINDOW_SECONDS
    if left < 5:
        await asyncio.sleep(left + 0.05)


async def limited(
    aiohttp_client: AiohttpClient, settings_factory: Callable[..., ApiSettings], **overrides: object
) -> Client:
    settings = settings_factory(rate_limit_per_minute=LIMIT, **overrides)
    return await aiohttp_client(create_app(settings))


async def statuses(client: Client, path: str, times: int, header: str | None = None) -> list[int]:
    headers = {"Authorization": header} if header else {}
    return [(await client.get(path, headers=headers)).status for _ in range(times)]


async def test_a_user_past_the_limit_gets_a_jsend_429_with_retry_after(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    alice: IssuedToken,
    bob: IssuedToken,
) -> None:
    client = await limited(aiohttp_client, settings_factory)
    assert await statuses(client, "/api/tasks", LIMIT, alice.header) == [200] * LIMIT
    response = await client.get(
        "/api/v1/tasks", headers={"Authorization": alice.header, "Origin": "http://localhost:3001"}
    )
    assert response.status == 429
    assert await response.json() == {
        "status": "fail",
        "data": {
            "message": said(texts.TOO_MANY_REQUESTS),
            "code": "RATE_LIMITED",
        },
    }
    assert 1 <= int(response.headers["Retry-After"]) <= WINDOW_SECONDS
    # the browser must be able to read the 429, so it carries the CORS headers too
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3001"
    assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]
    assert await statuses(client, "/api/tasks", 1, bob.header) == [200]  # per user


async def test_anonymous_callers_are_counted_by_address_whatever_token_they_make_up(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    alice: IssuedToken,
) -> None:
    client = await limited(aiohttp_client, settings_factory)
    made_up = [
        (await client.get("/api/openapi.json", headers={"Authorization": secrets.token_hex(8)}))
        for _ in range(LIMIT + 1)
    ]
    assert [response.status for response in made_up] == [200] * LIMIT + [429]
    assert await statuses(client, "/api/openapi.json", 1) == [429]
    assert await statuses(client, "/api/openapi.json", 1, alice.header) == [200]


async def test_health_probes_and_files_are_never_limited(
    aiohttp_client: AiohttpClient, settings_factory: Callable[..., ApiSettings]
) -> None:
    client = await limited(aiohttp_client, settings_factory)
    assert await statuses(client, "/api/health/live", LIMIT * 3) == [200] * (LIMIT * 3)
    assert await statuses(client, "/api/v1/health", LIMIT * 3) == [200] * (LIMIT * 3)
    assert set(await statuses(client, "/files/images/none/0.png", LIMIT * 2)) == {404}


async def test_replicas_share_one_count(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    alice: IssuedToken,
) -> None:
    one = await limited(aiohttp_client, settings_factory)
    two = await limited(aiohttp_client, settings_factory)
    assert await statuses(one, "/api/tasks", 2, alice.header) == [200, 200]
    assert await statuses(two, "/api/tasks", 2, alice.header) == [200, 429]


async def test_zero_turns_the_limit_off(
    aiohttp_client: AiohttpClient, settings_factory: Callable[..., ApiSettings]
) -> None:
    client = await aiohttp_client(create_app(settings_factory(rate_limit_per_minute=0)))
    assert set(await statuses(client, "/api/openapi.json", LIMIT * 3)) == {200}


async def test_requests_pass_when_redis_is_down(
    aiohttp_client: AiohttpClient, settings_factory: Callable[..., ApiSettings]
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = await limited(
        aiohttp_client, settings_factory, redis_url=f"redis://127.0.0.1:{port}/0"
    )
    assert await statuses(client, "/api/openapi.json", LIMIT + 1) == [200] * (LIMIT + 1)


async def test_concurrent_requests_are_counted_exactly(
    aiohttp_client: AiohttpClient, settings_factory: Callable[..., ApiSettings], alice: IssuedToken
) -> None:
    # requests arriving together share one pipeline of counts: each still gets its own count
    client = await limited(aiohttp_client, settings_factory)
    headers = {"Authorization": alice.header}
    responses = await asyncio.gather(
        *(client.get("/api/tasks", headers=headers) for _ in range(LIMIT + 4))
    )
    assert sorted(response.status for response in responses) == [200] * LIMIT + [429] * 4


async def test_counting_goes_on_after_redis_lost_its_scripts(
    aiohttp_client: AiohttpClient, settings_factory: Callable[..., ApiSettings], alice: IssuedToken
) -> None:
    with private_valkey() as server:
        client = await limited(aiohttp_client, settings_factory, redis_url=server.url)
        assert await statuses(client, "/api/tasks", 1, alice.header) == [200]
        async with Redis.from_url(server.url) as redis:
            await redis.script_flush()  # as after a restart: the script must be loaded again
        assert await statuses(client, "/api/tasks", LIMIT, alice.header) == [200, 200, 429]
