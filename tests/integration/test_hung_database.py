"""A hung MariaDB (a proxy in front of the real server stops forwarding: connections stay open,
nothing is answered) never hangs the API: each request answers 503 `SERVICE_UNAVAILABLE` with
`Retry-After` within the statement deadline plus the pool's wait, concurrent requests do not pile
up behind each other, and the pool recovers once the server answers again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest_asyncio
from pytest_aiohttp import AiohttpClient

from lumi_api.app import create_app
from lumi_api.auth.service import IssuedToken
from lumi_api.settings import ApiSettings
from tests.support.api import Client
from tests.support.gallery import auth
from tests.support.mysql_proxy import MysqlProxy

STATEMENT_TIMEOUT = 0.5
POOL_TIMEOUT = 1.0
# a request waits for a connection (the pool) and then for one answer (the statement deadline);
# the rest is slack for a busy machine (without the deadline, they wait until the server answers)
BOUND = STATEMENT_TIMEOUT + POOL_TIMEOUT + 1.5


@pytest_asyncio.fixture
async def client(
    aiohttp_client: AiohttpClient, proxied_settings: Callable[..., ApiSettings]
) -> Client:
    settings = proxied_settings(
        db_statement_timeout_seconds=STATEMENT_TIMEOUT,
        db_pool_timeout=POOL_TIMEOUT,
        db_pool_size=2,
        db_max_overflow=0,
    )
    return await aiohttp_client(create_app(settings))


async def timed_get(client: Client, token: IssuedToken) -> tuple[int, float, str | None]:
    started = time.perf_counter()
    response = await client.get("/api/tasks", headers=auth(token))
    await response.read()
    return response.status, time.perf_counter() - started, response.headers.get("Retry-After")


async def test_with_the_database_hung_requests_answer_503_within_the_deadline(
    client: Client, proxy: MysqlProxy, alice: IssuedToken
) -> None:
    assert (await timed_get(client, alice))[0] == 200
    proxy.hang()
    try:
        started = time.perf_counter()
        answers = await asyncio.gather(*(timed_get(client, alice) for _ in range(20)))
        took = time.perf_counter() - started
        created = await client.post("/api/tasks", json={"prompt": "a kite"}, headers=auth(alice))
        body = await created.json()
    finally:
        proxy.release()
    print(f"\nhung database: 20 concurrent requests answered within {took:.2f} s")
    assert {status for status, _, _ in answers} == {503}
    assert max(seconds for _, seconds, _ in answers) < BOUND
    assert {retry_after for _, _, retry_after in answers} == {"1"}
    assert created.status == 503
    assert body["code"] == "SERVICE_UNAVAILABLE"
    # the pool drops what hung and connects again
    assert (await timed_get(client, alice))[0] == 200
