"""`PATCH /api/tasks/:id {selectedImageIndex}`: one model per task, however often it is clicked."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.auth.service import IssuedToken
from lumi_common.db.tables import Model, ModelJob, OutboxEvent
from lumi_common.messages import ModelJobRequested, decode
from lumi_common.streams.names import MODEL_JOBS
from tests.support.api import Client, finish_images

MODEL_FIELDS = {
    # every ModelEntity field of the contract
    "id", "externalUserId", "source", "requestId", "sourceImageId", "name", "description",
    "modelUrl", "mtlUrl", "textureUrl", "previewImageUrl", "format", "fileSize", "visibility",
    "publishedAt", "viewCount", "likeCount", "favoriteCount", "downloadCount", "sliceTaskId",
    "printStatus", "createdAt", "updatedAt", "completedAt", "failedAt", "errorMessage",
    # what the apps read and the old server stripped
    "glbUrl", "vertexCount", "faceCount", "sliceStatus", "gcodeUrl", "user", "generationJob",
    "stlUrl", "printSizeMm",
}  # fmt: skip


async def new_task(client: Client, token: IssuedToken, prompt: str = "a small robot") -> Any:
    response = await client.post(
        "/api/tasks", json={"prompt": prompt}, headers={"Authorization": token.header}
    )
    assert response.status == 201
    return (await response.json())["data"]


async def choose(client: Client, token: IssuedToken, task_id: str, body: Any) -> tuple[int, Any]:
    response = await client.patch(
        f"/api/tasks/{task_id}", json=body, headers={"Authorization": token.header}
    )
    return response.status, await response.json()


async def models_of(sessionmaker: async_sessionmaker[AsyncSession], task_id: str) -> int:
    async with sessionmaker() as session:
        query = select(func.count()).select_from(Model).where(Model.request_id == task_id)
        return await session.scalar(query) or 0


async def test_choosing_an_image_starts_the_model(
    client: Client,
    alice: IssuedToken,
    sessionmaker: async_sessionmaker[AsyncSession],
    api_settings: Any,
) -> None:
    prompt = "一只戴着红色帽子和蓝色围巾的小猫坐在窗台上看雪"
    task = await new_task(client, alice, prompt)
    await finish_images(sessionmaker, task["id"])
    status, body = await choose(client, alice, task["id"], {"selectedImageIndex": 2})
    assert status == 200
    data = body["data"]
    model, out_task = data["model"], data["task"]
    assert set(model) == MODEL_FIELDS
    assert out_task["model"] == model
    assert (out_task["status"], out_task["phase"]) == ("MODEL_PENDING", "MODEL_GENERATION")
    assert out_task["selectedImageIndex"] == 2
    assert out_task["updatedAt"] > task["updatedAt"]
    assert len(out_task["images"]) == 4
    chosen = out_task["images"][2]
    assert model["sourceImageId"] == chosen["id"]
    # both the owner's signed URLs; the preview's names the model, not the task (test_file_access)
    assert chosen["imageUrl"].startswith(
        f"{api_settings.base_url}/files/images/{task['id']}/2.png?"
    )
    preview = f"{api_settings.base_url}/files/models/{model['id']}/preview.png?exp="
    assert model["previewImageUrl"].startswith(preview)
    assert model["requestId"] == task["id"]
    assert model["externalUserId"] == alice.user_id
    assert model["user"]["id"] == alice.user_id
    assert model["user"]["name"]
    assert (model["visibility"], model["publishedAt"], model["format"]) == ("PUBLIC", None, "OBJ")
    assert model["source"] == "AI_GENERATED"
    assert model["printStatus"] == "NOT_STARTED"
    assert model["name"] == "一只戴着红色帽子和蓝色围巾的小..."
    assert model["generationJob"]["status"] == "QUEUED"
    assert model["generationJob"]["progress"] == 0
    assert model["modelUrl"] is None

    async with sessionmaker() as session:
        job = await session.get_one(ModelJob, model["generationJob"]["id"])
        events = (await session.scalars(select(OutboxEvent).where(OutboxEvent.key == job.id))).all()
    assert (job.model_id, job.request_id) == (model["id"], task["id"])
    assert len(events) == 1
    assert events[0].stream == MODEL_JOBS
    message = decode(events[0].payload)
    assert isinstance(message, ModelJobRequested)
    assert (message.job_id, message.request_id, message.step) == (job.id, task["id"], "submit")

    polled = await client.get(
        f"/api/tasks/{task['id']}/status", headers={"Authorization": alice.header}
    )
    assert (await polled.json())["data"] == out_task


async def test_an_image_that_is_not_completed_is_not_ready(
    client: Client, alice: IssuedToken, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    task = await new_task(client, alice)
    await finish_images(sessionmaker, task["id"], completed=(0, 1))
    status, body = await choose(client, alice, task["id"], {"selectedImageIndex": 3})
    assert status == 400
    assert body["data"]["code"] == "IMAGE_NOT_READY"
    assert await models_of(sessionmaker, task["id"]) == 0


async def test_a_task_still_generating_is_not_ready(
    client: Client, alice: IssuedToken, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    task = await new_task(client, alice)
    status, body = await choose(client, alice, task["id"], {"selectedImageIndex": 0})
    assert (status, body["data"]["code"]) == (400, "IMAGE_NOT_READY")


@pytest.mark.parametrize(
    "body",
    [
        {"selectedImageIndex": 4},
        {"selectedImageIndex": -1},
        {"selectedImageIndex": True},
        {"selectedImageIndex": "2"},
        {"selectedImageIndex": 1.0},
        {"selectedImageIndex": None},
        {},
    ],
)
async def test_a_bad_index_is_a_validation_error(
    client: Client, alice: IssuedToken, body: Any
) -> None:
    task = await new_task(client, alice)
    status, answer = await choose(client, alice, task["id"], body)
    assert status == 400
    assert answer["data"]["code"] == "VALIDATION_ERROR"
    assert answer["data"]["message"].startswith("selectedImageIndex: ")


async def test_choosing_twice_is_a_conflict(
    client: Client, alice: IssuedToken, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    task = await new_task(client, alice)
    await finish_images(sessionmaker, task["id"])
    assert (await choose(client, alice, task["id"], {"selectedImageIndex": 0}))[0] == 200
    status, body = await choose(client, alice, task["id"], {"selectedImageIndex": 1})
    assert (status, body["data"]["code"]) == (409, "INVALID_STATE")
    assert await models_of(sessionmaker, task["id"]) == 1


async def test_a_double_click_makes_exactly_one_model(
    client: Client, alice: IssuedToken, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    task = await new_task(client, alice)
    await finish_images(sessionmaker, task["id"])
    results = await asyncio.gather(
        *(choose(client, alice, task["id"], {"selectedImageIndex": i % 4}) for i in range(4))
    )
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 409, 409, 409]
    assert {body["data"]["code"] for status, body in results if status == 409} == {"INVALID_STATE"}
    assert await models_of(sessionmaker, task["id"]) == 1
    async with sessionmaker() as session:
        jobs = await session.scalar(
            select(func.count()).select_from(ModelJob).where(ModelJob.request_id == task["id"])
        )
    assert jobs == 1


async def test_another_users_task_cannot_be_chosen(
    client: Client,
    alice: IssuedToken,
    bob: IssuedToken,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    task = await new_task(client, alice)
    await finish_images(sessionmaker, task["id"])
    status, body = await choose(client, bob, task["id"], {"selectedImageIndex": 0})
    assert (status, body["data"]["code"]) == (404, "NOT_FOUND")
    assert await models_of(sessionmaker, task["id"]) == 0
