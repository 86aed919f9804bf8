"""`/api/users/{favorites,likes,my-models,models}`: the caller's lists, in a constant number of
queries, showing only models the caller may still see."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import update

from lumi_api.auth.service import IssuedToken
from lumi_api.keys import ENGINE
from lumi_common.db.tables import Model
from lumi_common.states import Visibility
from tests.integration.test_tasks_select import MODEL_FIELDS
from tests.support.api import Client
from tests.support.gallery import (
    Sessions,
    auth,
    completed_model,
    published_models,
)
from tests.support.queries import counting_statements


async def listing(client: Client, token: IssuedToken, path: str) -> tuple[int, Any]:
    response = await client.get(f"/api/users/{path}", headers=auth(token))
    return response.status, await response.json()


async def ids_of(client: Client, token: IssuedToken, path: str) -> list[str]:
    status, body = await listing(client, token, path)
    assert status == 200, body
    items = body["data"] if isinstance(body["data"], list) else body["data"]["items"]
    return [item["id"] for item in items]


async def interact(client: Client, token: IssuedToken, model_id: str, kind: str) -> None:
    response = await client.post(
        f"/api/gallery/models/{model_id}/interactions", json={"type": kind}, headers=auth(token)
    )
    assert response.status == 200
    await asyncio.sleep(0.002)  # distinct milliseconds: the list is newest interaction first


@pytest.mark.parametrize(("path", "kind"), [("favorites", "FAVORITE"), ("likes", "LIKE")])
async def test_liked_and_favourite_models_newest_first_and_still_visible(
    client: Client,
    alice: IssuedToken,
    bob: IssuedToken,
    sessionmaker: Sessions,
    path: str,
    kind: str,
) -> None:
    first, second, hidden, deleted = await published_models(sessionmaker, alice.user_id, 4)
    own = (await published_models(sessionmaker, bob.user_id, 1, visibility=Visibility.PRIVATE))[0]
    for model_id in (first, second, hidden, deleted):
        await interact(client, bob, model_id, kind)
    # an own model is liked while it was public, then made private: it is still the caller's
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Model).where(Model.id == own).values(visibility=Visibility.PUBLIC)
        )
    await interact(client, bob, own, kind)
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Model).where(Model.id == own).values(visibility=Visibility.PRIVATE)
        )
    # the owner hides one and deletes another
    await client.patch(
        f"/api/models/{hidden}/visibility", json={"visibility": "PRIVATE"}, headers=auth(alice)
    )
    await client.delete(f"/api/models/{deleted}", headers=auth(alice))

    status, body = await listing(client, bob, path)
    assert status == 200
    assert isinstance(body["data"], list)
    assert [model["id"] for model in body["data"]] == [own, second, first]
    assert set(body["data"][0]) == MODEL_FIELDS
    assert body["data"][1]["user"]["id"] == alice.user_id
    assert await ids_of(client, bob, f"{path}?limit=2&offset=1&sort=latest") == [second, first]
    assert await ids_of(client, alice, path) == []


@pytest.mark.parametrize("path", ["favorites", "likes", "my-models", "models"])
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=NaN", "limit"),
        ("offset=-1", "offset"),
        ("offset=abc", "offset"),
    ],
)
async def test_bad_paging_is_a_400(
    client: Client, alice: IssuedToken, path: str, query: str, field: str
) -> None:
    status, body = await listing(client, alice, f"{path}?{query}")
    assert (status, body["data"]["code"]) == (400, "VALIDATION_ERROR")
    assert body["data"]["message"].startswith(f"{field}: ")


@pytest.mark.parametrize("path", ["favorites", "likes", "my-models", "models"])
async def test_lists_need_a_user(client: Client, path: str) -> None:
    for prefix in ("/api", "/api/v1"):
        response = await client.get(f"{prefix}/users/{path}")
        assert response.status == 401


async def test_my_models_filters_and_orders(
    client: Client, alice: IssuedToken, bob: IssuedToken, sessionmaker: Sessions
) -> None:
    # oldest first: b, a, c (by name: a, b, c); c is the most viewed, a the most liked
    b, a, c = await published_models(sessionmaker, alice.user_id, 3)
    async with sessionmaker.begin() as session:
        for model_id, name, views, likes, visibility in (
            (a, "a", 5, 9, Visibility.PUBLIC),
            (b, "b", 1, 0, Visibility.PRIVATE),
            (c, "c", 9, 1, Visibility.PUBLIC),
        ):
            await session.execute(
                update(Model)
                .where(Model.id == model_id)
                .values(name=name, view_count=views, like_count=likes, visibility=visibility)
            )
    await published_models(sessionmaker, bob.user_id, 2)
    assert await ids_of(client, alice, "my-models") == [c, a, b]
    for name in ("sort", "sortBy"):
        assert await ids_of(client, alice, f"my-models?{name}=latest") == [c, a, b]
        assert await ids_of(client, alice, f"my-models?{name}=name") == [a, b, c]
        assert await ids_of(client, alice, f"my-models?{name}=popular") == [c, a, b]
        assert await ids_of(client, alice, f"my-models?{name}=liked") == [a, c, b]
    assert await ids_of(client, alice, "my-models?visibility=PRIVATE") == [b]
    assert await ids_of(client, alice, "my-models?visibility=PUBLIC&sortBy=name") == [a, c]
    assert await ids_of(client, alice, "my-models?limit=1&offset=1") == [a]
    for query in ("sort=oldest", "sortBy=views", "visibility=public", "visibility=ALL"):
        status, body = await listing(client, alice, f"my-models?{query}")
        assert (status, body["data"]["code"]) == (400, "VALIDATION_ERROR")


async def test_the_models_page_counts_what_its_filter_matches(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    await published_models(sessionmaker, alice.user_id, 3)
    await published_models(
        sessionmaker, alice.user_id, 2, visibility=Visibility.PRIVATE, published_at=None
    )
    completed = await completed_model(client, alice, sessionmaker)  # public: 4 in all
    status, body = await listing(client, alice, "models")
    assert status == 200
    data = body["data"]
    assert set(data) == {"items", "total", "publicCount", "hasMore"}
    assert (len(data["items"]), data["total"], data["publicCount"], data["hasMore"]) == (
        6,
        6,
        4,
        False,
    )
    assert data["items"][0]["id"] == completed["id"]
    assert set(data["items"][0]) == MODEL_FIELDS
    status, body = await listing(client, alice, "models?visibility=PRIVATE&limit=1")
    data = body["data"]
    assert (len(data["items"]), data["total"], data["publicCount"], data["hasMore"]) == (
        1,
        2,
        4,
        True,
    )
    status, body = await listing(client, alice, "models?visibility=PUBLIC&limit=2&offset=2")
    data = body["data"]
    assert (len(data["items"]), data["total"], data["hasMore"]) == (2, 4, False)


@pytest.mark.parametrize(
    ("path", "expected"),
    [("favorites", 1), ("likes", 1), ("my-models", 1), ("models", 2)],
)
async def test_each_list_runs_a_constant_number_of_queries(
    client: Client,
    alice: IssuedToken,
    bob: IssuedToken,
    sessionmaker: Sessions,
    path: str,
    expected: int,
) -> None:
    kind = "FAVORITE" if path == "favorites" else "LIKE"
    owned = path in ("my-models", "models")
    made = 0
    counts = []
    await listing(client, alice, path)  # the token is resolved and cached by now
    for size in (1, 20):
        owner = alice if owned else bob
        for model_id in await published_models(sessionmaker, owner.user_id, size - made):
            if not owned:
                await interact(client, alice, model_id, kind)
        made = size
        with counting_statements(client.app[ENGINE]) as statements:
            status, body = await listing(client, alice, f"{path}?limit={size}")
        assert status == 200
        items = body["data"] if isinstance(body["data"], list) else body["data"]["items"]
        assert len(items) == size
        counts.append(len(statements))
    # the models with their owners and jobs (and, for `models`, the counts); the token is cached
    assert counts == [expected, expected]
