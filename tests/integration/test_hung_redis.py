"""A hung Redis (a private redis-server stopped with SIGSTOP: connections are accepted, nothing is
answered) never hangs the API: every `/api` route answers within 1.5 s, 200 where it can work
without Redis and 503 `SERVICE_UNAVAILABLE` with `Retry-After` where it cannot; a task creation
commits and answers. The breaker makes the outage cost one deadline per interval."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from prometheus_client import REGISTRY
from pytest_aiohttp import AiohttpClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.app import create_app
from lumi_api.auth.service import IssuedToken
from lumi_api.keys import SETTINGS, STORAGE
from lumi_api.routing import route_table
from lumi_api.settings import ApiSettings
from lumi_common.db.tables import GenerationRequest
from lumi_common.ids import new_id
from lumi_common.redis_breaker import BreakerState, RedisBreaker, RedisUnavailable
from lumi_common.redis_client import RedisClient, create_redis
from lumi_common.settings import RedisSettings
from tests.support.api import Client, finish_images, issue
from tests.support.gallery import auth, completed_model
from tests.support.private_redis import PrivateRedis, private_redis

pytestmark = pytest.mark.slow

Sessions = async_sessionmaker[AsyncSession]
ANSWER_WITHIN_SECONDS = 1.5
# a valid body where the route's refusal of `{}` would not reach what it does with Redis
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/tasks"): {"prompt": "a lighthouse in the fog"},
    ("POST", "/auth/send-code"): {"email": "someone@example.com"},
    ("PATCH", "/tasks/{task_id}"): {"selectedImageIndex": 0},
}


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    with private_redis(tmp_path / "redis") as server:
        yield server


@pytest_asyncio.fixture
async def hung_client(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    redis_server: PrivateRedis,
) -> Client:
    settings = settings_factory(redis_url=redis_server.url, email_backend="console")
    return await aiohttp_client(create_app(settings))


async def timed(client: Client, method: str, path: str, **kwargs: Any) -> tuple[int, Any, float]:
    started = time.perf_counter()
    response = await client.request(method, path, **kwargs)
    body = await response.read()
    took = time.perf_counter() - started
    # 501: routes not built yet answer so by design (test_api_guards)
    assert response.status < 500 or response.status in (501, 503), (method, path, body)
    if response.status == 503:
        assert int(response.headers["Retry-After"]) >= 1
    return response.status, response, took


async def test_with_redis_stopped_every_api_route_answers_within_the_deadline(
    hung_client: Client, redis_server: PrivateRedis, sessionmaker: Sessions, alice: IssuedToken
) -> None:
    client = hung_client
    created = await client.post("/api/tasks", json={"prompt": "a kite"}, headers=auth(alice))
    task_id = (await created.json())["data"]["id"]
    await finish_images(sessionmaker, task_id)
    model_id = (await completed_model(client, alice, sessionmaker))["id"]
    file_key = f"images/{new_id()}/0.png"
    await client.app[STORAGE].put(file_key, b"\x89PNG\r\n\x1a\n", "image/png")
    values = {"task_id": task_id, "model_id": model_id, "key": file_key}
    leaving = await issue(sessionmaker)

    failed_open, opened = (
        sample("lumi_rate_limit_failed_open_total"),
        sample("lumi_redis_breaker_opened_total"),
    )
    redis_server.pause()
    try:
        started = time.perf_counter()
        statuses = {}
        for spec in route_table(client.app).specs:
            if not spec.prefixed:
                continue
            path = re.sub(
                r"\{(\w+)(:[^}]*)?\}", lambda m: values.get(m.group(1), new_id()), spec.path
            )
            body = BODIES.get((spec.method, spec.path), {} if spec.body else None)
            caller = leaving if spec.path == "/auth/logout" else alice  # revokes its token
            status, _, took = await timed(
                client, spec.method, f"/api{path}", json=body, headers=auth(caller)
            )
            assert took < ANSWER_WITHIN_SECONDS, (spec.method, spec.path, took)
            statuses[(spec.method, spec.path)] = status
        walk = time.perf_counter() - started

        # what works without Redis answers as usual
        assert statuses[("GET", "/tasks")] == 200
        assert statuses[("GET", "/tasks/{task_id}")] == 200
        assert statuses[("GET", "/gallery/models")] == 200
        assert statuses[("GET", "/auth/me")] == 200
        # what cannot says so at once, with a time to come back
        assert statuses[("POST", "/auth/send-code")] == 503

        # a creation commits and answers; the relay publishes it once Redis is back
        status, response, took = await timed(
            client, "POST", "/api/tasks", json={"prompt": "a boat"}, headers=auth(alice)
        )
        assert status == 201
        assert took < ANSWER_WITHIN_SECONDS
        new_task = (await response.json())["data"]["id"]
        async with sessionmaker() as session:
            assert await session.get(GenerationRequest, new_task) is not None
    finally:
        redis_server.resume()
    print(f"\nhung redis: {len(statuses)} routes answered in {walk:.2f} s")
    # the limiter let each request through uncounted, and said so
    assert sample("lumi_rate_limit_failed_open_total") - failed_open >= len(statuses) - 1
    assert sample("lumi_redis_breaker_opened_total") - opened >= 1
    # the breaker: not one deadline per request (which would take this long at least)
    assert walk < len(statuses) * client.app[SETTINGS].redis_timeout_seconds


async def test_send_code_answers_503_with_retry_after_when_redis_is_stopped(
    hung_client: Client, redis_server: PrivateRedis
) -> None:
    redis_server.pause()
    try:
        status, response, took = await timed(
            hung_client, "POST", "/api/auth/send-code", json={"email": "a@example.com"}
        )
    finally:
        redis_server.resume()
    assert status == 503
    assert took < 1.0
    body = await response.json()
    assert body["status"] == "error"
    assert body["code"] == "SERVICE_UNAVAILABLE"
    assert int(response.headers["Retry-After"]) >= 1


async def test_the_breaker_costs_one_deadline_per_interval_and_probes_to_close(
    redis_server: PrivateRedis,
) -> None:
    breaker = RedisBreaker(timeout=0.2, reset_after=0.5)
    async with create_redis(RedisSettings(redis_url=redis_server.url), breaker=breaker) as redis:
        await redis.ping()
        redis_server.pause()
        try:
            started = time.perf_counter()
            with pytest.raises(RedisUnavailable):
                await redis.ping()
            assert 0.15 < time.perf_counter() - started < 1.0  # the deadline, once
            assert state(breaker) is BreakerState.OPEN

            started = time.perf_counter()
            for _ in range(50):  # open: refused without a round trip
                with pytest.raises(RedisUnavailable):
                    await redis.get("key")
            assert time.perf_counter() - started < 0.05

            await asyncio.sleep(0.5)
            probe = asyncio.create_task(ping(redis))  # half-open: this one call probes
            await asyncio.sleep(0.05)
            assert state(breaker) is BreakerState.HALF_OPEN
            with pytest.raises(RedisUnavailable):  # the others still fail at once
                await redis.get("key")
            with pytest.raises(RedisUnavailable):
                await probe
            assert state(breaker) is BreakerState.OPEN  # the probe failed: another interval
        finally:
            redis_server.resume()
        await asyncio.sleep(0.5)
        assert await redis.ping()  # the probe succeeds
        assert state(breaker) is BreakerState.CLOSED
        async with redis.pipeline(transaction=False) as pipe:  # pipelines are guarded too
            pipe.set("key", "1")
            pipe.get("key")
            assert await pipe.execute() == [True, b"1"]


def state(breaker: RedisBreaker) -> BreakerState:
    return breaker.state


async def ping(redis: RedisClient) -> bool:
    return bool(await redis.ping())


def sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0
