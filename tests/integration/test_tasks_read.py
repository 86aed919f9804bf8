"""`GET /api/tasks/:id` and `/status?since=`: owner only, 304 while unchanged, bounded queries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from lumi_api import texts
from lumi_api.auth.service import IssuedToken
from lumi_api.keys import ENGINE
from lumi_api.tasks.repository import TaskRepository
from lumi_common.db.tables import GenerationRequest
from lumi_common.time import iso_ms, parse_iso, utcnow
from tests.support.api import Client, finish_images
from tests.support.language import said
from tests.support.queries import counting_statements

NOT_FOUND = {"status": "fail", "data": {"message": said(texts.TASK_NOT_FOUND), "code": "NOT_FOUND"}}


async def new_task(client: Client, token: IssuedToken, prompt: str = "a teapot") -> Any:
    response = await client.post(
        "/api/tasks", json={"prompt": prompt}, headers={"Authorization": token.header}
    )
    assert response.status == 201
    return (await response.json())["data"]


async def get(client: Client, token: IssuedToken, path: str) -> tuple[int, Any]:
    response = await client.get(path, headers={"Authorization": token.header})
    body = await response.read()
    return response.status, (await response.json()) if body else body


async def bump(sessionmaker: async_sessionmaker[AsyncSession], task_id: str, by: timedelta) -> str:
    """Move the task's `updated_at` as a worker would, and return it as the API shows it."""
    async with sessionmaker.begin() as session:
        task = await session.get_one(GenerationRequest, task_id)
        moment = task.updated_at + by
        await session.execute(
            update(GenerationRequest)
            .where(GenerationRequest.id == task_id)
            .values(updated_at=moment)
        )
    return iso_ms(moment)


async def test_get_returns_the_full_task(client: Client, alice: IssuedToken) -> None:
    created = await new_task(client, alice)
    for prefix in ("/api", "/api/v1"):
        status, body = await get(client, alice, f"{prefix}/tasks/{created['id']}")
        assert status == 200
        assert body["data"] == created


@pytest.mark.parametrize("suffix", ["", "/status"])
async def test_another_users_task_is_not_found(
    client: Client, alice: IssuedToken, bob: IssuedToken, suffix: str
) -> None:
    task = await new_task(client, alice)
    assert await get(client, bob, f"/api/tasks/{task['id']}{suffix}") == (404, NOT_FOUND)


@pytest.mark.parametrize(
    "task_id", ["nope", "01ARZ3NDEKTSV4RRFFQ69G5FA", "8" * 26, "%27%20OR%201%3D1", "x" * 300]
)
@pytest.mark.parametrize("suffix", ["", "/status"])
async def test_malformed_ids_are_not_found(
    client: Client, alice: IssuedToken, task_id: str, suffix: str
) -> None:
    assert await get(client, alice, f"/api/tasks/{task_id}{suffix}") == (404, NOT_FOUND)


async def test_status_is_304_while_unchanged_and_200_after_a_change(
    client: Client, alice: IssuedToken, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    task = await new_task(client, alice)
    path = f"/api/tasks/{task['id']}/status"
    response = await client.get(
        path,
        params={"since": task["updatedAt"]},
        headers={"Authorization": alice.header, "Origin": "http://localhost:5173"},
    )
    assert response.status == 304
    assert await response.read() == b""
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"

    later = await bump(sessionmaker, task["id"], timedelta(milliseconds=1))
    response = await client.get(
        path, params={"since": task["updatedAt"]}, headers={"Authorization": alice.header}
    )
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-cache, must-revalidate"
    body = await response.json()
    assert body["data"]["updatedAt"] == later
    assert body["data"]["images"] == task["images"]
    # resending what it just received, as both apps do, is a 304 again
    assert (await get(client, alice, f"{path}?since={later}"))[0] == 304


async def test_status_without_since_is_the_full_task(client: Client, alice: IssuedToken) -> None:
    task = await new_task(client, alice)
    for query in ("", "?since="):
        status, body = await get(client, alice, f"/api/tasks/{task['id']}/status{query}")
        assert status == 200
        assert body["data"] == task


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        # the same instant written with an offset is still "not changed"
        (timedelta(0), 304),
        (timedelta(milliseconds=-1), 200),
        (timedelta(milliseconds=1), 304),
    ],
)
async def test_since_accepts_z_and_offsets_at_millisecond_precision(
    client: Client, alice: IssuedToken, offset: timedelta, expected: int
) -> None:
    task = await new_task(client, alice)
    moment = parse_iso(task["updatedAt"]) + offset
    in_tokyo = moment.astimezone(parse_iso("2026-01-01T00:00:00+09:00").tzinfo)
    path = f"/api/tasks/{task['id']}/status"
    for since in (iso_ms(moment), in_tokyo.isoformat(timespec="milliseconds")):
        response = await client.get(
            path, params={"since": since}, headers={"Authorization": alice.header}
        )
        assert response.status == expected, since
    # an unencoded `+09:00` arrives as a space; it still means the same instant
    raw = in_tokyo.isoformat(timespec="milliseconds")
    status, _ = await get(client, alice, f"{path}?since={raw}")
    assert status == expected


@pytest.mark.parametrize(
    "since",
    [
        "yesterday",
        "2026-13-01T00:00:00Z",
        "12345",
        "2026-02-30",
        # in range as written, past year 9999 in UTC: was an OverflowError, a 500 (issue 12.6)
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
    ],
)
async def test_unparseable_since_is_a_400(client: Client, alice: IssuedToken, since: str) -> None:
    task = await new_task(client, alice)
    response = await client.get(
        f"/api/tasks/{task['id']}/status",
        params={"since": since},
        headers={"Authorization": alice.header},
    )
    assert response.status == 400
    data = (await response.json())["data"]
    assert data["code"] == "VALIDATION_ERROR"
    assert data["message"].startswith("since:")


async def test_loading_a_task_takes_two_queries_with_or_without_a_model(
    client: Client,
    alice: IssuedToken,
    sessionmaker: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
) -> None:
    bare = await new_task(client, alice)
    full = await new_task(client, alice)
    await finish_images(sessionmaker, full["id"])
    selected = await client.patch(
        f"/api/tasks/{full['id']}",
        json={"selectedImageIndex": 1},
        headers={"Authorization": alice.header},
    )
    assert selected.status == 200
    counts = []
    for task_id in (bare["id"], full["id"]):
        async with sessionmaker() as session:
            with counting_statements(engine) as statements:
                task = await TaskRepository(session).load(task_id, user_id=alice.user_id)
        assert task is not None
        counts.append(len(statements))
    assert counts == [2, 2]
    assert task is not None
    assert task.model is not None
    assert task.model_job is not None
    assert len(task.images) == 4


async def test_the_status_route_runs_a_constant_number_of_queries(
    client: Client, alice: IssuedToken, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    bare = await new_task(client, alice)
    full = await new_task(client, alice)
    await finish_images(sessionmaker, full["id"])
    await client.patch(
        f"/api/tasks/{full['id']}",
        json={"selectedImageIndex": 0},
        headers={"Authorization": alice.header},
    )
    await get(client, alice, f"/api/tasks/{bare['id']}")  # the token is resolved and cached
    counts = []
    for task_id in (bare["id"], full["id"]):
        with counting_statements(client.app[ENGINE]) as statements:
            status, _ = await get(client, alice, f"/api/tasks/{task_id}/status")
        assert status == 200
        counts.append(len(statements))
    # the task with its model and job, then its images (the token is cached)
    assert counts == [2, 2]


async def test_updated_at_is_emitted_with_milliseconds(client: Client, alice: IssuedToken) -> None:
    task = await new_task(client, alice)
    assert abs(parse_iso(task["createdAt"]) - utcnow()) < timedelta(minutes=1)
    assert task["createdAt"].endswith("Z")
    assert len(task["createdAt"]) == len("2026-02-04T12:00:00.000Z")
