"""`PATCH /api/models/:id`, `PATCH …/visibility`, `DELETE /api/models/:id`: the owner only."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.auth.service import IssuedToken
from lumi_api.keys import STORAGE
from lumi_common.db.tables import (
    FileDeletion,
    GenerationRequest,
    Model,
    ModelInteraction,
    ModelJob,
)
from lumi_common.ids import new_id
from lumi_common.time import parse_iso
from tests.integration.test_tasks_select import MODEL_FIELDS
from tests.support.api import Client
from tests.support.gallery import auth, completed_model, published_models, requested_model

Sessions = async_sessionmaker[AsyncSession]


async def call(
    client: Client, method: str, path: str, token: IssuedToken | None, body: Any = None
) -> tuple[int, Any]:
    headers = auth(token) if token else {}
    response = await client.request(method, path, json=body, headers=headers)
    return response.status, await response.json()


async def row(sessionmaker: Sessions, model_id: str) -> Model | None:
    async with sessionmaker() as session:
        return await session.get(Model, model_id)


async def test_the_owner_renames_a_model(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await completed_model(client, alice, sessionmaker)
    for prefix in ("/api", "/api/v1"):
        status, body = await call(
            client,
            "PATCH",
            f"{prefix}/models/{model['id']}",
            alice,
            {"name": "  A teapot  ", "description": "short and stout"},
        )
        assert status == 200
        data = body["data"]
        assert set(data) == MODEL_FIELDS
        assert (data["name"], data["description"]) == ("A teapot", "short and stout")
        assert data["modelUrl"].startswith("http")
        assert data["generationJob"]["status"] == "COMPLETED"
    # only what is given changes; an explicit null clears the description
    status, body = await call(
        client, "PATCH", f"/api/models/{model['id']}", alice, {"description": None}
    )
    assert status == 200
    assert (body["data"]["name"], body["data"]["description"]) == ("A teapot", None)
    status, body = await call(client, "PATCH", f"/api/models/{model['id']}", alice, {})
    assert (status, body["data"]["name"]) == (200, "A teapot")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": 5}, "name"),
        ({"description": "x" * 501}, "description"),
        ({"description": ["x"]}, "description"),
    ],
)
async def test_bad_names_and_descriptions_are_refused(
    client: Client, alice: IssuedToken, sessionmaker: Sessions, body: Any, field: str
) -> None:
    model = await requested_model(client, alice, sessionmaker)
    status, answer = await call(client, "PATCH", f"/api/models/{model['id']}", alice, body)
    assert status == 400
    assert answer["data"]["code"] == "VALIDATION_ERROR"
    assert answer["data"]["message"].startswith(f"{field}: ")
    stored = await row(sessionmaker, model["id"])
    assert stored is not None
    assert stored.name == model["name"]


async def test_publishing_and_unpublishing(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await completed_model(client, alice, sessionmaker)
    path = f"/api/models/{model['id']}/visibility"
    status, body = await call(client, "PATCH", path, alice, {"visibility": "PRIVATE"})
    assert status == 200
    assert set(body["data"]) == MODEL_FIELDS
    assert (body["data"]["visibility"], body["data"]["publishedAt"]) == ("PRIVATE", None)

    status, body = await call(client, "PATCH", path, alice, {"visibility": "PUBLIC"})
    assert status == 200
    published = body["data"]["publishedAt"]
    assert body["data"]["visibility"] == "PUBLIC"
    assert parse_iso(published) >= parse_iso(body["data"]["completedAt"])
    # publishing again keeps its place in the "latest" order
    status, body = await call(client, "PATCH", path, alice, {"visibility": "PUBLIC"})
    assert (status, body["data"]["publishedAt"]) == (200, published)


async def test_an_unfinished_model_cannot_be_made_public(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await requested_model(client, alice, sessionmaker)
    path = f"/api/models/{model['id']}/visibility"
    status, body = await call(client, "PATCH", path, alice, {"visibility": "PUBLIC"})
    assert (status, body["data"]["code"]) == (409, "INVALID_STATE")
    status, body = await call(client, "PATCH", path, alice, {"visibility": "PRIVATE"})
    assert (status, body["data"]["visibility"], body["data"]["publishedAt"]) == (
        200,
        "PRIVATE",
        None,
    )
    # a private model stays unpublished when the worker completes it
    from tests.support.gallery import complete

    await complete(sessionmaker, model["id"])
    stored = await row(sessionmaker, model["id"])
    assert stored is not None
    assert stored.completed_at is not None
    assert stored.published_at is None


@pytest.mark.parametrize("body", [{}, {"visibility": "public"}, {"visibility": "HIDDEN"}])
async def test_a_bad_visibility_is_refused(
    client: Client, alice: IssuedToken, sessionmaker: Sessions, body: Any
) -> None:
    model = await completed_model(client, alice, sessionmaker)
    path = f"/api/models/{model['id']}/visibility"
    status, answer = await call(client, "PATCH", path, alice, body)
    assert (status, answer["data"]["code"]) == (400, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("PATCH", "", {"name": "mine now"}),
        ("PATCH", "/visibility", {"visibility": "PRIVATE"}),
        ("DELETE", "", None),
    ],
)
async def test_only_the_owner_may_change_a_model(
    client: Client,
    alice: IssuedToken,
    bob: IssuedToken,
    sessionmaker: Sessions,
    method: str,
    suffix: str,
    body: Any,
) -> None:
    model = await completed_model(client, alice, sessionmaker)
    path = f"/api/models/{model['id']}{suffix}"
    status, answer = await call(client, method, path, bob, body)
    assert (status, answer["data"]["code"]) == (403, "FORBIDDEN")
    assert (await call(client, method, path, None, body))[0] == 401
    for unknown in (new_id(), "nope"):
        status, answer = await call(client, method, f"/api/models/{unknown}{suffix}", alice, body)
        assert (status, answer["data"]["code"]) == (404, "NOT_FOUND")
    stored = await row(sessionmaker, model["id"])
    assert stored is not None
    assert (stored.name, stored.visibility) == (model["name"], "PUBLIC")


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("PATCH", "", {"name": "mine now"}),
        ("PATCH", "/visibility", {"visibility": "PUBLIC"}),
        ("DELETE", "", None),
    ],
)
async def test_another_users_private_model_answers_as_an_unknown_id(
    client: Client,
    alice: IssuedToken,
    bob: IssuedToken,
    sessionmaker: Sessions,
    method: str,
    suffix: str,
    body: Any,
) -> None:
    """No existence oracle (issue 12, point 10): a 403 would tell bob the private id exists."""
    model = await completed_model(client, alice, sessionmaker)
    hidden = await call(
        client, "PATCH", f"/api/models/{model['id']}/visibility", alice, {"visibility": "PRIVATE"}
    )
    assert hidden[0] == 200
    private = await call(client, method, f"/api/models/{model['id']}{suffix}", bob, body)
    unknown = await call(client, method, f"/api/models/{new_id()}{suffix}", bob, body)
    assert private == unknown
    assert private[0] == 404
    assert (await row(sessionmaker, model["id"])) is not None


async def test_deleting_a_model_removes_its_row_interactions_and_files(
    client: Client, alice: IssuedToken, bob: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await completed_model(client, alice, sessionmaker)
    storage = client.app[STORAGE]
    for name in ("model.obj", "material.mtl", "material.png", "model.glb"):
        await storage.put(f"models/{model['id']}/{name}", b"data", "application/octet-stream")
    source_key = f"images/{model['requestId']}/1.png"
    await storage.put(source_key, b"png", "image/png")
    liked = await client.post(
        f"/api/gallery/models/{model['id']}/interactions", json={"type": "LIKE"}, headers=auth(bob)
    )
    assert liked.status == 200
    task_before = await client.get(f"/api/tasks/{model['requestId']}", headers=auth(alice))
    before = (await task_before.json())["data"]

    status, body = await call(client, "DELETE", f"/api/models/{model['id']}", alice)
    assert status == 200
    assert body == {"status": "success", "data": {"message": "模型已删除"}}

    assert await row(sessionmaker, model["id"]) is None
    async with sessionmaker() as session:
        for table in (ModelInteraction, ModelJob):
            query = select(func.count()).select_from(table).where(table.model_id == model["id"])
            assert await session.scalar(query) == 0
    assert not await storage.exists(f"models/{model['id']}/model.obj")
    assert await storage.exists(source_key)
    # recorded with the deletion, so the file sweep removes a straggler or retries a failure
    async with sessionmaker() as session:
        recorded = await session.scalar(
            select(func.count())
            .select_from(FileDeletion)
            .where(FileDeletion.prefix == f"models/{model['id']}/")
        )
    assert recorded == 1
    # the task still shows its images, with no model, and a poller sees the change
    task = await client.get(
        f"/api/tasks/{model['requestId']}/status",
        params={"since": before["updatedAt"]},
        headers=auth(alice),
    )
    assert task.status == 200
    data = (await task.json())["data"]
    assert data["model"] is None
    assert len(data["images"]) == 4
    assert data["updatedAt"] > before["updatedAt"]
    assert (await call(client, "DELETE", f"/api/models/{model['id']}", alice))[0] == 404


async def test_a_model_still_generating_cannot_be_deleted(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await requested_model(client, alice, sessionmaker)
    status, body = await call(client, "DELETE", f"/api/models/{model['id']}", alice)
    assert (status, body["data"]["code"]) == (409, "INVALID_STATE")
    assert await row(sessionmaker, model["id"]) is not None
    async with sessionmaker() as session:
        request = await session.get(GenerationRequest, model["requestId"])
    assert request is not None
    assert request.status == "MODEL_PENDING"


async def task_status(
    client: Client, token: IssuedToken, task_id: str, since: str | None = None
) -> tuple[int, Any]:
    params = {"since": since} if since is not None else {}
    response = await client.get(f"/api/tasks/{task_id}/status", params=params, headers=auth(token))
    return response.status, (await response.json())["data"] if response.status == 200 else None


async def test_renaming_a_model_bumps_its_task_for_a_poller(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await completed_model(client, alice, sessionmaker)
    task_id = model["requestId"]
    _, before = await task_status(client, alice, task_id)
    assert (await task_status(client, alice, task_id, before["updatedAt"]))[0] == 304

    body = {"name": "A teapot", "description": "short and stout"}
    assert (await call(client, "PATCH", f"/api/models/{model['id']}", alice, body))[0] == 200
    status, task = await task_status(client, alice, task_id, before["updatedAt"])
    assert status == 200
    assert (task["model"]["name"], task["model"]["description"]) == ("A teapot", "short and stout")
    assert task["updatedAt"] > before["updatedAt"]

    # nothing changed (the same values, or none): the task stays as it was
    for unchanged in (body, {}):
        assert (await call(client, "PATCH", f"/api/models/{model['id']}", alice, unchanged))[
            0
        ] == 200
        assert (await task_status(client, alice, task_id, task["updatedAt"]))[0] == 304


async def test_publishing_and_unpublishing_a_model_bump_its_task_for_a_poller(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await completed_model(client, alice, sessionmaker)
    task_id = model["requestId"]
    path = f"/api/models/{model['id']}/visibility"
    _, seen = await task_status(client, alice, task_id)
    for visibility in ("PRIVATE", "PUBLIC"):
        assert (await call(client, "PATCH", path, alice, {"visibility": visibility}))[0] == 200
        status, task = await task_status(client, alice, task_id, seen["updatedAt"])
        assert status == 200, visibility
        assert task["model"]["visibility"] == visibility
        assert task["updatedAt"] > seen["updatedAt"]
        seen = task
        # the same visibility again changes nothing
        assert (await call(client, "PATCH", path, alice, {"visibility": visibility}))[0] == 200
        assert (await task_status(client, alice, task_id, seen["updatedAt"]))[0] == 304


async def test_other_users_likes_favourites_and_downloads_do_not_bump_the_task(
    client: Client, alice: IssuedToken, bob: IssuedToken, sessionmaker: Sessions
) -> None:
    model = await completed_model(client, alice, sessionmaker)
    _, before = await task_status(client, alice, model["requestId"])
    gallery = f"/api/gallery/models/{model['id']}"
    for kind in ("LIKE", "FAVORITE"):
        toggled = await client.post(
            f"{gallery}/interactions", json={"type": kind}, headers=auth(bob)
        )
        assert toggled.status == 200, kind
    assert (await client.post(f"{gallery}/download", json={}, headers=auth(bob))).status == 200
    assert (await task_status(client, alice, model["requestId"], before["updatedAt"]))[0] == 304


async def test_a_model_without_a_task_is_renamed_and_published_without_a_bump(
    client: Client, alice: IssuedToken, sessionmaker: Sessions
) -> None:
    [model_id] = await published_models(sessionmaker, alice.user_id, 1)
    status, body = await call(client, "PATCH", f"/api/models/{model_id}", alice, {"name": "Mine"})
    assert (status, body["data"]["name"], body["data"]["requestId"]) == (200, "Mine", None)
    path = f"/api/models/{model_id}/visibility"
    status, body = await call(client, "PATCH", path, alice, {"visibility": "PRIVATE"})
    assert (status, body["data"]["visibility"]) == (200, "PRIVATE")
