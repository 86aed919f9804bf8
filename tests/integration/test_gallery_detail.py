"""`GET /api/gallery/models/:id`: published models for anyone, unpublished ones for their owner
only, and views counted in Redis then flushed in batches, never a database write per view."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient
from redis.asyncio import Redis
from sqlalchemy.exc import SQLAlchemyError

from lumi_api import texts
from lumi_api.app import create_app
from lumi_api.auth.service import IssuedToken
from lumi_api.gallery.views import ViewCounter, view_counter
from lumi_api.keys import ENGINE, REDIS, SESSIONMAKER
from lumi_api.settings import ApiSettings
from lumi_common.db.engine import create_engine, create_sessionmaker
from lumi_common.db.tables import Model
from lumi_common.ids import new_id
from lumi_common.settings import DatabaseSettings
from tests.integration.test_tasks_select import MODEL_FIELDS
from tests.support.api import Client
from tests.support.gallery import (
    Sessions,
    auth,
    completed_model,
    published_models,
    requested_model,
)
from tests.support.language import said
from tests.support.queries import counting_statements


async def detail(client: Client, model_id: str, **headers: str) -> tuple[int, Any]:
    response = await client.get(f"/api/gallery/models/{model_id}", headers=headers)
    return response.status, await response.json()


async def stored_views(sessionmaker: Sessions, model_id: str) -> int:
    async with sessionmaker() as session:
        model = await session.get_one(Model, model_id)
    return model.view_count


async def test_a_published_model_is_shown_to_anyone(
    client: Client, alice: IssuedToken, bob: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await completed_model(client, alice, sessionmaker)
    for prefix in ("/api", "/api/v1"):
        response = await client.get(f"{prefix}/gallery/models/{model['id']}")
        assert response.status == 200
        data = (await response.json())["data"]
        assert set(data) == MODEL_FIELDS
        assert data["user"] == model["user"]
        assert data["modelUrl"].endswith(f"/files/models/{model['id']}/model.obj")
        assert (data["vertexCount"], data["faceCount"]) == (4, 2)
    for headers in (auth(bob), {"Authorization": "Bearer not-a-token"}):
        status, _ = await detail(client, model["id"], **headers)
        assert status == 200


async def test_an_unpublished_model_is_its_owners_only(
    client: Client, alice: IssuedToken, bob: IssuedToken, sessionmaker: Sessions
) -> None:
    unfinished = await requested_model(client, alice, sessionmaker)
    private = await completed_model(client, alice, sessionmaker)
    await client.patch(
        f"/api/models/{private['id']}/visibility",
        json={"visibility": "PRIVATE"},
        headers=auth(alice),
    )
    for model in (unfinished, private):
        for headers in ({}, auth(bob), {"Authorization": "Bearer nope"}):
            status, body = await detail(client, model["id"], **headers)
            assert (status, body["data"]) == (
                404,
                {"message": said(texts.MODEL_NOT_FOUND), "code": "NOT_FOUND"},
            )
        status, body = await detail(client, model["id"], **auth(alice))
        assert status == 200
        assert body["data"]["id"] == model["id"]


@pytest.mark.parametrize("model_id", ["nope", new_id(), "x" * 300])
async def test_unknown_and_malformed_ids_are_not_found(client: Client, model_id: str) -> None:
    assert (await detail(client, model_id))[0] == 404


async def test_concurrent_views_are_counted_exactly_without_a_write_per_view(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    [model_id] = await published_models(sessionmaker, alice.user_id, 1, view_count=7)
    views = 25
    with counting_statements(client.app[ENGINE]) as statements:
        answers = await asyncio.gather(*(detail(client, model_id) for _ in range(views)))
    assert [status for status, _ in answers] == [200] * views
    assert not [s for s in statements if not s.lstrip().upper().startswith("SELECT")]
    assert len(statements) == views  # one read per view, nothing else
    # each answer shows the stored count plus the views still pending; all distinct
    shown = sorted(body["data"]["viewCount"] for _, body in answers)
    assert shown == list(range(8, 8 + views))
    assert await stored_views(sessionmaker, model_id) == 7

    counter = view_counter(client.app)
    assert await counter.flush(client.app[SESSIONMAKER]) == views
    assert await stored_views(sessionmaker, model_id) == 7 + views
    assert await counter.flush(client.app[SESSIONMAKER]) == 0
    _, body = await detail(client, model_id)
    assert body["data"]["viewCount"] == 7 + views + 1


async def test_views_of_unpublished_models_are_not_counted(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await requested_model(client, alice, sessionmaker)
    for _ in range(3):
        status, body = await detail(client, model["id"], **auth(alice))
        assert (status, body["data"]["viewCount"]) == (200, 0)
    assert await view_counter(client.app).flush(client.app[SESSIONMAKER]) == 0


async def test_replicas_flushing_at_once_add_every_view_exactly_once(
    client: Client, alice: IssuedToken, sessionmaker: Sessions, redis: Redis, key_prefix: str
) -> None:
    model_ids = await published_models(sessionmaker, alice.user_id, 3)
    replicas = [ViewCounter(redis, prefix=key_prefix) for _ in range(4)]
    recorded = 0
    for _ in range(5):
        views = [replicas[n % 4].record(model_ids[n % 3]) for n in range(30)]
        flushes = [replica.flush(sessionmaker) for replica in replicas]
        results = await asyncio.gather(*views, *flushes)
        recorded += len(views)
        assert sum(results[len(views) :]) <= recorded
    await replicas[0].flush(sessionmaker)
    totals = [await stored_views(sessionmaker, model_id) for model_id in model_ids]
    assert sum(totals) == recorded == 150
    assert totals == [50, 50, 50]


async def test_a_flush_that_cannot_reach_the_database_gives_the_views_back(
    client: Client, alice: IssuedToken, sessionmaker: Sessions, redis: Redis, key_prefix: str
) -> None:
    [model_id] = await published_models(sessionmaker, alice.user_id, 1)
    counter = ViewCounter(redis, prefix=key_prefix)
    for _ in range(4):
        await counter.record(model_id)
    # a real database server that is not there (nothing listens on port 1)
    down = create_engine(
        DatabaseSettings(database_url="mysql://root@127.0.0.1:1/none", db_pool_timeout=1)
    )
    try:
        with pytest.raises((SQLAlchemyError, OSError)):
            await counter.flush(create_sessionmaker(down))
    finally:
        await down.dispose()
    assert await counter.flush(sessionmaker) == 4
    assert await stored_views(sessionmaker, model_id) == 4


async def test_views_are_flushed_in_the_background_and_on_shutdown(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    alice: IssuedToken,
    sessionmaker: Sessions,
) -> None:
    first, second = await published_models(sessionmaker, alice.user_id, 2)
    client = await aiohttp_client(create_app(settings_factory(view_flush_seconds=0.1)))
    await detail(client, first)
    for _ in range(50):
        if await stored_views(sessionmaker, first) == 1:
            break
        await asyncio.sleep(0.05)
    assert await stored_views(sessionmaker, first) == 1
    await client.close()  # its flush would take the next views too: both apps share the keys

    slow = await aiohttp_client(create_app(settings_factory(view_flush_seconds=3600)))
    await detail(slow, second)
    await detail(slow, second)
    assert await slow.app[REDIS].hget(view_counter(slow.app).key, second) == b"2"
    await slow.close()
    assert await stored_views(sessionmaker, second) == 2
