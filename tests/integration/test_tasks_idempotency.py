"""`Idempotency-Key` on `POST /api/tasks`: a retry gets the first request's task (201 again,
marked `Idempotent-Replayed`), another body under the same key is a 409, and concurrent requests
with one key create one task."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.auth.service import IssuedToken
from lumi_common.db.tables import GenerationRequest, ImageJob, OutboxEvent
from tests.support.api import Client


async def create(
    client: Client, token: IssuedToken, key: str | None, prompt: str = "a clay pot"
) -> tuple[int, Any, dict[str, str]]:
    headers = {"Authorization": token.header}
    if key is not None:
        headers["Idempotency-Key"] = key
    response = await client.post("/api/tasks", json={"prompt": prompt}, headers=headers)
    return response.status, await response.json(), dict(response.headers)


async def tasks_of(sessionmaker: async_sessionmaker[AsyncSession], user_id: str) -> list[str]:
    async with sessionmaker() as session:
        query = select(GenerationRequest.id).where(GenerationRequest.user_id == user_id)
        return list((await session.scalars(query)).all())


async def test_a_retried_create_returns_the_same_task(
    client: Client, alice: IssuedToken, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    status, first, headers = await create(client, alice, "key-1")
    assert status == 201
    assert "Idempotent-Replayed" not in headers
    # whitespace around the prompt is the same request once validated
    status, again, headers = await create(client, alice, "key-1", prompt="  a clay pot ")
    assert status == 201
    assert headers["Idempotent-Replayed"] == "true"
    assert again["data"]["id"] == first["data"]["id"]
    assert await tasks_of(sessionmaker, alice.user_id) == [first["data"]["id"]]
    async with sessionmaker() as session:
        jobs = await session.scalar(
            select(func.count()).where(ImageJob.request_id == first["data"]["id"])
        )
        events = await session.scalar(
            select(func.count()).where(
                OutboxEvent.key.in_(
                    select(ImageJob.id).where(ImageJob.request_id == again["data"]["id"])
                )
            )
        )
    assert (jobs, events) == (4, 4)


async def test_the_same_key_with_another_body_is_a_409(client: Client, alice: IssuedToken) -> None:
    await create(client, alice, "key-2")
    status, body, _ = await create(client, alice, "key-2", prompt="a glass pot")
    assert status == 409
    assert body["status"] == "fail"
    assert body["data"]["code"] == "IDEMPOTENCY_KEY_REUSED"


async def test_keys_belong_to_their_user(
    client: Client, alice: IssuedToken, bob: IssuedToken
) -> None:
    _, mine, _ = await create(client, alice, "shared-key")
    status, theirs, _ = await create(client, bob, "shared-key")
    assert status == 201
    assert theirs["data"]["id"] != mine["data"]["id"]


async def test_keys_are_case_insensitive(client: Client, alice: IssuedToken) -> None:
    _, first, _ = await create(client, alice, "Key-ABC")
    _, again, headers = await create(client, alice, "key-abc")
    assert again["data"]["id"] == first["data"]["id"]
    assert headers["Idempotent-Replayed"] == "true"


async def test_without_a_key_every_request_creates_a_task(
    client: Client, alice: IssuedToken
) -> None:
    _, first, _ = await create(client, alice, None)
    _, second, _ = await create(client, alice, None)
    assert first["data"]["id"] != second["data"]["id"]


async def test_concurrent_requests_with_one_key_create_one_task(
    client: Client, alice: IssuedToken, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    results = await asyncio.gather(*(create(client, alice, "race") for _ in range(6)))
    assert {status for status, _, _ in results} == {201}
    assert len({body["data"]["id"] for _, body, _ in results}) == 1
    assert len(await tasks_of(sessionmaker, alice.user_id)) == 1


async def test_a_deleted_tasks_key_is_free_again(client: Client, alice: IssuedToken) -> None:
    _, first, _ = await create(client, alice, "key-3")
    deleted = await client.delete(
        f"/api/tasks/{first['data']['id']}", headers={"Authorization": alice.header}
    )
    assert deleted.status == 200
    status, second, headers = await create(client, alice, "key-3")
    assert status == 201
    assert second["data"]["id"] != first["data"]["id"]
    assert "Idempotent-Replayed" not in headers


@pytest.mark.parametrize("key", ["", "   ", "k" * 129, "has space", "naïve"])
async def test_malformed_keys_are_a_400(client: Client, alice: IssuedToken, key: str) -> None:
    status, body, _ = await create(client, alice, key)
    assert status == 400
    assert body["data"]["code"] == "VALIDATION_ERROR"
    assert body["data"]["message"].startswith("Idempotency-Key:")


async def test_a_128_character_key_is_accepted(client: Client, alice: IssuedToken) -> None:
    status, _, _ = await create(client, alice, "k" * 128)
    assert status == 201
