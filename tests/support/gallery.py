"""Models for gallery tests: made through the API and the worker's own completion, or written
straight to the database in bulk, shaped as the worker leaves a completed model."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api.auth.service import IssuedToken
from lumi_common.db.tables import Model, ModelJob
from lumi_common.ids import new_id
from lumi_common.pipeline.models import ModelFiles, complete_model
from lumi_common.states import JobStatus, Visibility
from lumi_common.storage import model_prefix
from lumi_common.time import utcnow
from tests.support.api import Client, finish_images

Sessions = async_sessionmaker[AsyncSession]


def auth(token: IssuedToken) -> dict[str, str]:
    return {"Authorization": token.header}


async def requested_model(client: Client, token: IssuedToken, sessionmaker: Sessions) -> Any:
    """A task whose image 1 was chosen: the model exists, PUBLIC, not yet completed."""
    created = await client.post("/api/tasks", json={"prompt": "a teapot"}, headers=auth(token))
    task = (await created.json())["data"]
    await finish_images(sessionmaker, task["id"])
    chosen = await client.patch(
        f"/api/tasks/{task['id']}", json={"selectedImageIndex": 1}, headers=auth(token)
    )
    assert chosen.status == 200
    return (await chosen.json())["data"]["model"]


async def complete(sessionmaker: Sessions, model_id: str) -> None:
    """What the model worker commits once the files are stored."""
    prefix = model_prefix(model_id)
    files = ModelFiles(
        model_key=f"{prefix}model.obj",
        mtl_key=f"{prefix}material.mtl",
        texture_key=f"{prefix}material.png",
        glb_key=f"{prefix}model.glb",
        stl_key=f"{prefix}model.stl",
        file_size=8,
        glb_size=8,
        stl_size=8,
        vertex_count=4,
        face_count=2,
        size_mm=(100.0, 80.0, 15.0),
    )
    async with sessionmaker.begin() as session:
        job = (await session.scalars(select(ModelJob).where(ModelJob.model_id == model_id))).one()
        job.status, job.progress = JobStatus.COMPLETED, 100
        await complete_model(session, job, files)


async def completed_model(client: Client, token: IssuedToken, sessionmaker: Sessions) -> Any:
    """A model through the API and the worker's completion: public, completed, published."""
    model = await requested_model(client, token, sessionmaker)
    await complete(sessionmaker, model["id"])
    return model


async def published_models(
    sessionmaker: Sessions,
    owner_id: str,
    count: int,
    *,
    start: datetime | None = None,
    **values: Any,
) -> list[str]:
    """`count` published models, each published a second after the previous one; returns their
    ids oldest first. `values` are column values for every row."""
    start = start or utcnow() - timedelta(days=1)
    ids = []
    async with sessionmaker.begin() as session:
        for n in range(count):
            moment = start + timedelta(seconds=n)
            row: dict[str, Any] = {
                "id": new_id(),
                "user_id": owner_id,
                "name": f"model {n}",
                "visibility": Visibility.PUBLIC,
                "created_at": moment,
                "updated_at": moment,
                "completed_at": moment,
                "published_at": moment,
                "preview_key": f"images/x/{n}.png",
                "model_key": f"models/x{n}/model.obj",
            }
            row.update(values)
            session.add(Model(**row))
            ids.append(row["id"])
    return ids
