"""`GET /api/gallery/models`: published models only, three orders, paging, constant queries,
and a Redis page cache that every write the lists show invalidates."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient
from redis.asyncio import Redis
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from lumi_api.app import create_app
from lumi_api.auth.service import IssuedToken
from lumi_api.gallery.repository import GallerySort, page_query
from lumi_api.keys import ENGINE, SETTINGS
from lumi_api.settings import ApiSettings
from lumi_common.db.tables import Model
from lumi_common.gallery_cache import generation_key
from lumi_common.states import Visibility
from lumi_common.storage.local import LocalStorage
from lumi_common.time import utcnow
from lumi_image_worker.providers.images import OfflineImageGenerator
from lumi_model_worker.service import run as run_model_worker
from lumi_model_worker.settings import ModelWorkerSettings
from tests.support.api import Client, issue
from tests.support.factories import create_selected_task
from tests.support.gallery import (
    Sessions,
    auth,
    completed_model,
    published_models,
    requested_model,
)
from tests.support.pipeline import relay_all
from tests.support.queries import counting_statements

pytestmark = pytest.mark.usefixtures("empty_gallery")

ITEM_FIELDS = {
    "id", "name", "description", "previewImageUrl", "modelUrl", "format", "visibility",
    "viewCount", "likeCount", "favoriteCount", "downloadCount", "createdAt", "publishedAt", "user",
}  # fmt: skip


async def gallery(client: Client, query: str = "", **headers: str) -> tuple[int, Any]:
    response = await client.get(f"/api/gallery/models{query}", headers=headers)
    return response.status, await response.json()


async def ids(client: Client, query: str = "") -> list[str]:
    status, body = await gallery(client, query)
    assert status == 200, body
    return [item["id"] for item in body["data"]["items"]]


async def test_only_public_completed_models_are_listed(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    shown = await completed_model(client, alice, sessionmaker)
    await requested_model(client, alice, sessionmaker)  # public, not completed
    private = await completed_model(client, alice, sessionmaker)
    await client.patch(
        f"/api/models/{private['id']}/visibility",
        json={"visibility": "PRIVATE"},
        headers=auth(alice),
    )
    for prefix in ("/api", "/api/v1"):
        response = await client.get(f"{prefix}/gallery/models")
        body = await response.json()
        assert response.status == 200
        data = body["data"]
        assert (data["total"], data["hasMore"]) == (1, False)
        [item] = data["items"]
        assert set(item) == ITEM_FIELDS
        assert item["id"] == shown["id"]
        assert item["user"] == {"id": alice.user_id, "name": shown["user"]["name"]}
        assert item["previewImageUrl"].startswith("http")
        assert item["modelUrl"].endswith(f"/files/models/{shown['id']}/model.obj")


async def test_the_three_orders_and_both_parameter_names(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    # oldest first: a, b, c; b is the most viewed, c the most liked
    a, b, c = await published_models(sessionmaker, alice.user_id, 3)
    async with sessionmaker.begin() as session:
        for model_id, views, likes in ((a, 5, 1), (b, 9, 0), (c, 1, 7)):
            await session.execute(
                update(Model).where(Model.id == model_id).values(view_count=views, like_count=likes)
            )
    assert await ids(client) == [c, b, a]
    for name in ("sort", "sortBy"):
        assert await ids(client, f"?{name}=latest") == [c, b, a]
        assert await ids(client, f"?{name}=popular") == [b, a, c]
        assert await ids(client, f"?{name}=liked") == [c, a, b]
    # web's sortBy wins; mobile's category means nothing here
    assert await ids(client, "?sort=liked&sortBy=popular&category=toys") == [b, a, c]


async def test_ties_are_broken_by_id_so_pages_are_stable(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    made = await published_models(sessionmaker, alice.user_id, 5, start=utcnow())
    async with sessionmaker.begin() as session:
        await session.execute(update(Model).values(published_at=utcnow()))
    newest_id_first = sorted(made, reverse=True)
    for sort in ("latest", "popular", "liked"):
        pages = [await ids(client, f"?sort={sort}&limit=2&offset={o}") for o in (0, 2, 4)]
        assert [i for page in pages for i in page] == newest_id_first


async def test_paging_total_and_has_more(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    made = await published_models(sessionmaker, alice.user_id, 25)
    newest_first = made[::-1]
    status, body = await gallery(client)
    assert status == 200
    assert [i["id"] for i in body["data"]["items"]] == newest_first[:20]
    assert (body["data"]["total"], body["data"]["hasMore"]) == (25, True)
    status, body = await gallery(client, "?limit=20&offset=20")
    assert [i["id"] for i in body["data"]["items"]] == newest_first[20:]
    assert (body["data"]["total"], body["data"]["hasMore"]) == (25, False)
    status, body = await gallery(client, "?limit=5&offset=20")
    assert body["data"]["hasMore"] is False
    status, body = await gallery(client, "?offset=100")
    assert (body["data"]["items"], body["data"]["total"], body["data"]["hasMore"]) == (
        [],
        25,
        False,
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?sort=oldest", "sort"),
        ("?sortBy=random", "sortBy"),
        ("?sort=LATEST", "sort"),
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=ten", "limit"),
        ("?offset=-1", "offset"),
        ("?offset=1.5", "offset"),
        ("?offset=99999999999999999999999", "offset"),
    ],
)
async def test_bad_parameters_are_a_400(client: Client, query: str, field: str) -> None:
    status, body = await gallery(client, query)
    assert status == 400
    assert body["data"]["code"] == "VALIDATION_ERROR"
    assert body["data"]["message"].startswith(f"{field}: ")


async def test_a_bad_token_is_anonymous(client: Client) -> None:
    status, body = await gallery(client, Authorization="Bearer not-a-token")
    assert (status, body["status"]) == (200, "success")


async def test_a_page_takes_the_same_two_queries_for_one_item_or_twenty(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    others = [await issue(sessionmaker) for _ in range(3)]
    await published_models(sessionmaker, alice.user_id, 1)
    counts = []
    for size in (1, 20):
        if size == 20:  # twenty models of four owners
            for token in others:
                await published_models(sessionmaker, token.user_id, 5)
            await published_models(sessionmaker, alice.user_id, 4)
        with counting_statements(client.app[ENGINE]) as statements:
            status, body = await gallery(client, f"?limit={size}&offset=0", **auth(alice))
        assert status == 200
        assert len(body["data"]["items"]) == size
        counts.append(len(statements))
    # the page, its owners, the total; the token is never looked up
    assert counts == [3, 3]


async def test_a_cached_page_runs_no_query(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    await published_models(sessionmaker, alice.user_id, 3)
    first = await gallery(client, "?sort=popular&limit=20")
    with counting_statements(client.app[ENGINE]) as statements:
        again = await gallery(client, "?sortBy=popular&limit=20")
    assert again == first
    assert statements == []


async def test_a_write_the_lists_show_invalidates_the_cache(
    client: Client, alice: IssuedToken, bob: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await completed_model(client, alice, sessionmaker)
    path = f"/api/models/{model['id']}"

    async def listed() -> dict[str, Any]:
        status, body = await gallery(client)
        assert status == 200
        return {item["id"]: item for item in body["data"]["items"]}

    assert model["id"] in await listed()
    await client.patch(f"{path}/visibility", json={"visibility": "PRIVATE"}, headers=auth(alice))
    assert await listed() == {}
    await client.patch(f"{path}/visibility", json={"visibility": "PUBLIC"}, headers=auth(alice))
    assert model["id"] in await listed()
    await client.patch(path, json={"name": "renamed"}, headers=auth(alice))
    assert (await listed())[model["id"]]["name"] == "renamed"
    await client.post(
        f"/api/gallery/models/{model['id']}/interactions", json={"type": "LIKE"}, headers=auth(bob)
    )
    assert (await listed())[model["id"]]["likeCount"] == 1
    await client.post(
        f"/api/gallery/models/{model['id']}/interactions",
        json={"type": "FAVORITE"},
        headers=auth(bob),
    )
    assert (await listed())[model["id"]]["favoriteCount"] == 1
    await client.delete(path, headers=auth(alice))
    assert await listed() == {}


async def test_deleting_the_task_of_a_published_model_drops_it_from_cached_pages(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    """Issue 12, point 5: the pages kept listing it, with dead URLs, until their TTL."""
    model = await completed_model(client, alice, sessionmaker)
    assert await ids(client) == [model["id"]]  # now cached
    deleted = await client.delete(f"/api/tasks/{model['requestId']}", headers=auth(alice))
    assert deleted.status == 200
    assert await ids(client) == []


async def test_only_a_bounded_set_of_pages_is_cached(
    client: Client, alice: IssuedToken, sessionmaker: Sessions, redis: Redis, key_prefix: str
) -> None:
    """Issue 12, point 4: one key per sort × limit × offset let anonymous callers fill Redis."""
    await published_models(sessionmaker, alice.user_id, 3)
    pages = client.app[SETTINGS].gallery_cache_pages
    for sort in ("latest", "popular", "liked"):
        for offset in range(0, 40 * pages, 7):
            for limit in (1, 19, 20, 21, 100):
                assert (await gallery(client, f"?sort={sort}&limit={limit}&offset={offset}"))[
                    0
                ] == 200
    keys = [key async for key in redis.scan_iter(match=f"{key_prefix}:gallery:page:*")]
    assert 0 < len(keys) <= 3 * pages
    # what the apps ask for is still served from the cache
    first = await gallery(client, "?sortBy=latest&limit=20&offset=0")
    with counting_statements(client.app[ENGINE]) as statements:
        assert await gallery(client, "?sort=latest&limit=20&offset=0") == first
    assert statements == []


async def test_a_write_through_one_replica_reaches_the_pages_another_keeps_in_memory(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    client: Client,
    alice: IssuedToken,
    sessionmaker: Sessions,
) -> None:
    other = await aiohttp_client(create_app(settings_factory()))
    model = await completed_model(client, alice, sessionmaker)
    for _ in range(2):  # the second answer comes from its memory
        assert model["id"] in await ids(other)
    hidden = await client.patch(
        f"/api/models/{model['id']}/visibility", json={"visibility": "PRIVATE"}, headers=auth(alice)
    )
    assert hidden.status == 200
    assert model["id"] not in await ids(other)


async def test_the_cache_can_be_turned_off(
    aiohttp_client: AiohttpClient,
    settings_factory: Callable[..., ApiSettings],
    alice: IssuedToken,
    sessionmaker: Sessions,
) -> None:
    client = await aiohttp_client(create_app(settings_factory(gallery_cache_seconds=0)))
    await published_models(sessionmaker, alice.user_id, 1)
    await gallery(client)
    with counting_statements(client.app[ENGINE]) as statements:
        await gallery(client)
    assert len(statements) == 3


@pytest.mark.usefixtures("empty_outbox")
async def test_the_model_worker_completing_a_model_invalidates_the_cache(
    client: Client,
    sessionmaker: Sessions,
    redis: Redis,
    key_prefix: str,
    database_url: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    storage = LocalStorage(tmp_path)
    picture = (await OfflineImageGenerator().generate("a cat", seed=1)).data
    selected = await create_selected_task(sessionmaker, storage, picture=picture)
    assert await ids(client) == []  # cached: an empty gallery
    before = int(await redis.get(generation_key(key_prefix)) or 0)
    await relay_all(sessionmaker, redis, key_prefix)
    settings = ModelWorkerSettings(
        database_url=database_url,
        redis_url=redis_url,
        redis_key_prefix=key_prefix,
        storage_dir=tmp_path,
        app_env="test",
        log_format="json",
        model_poll_interval_seconds=0.05,
    )
    await run_model_worker(settings, burst=True)
    assert int(await redis.get(generation_key(key_prefix)) or 0) == before + 1
    assert await ids(client) == [selected.model_id]


@pytest.mark.parametrize("sort", ["latest", "popular", "liked"])
async def test_every_order_is_served_by_its_index(
    client: Client, alice: IssuedToken, sessionmaker: Sessions, sort: str
) -> None:
    """EXPLAIN on MariaDB: the gallery index, read in order, no filesort (SQLite: skipped)."""
    engine: AsyncEngine = client.app[ENGINE]
    if engine.dialect.name not in ("mysql", "mariadb"):
        pytest.skip("EXPLAIN plans are MariaDB's")
    # enough rows that a full scan and sort is not the cheaper plan
    await published_models(sessionmaker, alice.user_id, 300)
    await published_models(
        sessionmaker, alice.user_id, 300, visibility=Visibility.PRIVATE, published_at=None
    )
    statement = page_query(GallerySort(sort), limit=20, offset=40)
    compiled = statement.compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
    async with engine.connect() as connection:
        await connection.execute(text("ANALYZE TABLE models"))  # fresh statistics
        plan = (await connection.execute(text(f"EXPLAIN {compiled}"))).mappings().all()
    models_row = next(row for row in plan if row["table"] == "models")
    assert models_row["key"] == f"ix_models_gallery_{sort}"
    assert all("filesort" not in (row["Extra"] or "") for row in plan)
    assert all("temporary" not in (row["Extra"] or "") for row in plan)
