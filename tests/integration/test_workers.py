"""The image and model workers' real `run()`, in burst mode, on real Redis and database."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import trimesh
from PIL import Image
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import GeneratedImage, GenerationRequest, Model, ModelJob
from lumi_common.states import ImageStatus, JobStatus, RequestPhase, RequestStatus
from lumi_common.storage.local import LocalStorage
from lumi_image_worker.providers.images import OfflineImageGenerator
from lumi_image_worker.service import run as run_image_worker
from lumi_image_worker.settings import ImageWorkerSettings
from lumi_model_worker.service import run as run_model_worker
from lumi_model_worker.settings import ModelWorkerSettings
from tests.support.factories import create_selected_task, create_task
from tests.support.pipeline import relay_all

pytestmark = pytest.mark.usefixtures("empty_outbox")
Sessions = async_sessionmaker[AsyncSession]


def worker_env(database_url: str, redis_url: str, key_prefix: str, storage: Path) -> dict[str, Any]:
    return {
        "database_url": database_url,
        "redis_url": redis_url,
        "redis_key_prefix": key_prefix,
        "storage_dir": storage,
        "app_env": "test",
        "log_format": "json",
    }


async def test_image_worker_makes_four_distinct_pngs(
    sessionmaker: Sessions,
    redis: Redis,
    key_prefix: str,
    database_url: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    task = await create_task(sessionmaker)
    await relay_all(sessionmaker, redis, key_prefix)
    settings = ImageWorkerSettings(
        **worker_env(database_url, redis_url, key_prefix, tmp_path), image_queue_concurrency=4
    )
    await run_image_worker(settings, burst=True)
    async with sessionmaker() as session:
        request = await session.get(GenerationRequest, task.request_id)
        images = (
            await session.scalars(
                select(GeneratedImage)
                .where(GeneratedImage.request_id == task.request_id)
                .order_by(GeneratedImage.image_index)
            )
        ).all()
    assert request is not None
    assert (request.status, request.phase) == (
        RequestStatus.IMAGE_COMPLETED,
        RequestPhase.AWAITING_SELECTION,
    )
    assert [image.status for image in images] == [ImageStatus.COMPLETED] * 4
    pictures = [
        (tmp_path / image.storage_key).read_bytes() for image in images if image.storage_key
    ]
    assert len(set(pictures)) == 4
    for data in pictures:
        assert Image.open(io.BytesIO(data)).size == (1024, 1024)


async def test_model_worker_builds_a_printable_textured_model(
    sessionmaker: Sessions,
    redis: Redis,
    key_prefix: str,
    database_url: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    storage = LocalStorage(tmp_path)
    picture = (await OfflineImageGenerator().generate("a small cat", seed=7)).data
    selected = await create_selected_task(sessionmaker, storage, picture=picture)
    await relay_all(sessionmaker, redis, key_prefix)
    settings = ModelWorkerSettings(
        **worker_env(database_url, redis_url, key_prefix, tmp_path),
        model_poll_interval_seconds=0.05,
    )
    await run_model_worker(settings, burst=True)
    async with sessionmaker() as session:
        request = await session.get(GenerationRequest, selected.request_id)
        model = await session.get(Model, selected.model_id)
        job = await session.get(ModelJob, selected.job_id)
    assert request is not None
    assert model is not None
    assert job is not None
    assert (job.status, job.progress, job.attempt) == (JobStatus.COMPLETED, 100, 1)
    assert (request.status, request.phase) == (RequestStatus.COMPLETED, RequestPhase.COMPLETED)
    assert request.completed_at is not None
    assert model.completed_at is not None
    assert model.published_at is not None
    assert model.format == "OBJ"
    assert model.file_size
    assert model.vertex_count
    assert model.face_count
    assert model.model_key
    assert {model.mtl_key, model.texture_key, model.glb_key} == {
        f"{Path(model.model_key).parent}/{name}"
        for name in ("material.mtl", "material.png", "model.glb")
    }
    folder = tmp_path / Path(model.model_key).parent
    mesh = trimesh.load(folder / "model.obj", force="mesh")
    assert isinstance(mesh, trimesh.Trimesh)
    assert mesh.is_watertight
    assert isinstance(mesh.visual, trimesh.visual.TextureVisuals)
    assert "map_Kd material.png" in (folder / "material.mtl").read_text()
    glb = trimesh.load(folder / "model.glb", force="mesh")
    assert isinstance(glb, trimesh.Trimesh)
    assert len(glb.faces) == model.face_count
