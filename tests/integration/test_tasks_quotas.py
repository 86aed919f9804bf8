"""Generation quotas (issue 12, point 12): one account could create 600 tasks a minute. Past
`TASKS_PER_USER_PER_DAY` or `ACTIVE_TASKS_PER_USER` a creation is 429 `QUOTA_EXCEEDED` with
details; admins are exempt; parallel requests cannot all pass one count."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pytest_aiohttp import AiohttpClient
from redis.asyncio import Redis
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api import texts
from lumi_api.app import create_app
from lumi_api.auth import service as auth_service
from lumi_api.auth.service import IssuedToken
from lumi_api.settings import ApiSettings
from lumi_common.db.tables import GenerationRequest
from lumi_common.i18n.http import duration
from lumi_common.time import utcnow
from tests.support.api import Client, finish_images, unique_email
from tests.support.language import said

Sessions = async_sessionmaker[AsyncSession]


async def quota_client(
    aiohttp_client: AiohttpClient, settings_factory: Callable[..., ApiSettings], **quotas: int
) -> Client:
    values = {"tasks_per_user_per_day": 0, "active_tasks_per_user": 0, **quotas}
    return await aiohttp_client(create_app(settings_factory(**values)))


async def create(client: Client, token: IssuedToken) -> tuple[int, Any, str | None]:
    response = await client.post(
        "/api/tasks", json={"prompt": "a tin robot"}, headers={"Authorization": token.header}
    )
    return response.status, await response.json(), response.headers.get("Retry-After")


async def tasks_of(sessionmaker: Sessions, user_id: str) -> int:
    async with sessionmaker() as session:
        query = select(func.count()).where(GenerationRequest.user_id == user_id)
        return int(await session.scalar(query) or 0)


async def test_the_daily_quota(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    alice: IssuedToken,
    bob: IssuedToken,
    sessionmaker: Sessions,
    redis: Redis,
    key_prefix: str,
) -> None:
    client = await quota_client(aiohttp_client, settings_factory, tasks_per_user_per_day=3)
    for _ in range(3):
        assert (await create(client, alice))[0] == 201
    status, body, retry_after = await create(client, alice)
    assert (status, body["status"], body["data"]["code"]) == (429, "fail", "QUOTA_EXCEEDED")
    details = body["data"]["details"]
    assert {k: details[k] for k in ("quota", "limit", "used")} == {
        "quota": "TASKS_PER_USER_PER_DAY",
        "limit": 3,
        "used": 3,
    }
    assert 86000 < details["retryAfterSeconds"] <= 86400
    assert retry_after == str(details["retryAfterSeconds"])
    wait = duration(details["retryAfterSeconds"])
    assert body["data"]["message"] == said(texts.DAILY_EXCEEDED(limit=3, wait=wait))
    assert await tasks_of(sessionmaker, alice.user_id) == 3
    assert (await create(client, bob))[0] == 201  # per user
    # a day later the oldest no longer counts (in the rows, and in the creations' log)
    a_day = timedelta(days=1, seconds=1)
    async with sessionmaker.begin() as session:
        await session.execute(
            update(GenerationRequest)
            .where(GenerationRequest.user_id == alice.user_id)
            .values(created_at=utcnow() - a_day)
        )
    log = f"{key_prefix}:quota:created:{alice.user_id}"
    for member in await redis.zrange(log, 0, -1):
        assert isinstance(member, bytes)
        await redis.zincrby(log, -a_day.total_seconds() * 1000, member)
    assert (await create(client, alice))[0] == 201


async def test_deleting_tasks_does_not_give_the_daily_quota_back(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    alice: IssuedToken,
) -> None:
    """Their images may already be made: what they cost is spent."""
    client = await quota_client(aiohttp_client, settings_factory, tasks_per_user_per_day=2)
    for _ in range(2):
        task = (await create(client, alice))[1]["data"]["id"]
        deleted = await client.delete(f"/api/tasks/{task}", headers={"Authorization": alice.header})
        assert deleted.status == 200
    status, body, _ = await create(client, alice)
    assert (status, body["data"]["code"]) == (429, "QUOTA_EXCEEDED")
    assert body["data"]["details"]["used"] == 2


async def test_the_active_quota_counts_only_tasks_generating(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    alice: IssuedToken,
    sessionmaker: Sessions,
) -> None:
    client = await quota_client(aiohttp_client, settings_factory, active_tasks_per_user=2)
    first = (await create(client, alice))[1]["data"]["id"]
    assert (await create(client, alice))[0] == 201
    status, body, _ = await create(client, alice)
    assert (status, body["data"]["code"]) == (429, "QUOTA_EXCEEDED")
    assert body["data"]["details"] == {"quota": "ACTIVE_TASKS_PER_USER", "limit": 2, "used": 2}
    await finish_images(sessionmaker, first)  # waiting for a choice: costs nothing
    assert (await create(client, alice))[0] == 201


async def test_parallel_creations_cannot_all_pass_one_count(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    alice: IssuedToken,
    sessionmaker: Sessions,
) -> None:
    client = await quota_client(aiohttp_client, settings_factory, active_tasks_per_user=3)
    results = await asyncio.gather(*(create(client, alice) for _ in range(12)))
    assert sorted(status for status, _, _ in results) == [201] * 3 + [429] * 9
    assert await tasks_of(sessionmaker, alice.user_id) == 3


async def test_admins_are_exempt(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    sessionmaker: Sessions,
) -> None:
    client = await quota_client(
        aiohttp_client, settings_factory, tasks_per_user_per_day=1, active_tasks_per_user=1
    )
    async with sessionmaker.begin() as session:
        admin = await auth_service.issue_token(
            session, email=unique_email("admin"), ttl=timedelta(days=1), now=utcnow(), admin=True
        )
    for _ in range(3):
        assert (await create(client, admin))[0] == 201


def test_the_quotas_are_on_by_default() -> None:
    defaults = ApiSettings.model_fields
    assert defaults["tasks_per_user_per_day"].default == 100
    assert defaults["active_tasks_per_user"].default == 10
