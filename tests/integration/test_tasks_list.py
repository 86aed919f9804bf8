"""`GET /api/tasks`: the caller's tasks newest first, paged the web's way and the mobile's way,
with the real total, in a constant number of queries."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api import texts
from lumi_api.auth.service import IssuedToken
from lumi_api.keys import ENGINE
from tests.support.api import Client, finish_images
from tests.support.language import said
from tests.support.queries import counting_statements


async def new_task(client: Client, token: IssuedToken, prompt: str) -> Any:
    response = await client.post(
        "/api/tasks", json={"prompt": prompt}, headers={"Authorization": token.header}
    )
    assert response.status == 201
    return (await response.json())["data"]


async def listed(client: Client, token: IssuedToken, query: str = "") -> tuple[int, Any]:
    response = await client.get(f"/api/tasks{query}", headers={"Authorization": token.header})
    return response.status, await response.json()


async def some_tasks(client: Client, token: IssuedToken, count: int) -> list[str]:
    """Their ids, newest first."""
    return [(await new_task(client, token, f"thing {n}"))["id"] for n in range(count)][::-1]


async def test_lists_the_full_tasks_newest_first_with_the_real_total(
    client: Client, alice: IssuedToken, bob: IssuedToken
) -> None:
    ids = await some_tasks(client, alice, 3)
    await new_task(client, bob, "not alice's")
    for prefix in ("/api", "/api/v1"):
        response = await client.get(f"{prefix}/tasks", headers={"Authorization": alice.header})
        assert response.status == 200
        data = (await response.json())["data"]
        assert [item["id"] for item in data["items"]] == ids
        assert data["total"] == 3
    detail = await client.get(f"/api/tasks/{ids[0]}", headers={"Authorization": alice.header})
    assert data["items"][0] == (await detail.json())["data"]  # images and model included
    assert len(data["items"][0]["images"]) == 4
    assert data["items"][0]["model"] is None


async def test_web_paging_limit_one_is_the_latest_task(client: Client, alice: IssuedToken) -> None:
    ids = await some_tasks(client, alice, 3)
    status, body = await listed(client, alice, "?limit=1")
    assert status == 200
    assert [item["id"] for item in body["data"]["items"]] == ids[:1]
    assert body["data"]["total"] == 3
    _, body = await listed(client, alice, "?limit=2&offset=2")
    assert [item["id"] for item in body["data"]["items"]] == ids[2:]


async def test_mobile_paging_walks_every_task_once(client: Client, alice: IssuedToken) -> None:
    ids = await some_tasks(client, alice, 5)
    seen = []
    for page in (1, 2, 3, 4):
        status, body = await listed(client, alice, f"?page={page}&pageSize=2")
        assert status == 200
        assert body["data"]["total"] == 5
        seen += [item["id"] for item in body["data"]["items"]]
    assert seen == ids


async def test_the_default_page_is_twenty(client: Client, alice: IssuedToken) -> None:
    await some_tasks(client, alice, 21)
    _, body = await listed(client, alice)
    assert len(body["data"]["items"]) == 20
    assert body["data"]["total"] == 21
    _, body = await listed(client, alice, "?page=2")
    assert len(body["data"]["items"]) == 1


async def test_a_new_user_has_no_tasks(client: Client, alice: IssuedToken) -> None:
    assert await listed(client, alice) == (
        200,
        {"status": "success", "data": {"items": [], "total": 0}},
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=abc", "limit"),
        ("?limit=1.5", "limit"),
        ("?offset=-1", "offset"),
        ("?offset=99999999999999999999999", "offset"),
        ("?page=0", "page"),
        ("?pageSize=1000", "pageSize"),
        ("?page=2&offset=10", "query"),
    ],
)
async def test_bad_paging_is_a_400(
    client: Client, alice: IssuedToken, query: str, field: str
) -> None:
    status, body = await listed(client, alice, query)
    assert status == 400
    assert body["status"] == "fail"
    assert body["data"]["code"] == "VALIDATION_ERROR"
    assert [error["field"] for error in body["data"]["details"]["errors"]] == [field]
    if field == "query":  # a rule about the whole query says only its reason
        assert body["data"]["message"] == said(texts.PAGE_OR_OFFSET)
    else:
        assert body["data"]["message"].startswith(f"{field}:")


async def test_anonymous_callers_must_sign_in(client: Client) -> None:
    response = await client.get("/api/tasks")
    assert response.status == 401
    assert (await response.json())["data"]["code"] == "UNAUTHORIZED"


async def test_a_page_costs_the_same_queries_whatever_its_size(
    client: Client, alice: IssuedToken, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ids = await some_tasks(client, alice, 6)
    await finish_images(sessionmaker, ids[0])
    chosen = await client.patch(
        f"/api/tasks/{ids[0]}",
        json={"selectedImageIndex": 2},
        headers={"Authorization": alice.header},
    )
    assert chosen.status == 200
    await listed(client, alice)  # the token is resolved (and cached) by now
    counts = {}
    for limit in (1, 6, 50):
        with counting_statements(client.app[ENGINE]) as statements:
            status, body = await listed(client, alice, f"?limit={limit}")
        assert status == 200
        counts[limit] = len(statements)
    # the page (with owner, model and model job), its images, the total; the token is cached
    assert counts == {1: 3, 6: 3, 50: 3}
    assert body["data"]["items"][0]["model"]["generationJob"]["status"] == "QUEUED"
