"""Likes, favourites and downloads: toggles that keep each counter equal to its rows under
concurrency, the caller's interaction states (single and batch), and the download counter."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.auth.service import IssuedToken
from lumi_api.keys import ENGINE
from lumi_common.db.tables import Model, ModelInteraction
from lumi_common.ids import new_id
from lumi_common.states import InteractionType
from tests.support.api import Client, issue
from tests.support.gallery import (
    auth,
    completed_model,
    published_models,
    requested_model,
)
from tests.support.queries import counting_statements

Sessions = async_sessionmaker[AsyncSession]


async def toggle(
    client: Client, token: IssuedToken | None, model_id: str, kind: Any = "LIKE"
) -> tuple[int, Any]:
    response = await client.post(
        f"/api/gallery/models/{model_id}/interactions",
        json={"type": kind},
        headers=auth(token) if token else {},
    )
    return response.status, await response.json()


async def state(client: Client, token: IssuedToken | None, model_id: str) -> Any:
    response = await client.get(
        f"/api/gallery/models/{model_id}/interactions", headers=auth(token) if token else {}
    )
    assert response.status == 200
    return (await response.json())["data"]


async def batch(client: Client, token: IssuedToken | None, body: Any) -> tuple[int, Any]:
    response = await client.post(
        "/api/gallery/models/batch-interactions", json=body, headers=auth(token) if token else {}
    )
    return response.status, await response.json()


async def counters(sessionmaker: Sessions, model_id: str) -> tuple[int, int, int, int]:
    """(like_count, likes rows, favorite_count, favourite rows)."""
    async with sessionmaker() as session:
        model = await session.get_one(Model, model_id, populate_existing=True)
        rows = dict(
            (
                await session.execute(
                    select(ModelInteraction.type, func.count())
                    .where(ModelInteraction.model_id == model_id)
                    .group_by(ModelInteraction.type)
                )
            ).all()
        )
    likes, favorites = rows.get(InteractionType.LIKE, 0), rows.get(InteractionType.FAVORITE, 0)
    return model.like_count, likes, model.favorite_count, favorites


async def test_toggling_a_like_and_a_favourite(
    client: Client, alice: IssuedToken, bob: IssuedToken, sessionmaker: Sessions
) -> None:
    [model_id] = await published_models(sessionmaker, alice.user_id, 1)
    assert await state(client, bob, model_id) == {
        "isAuthenticated": True,
        "interactions": [],
        "isLiked": False,
        "isFavorited": False,
    }
    assert await toggle(client, bob, model_id, "LIKE") == (
        200,
        {
            "status": "success",
            "data": {"isInteracted": True, "type": "LIKE", "likeCount": 1, "favoriteCount": 0},
        },
    )
    _, body = await toggle(client, bob, model_id, "FAVORITE")
    assert body["data"] == {
        "isInteracted": True,
        "type": "FAVORITE",
        "likeCount": 1,
        "favoriteCount": 1,
    }
    assert await state(client, bob, model_id) == {
        "isAuthenticated": True,
        "interactions": ["LIKE", "FAVORITE"],
        "isLiked": True,
        "isFavorited": True,
    }
    _, body = await toggle(client, alice, model_id, "LIKE")
    assert (body["data"]["likeCount"], body["data"]["isInteracted"]) == (2, True)
    _, body = await toggle(client, bob, model_id, "LIKE")
    assert body["data"] == {
        "isInteracted": False,
        "type": "LIKE",
        "likeCount": 1,
        "favoriteCount": 1,
    }
    assert (await state(client, bob, model_id))["interactions"] == ["FAVORITE"]
    assert await counters(sessionmaker, model_id) == (1, 1, 1, 1)
    # versioned prefix, same handler
    response = await client.post(
        f"/api/v1/gallery/models/{model_id}/interactions",
        json={"type": "FAVORITE"},
        headers=auth(bob),
    )
    assert (await response.json())["data"]["favoriteCount"] == 0


async def test_reading_states_anonymously(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    [model_id] = await published_models(sessionmaker, alice.user_id, 1)
    for headers in ({}, {"Authorization": "Bearer expired-or-forged"}):
        response = await client.get(f"/api/gallery/models/{model_id}/interactions", headers=headers)
        assert response.status == 200
        assert (await response.json())["data"] == {"isAuthenticated": False, "interactions": []}
        # like the detail: no such model for anyone
        response = await client.get(f"/api/gallery/models/{new_id()}/interactions", headers=headers)
        assert response.status == 404


async def test_toggling_needs_a_user_a_known_type_and_a_visible_model(
    client: Client, alice: IssuedToken, bob: IssuedToken, sessionmaker: Sessions
) -> None:
    [model_id] = await published_models(sessionmaker, alice.user_id, 1)
    status, body = await toggle(client, None, model_id)
    assert (status, body["data"]["code"]) == (401, "UNAUTHORIZED")
    for kind in ("like", "SHARE", None, 1):
        status, body = await toggle(client, bob, model_id, kind)
        assert (status, body["data"]["code"]) == (400, "VALIDATION_ERROR")
    for unknown in (new_id(), "nope"):
        status, body = await toggle(client, bob, unknown)
        assert (status, body["data"]["code"]) == (404, "NOT_FOUND")
    # someone else's unpublished model cannot be liked; your own can
    own = await requested_model(client, alice, sessionmaker)
    status, body = await toggle(client, bob, own["id"])
    assert (status, body["data"]["code"]) == (404, "NOT_FOUND")
    status, body = await toggle(client, alice, own["id"])
    assert (status, body["data"]["isInteracted"]) == (200, True)
    assert await counters(sessionmaker, model_id) == (0, 0, 0, 0)


@pytest.mark.parametrize("kind", ["LIKE", "FAVORITE"])
async def test_concurrent_toggles_never_fail_and_never_drift(
    client: Client, alice: IssuedToken, sessionmaker: Sessions, kind: str
) -> None:
    [model_id] = await published_models(sessionmaker, alice.user_id, 1)
    users = [await issue(sessionmaker) for _ in range(3)]
    # ten toggles by one user (its row comes and goes), and seven by three users at once
    same_user = [toggle(client, users[0], model_id, kind) for _ in range(10)]
    others = [toggle(client, users[1 + n % 2], model_id, kind) for n in range(7)]
    results = await asyncio.gather(*same_user, *others)
    assert [status for status, _ in results] == [200] * 17
    likes, like_rows, favorites, favorite_rows = await counters(sessionmaker, model_id)
    assert (likes, favorites) == (like_rows, favorite_rows)
    # users[0]'s ten toggles cancel out, users[1]'s four too; users[2]'s three leave one row
    assert like_rows + favorite_rows == 1
    assert all(0 <= body["data"][f"{kind.lower()}Count"] <= 3 for _, body in results)


async def test_batch_states_for_every_requested_id(
    client: Client, alice: IssuedToken, bob: IssuedToken, sessionmaker: Sessions
) -> None:
    liked, both, untouched = await published_models(sessionmaker, alice.user_id, 3)
    await toggle(client, bob, liked, "LIKE")
    await toggle(client, bob, both, "LIKE")
    await toggle(client, bob, both, "FAVORITE")
    missing = new_id()
    ids = [liked, both, untouched, missing, "not-an-id", liked]
    with counting_statements(client.app[ENGINE]) as statements:
        status, body = await batch(client, bob, {"modelIds": ids})
    assert status == 200
    assert len(statements) == 1  # one query for every id (the token was cached by the toggles)
    no = {"isLiked": False, "isFavorited": False}
    assert body["data"] == {
        "isAuthenticated": True,
        "interactions": {
            liked: {"isLiked": True, "isFavorited": False},
            both: {"isLiked": True, "isFavorited": True},
            untouched: no,
            missing: no,
            "not-an-id": no,
        },
    }
    status, body = await batch(client, None, {"modelIds": ids})
    assert (status, body["data"]) == (200, {"isAuthenticated": False, "interactions": {}})
    response = await client.post(
        "/api/v1/gallery/models/batch-interactions",
        json={"modelIds": [liked]},
        headers={"Authorization": "Bearer forged"},
    )
    assert (await response.json())["data"] == {"isAuthenticated": False, "interactions": {}}


@pytest.mark.parametrize(
    "body",
    [
        {"modelIds": []},
        {"modelIds": [new_id() for _ in range(101)]},
        {"modelIds": "01ARZ3NDEKTSV4RRFFQ69G5FAV"},
        {"modelIds": [1, 2]},
        {"modelIds": [""]},
        {},
    ],
)
async def test_batch_limits(client: Client, bob: IssuedToken, body: Any) -> None:
    for token in (bob, None):
        status, answer = await batch(client, token, body)
        assert (status, answer["data"]["code"]) == (400, "VALIDATION_ERROR")
        assert answer["data"]["message"].startswith("modelIds")


async def test_a_hundred_ids_are_fine(client: Client, bob: IssuedToken) -> None:
    ids = [new_id() for _ in range(100)]
    status, body = await batch(client, bob, {"modelIds": ids})
    assert status == 200
    assert set(body["data"]["interactions"]) == set(ids)


async def test_downloads_are_counted_for_visible_models(
    client: Client, alice: IssuedToken, bob: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await completed_model(client, alice, sessionmaker)
    private = await requested_model(client, alice, sessionmaker)
    path = f"/api/gallery/models/{model['id']}/download"
    response = await client.post(path, json={}, headers=auth(bob))
    assert response.status == 200
    assert await response.json() == {"status": "success", "data": {"message": "下载成功"}}
    assert (await client.post(path, json={}, headers=auth(alice))).status == 200
    response = await client.post(path, json={})
    assert (response.status, (await response.json())["data"]["code"]) == (401, "UNAUTHORIZED")
    for model_id, token, expected in (
        (private["id"], bob, 404),
        (private["id"], alice, 200),
        (new_id(), bob, 404),
        ("nope", bob, 404),
    ):
        response = await client.post(
            f"/api/gallery/models/{model_id}/download", json={}, headers=auth(token)
        )
        assert response.status == expected
    async with sessionmaker() as session:
        counts = [
            (await session.get_one(Model, model_id)).download_count
            for model_id in (model["id"], private["id"])
        ]
    assert counts == [2, 1]
