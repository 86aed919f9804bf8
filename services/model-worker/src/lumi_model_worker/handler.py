"""One model job, in steps that never pin a worker slot while a provider works:

submit (send the chosen image) → poll (a delayed message per poll) → fetch (store the files).
The step lives on the job row (`stage`), so a retry after a network error resumes polling the
same provider job instead of paying for a new one. Progress is real and stage-based: 10 once
submitted, up to 80 while the provider works, 90 once the files are fetched, 100 when stored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import GeneratedImage, Model, ModelJob
from lumi_common.errors import PermanentError
from lumi_common.jobs.lifecycle import Claim
from lumi_common.messages import JobMessage, ModelJobRequested, with_attempt
from lumi_common.outbox.writer import add_event
from lumi_common.pipeline.models import ModelFiles, ModelJobs, complete_model, record_progress
from lumi_common.storage.content_types import content_type_for
from lumi_common.storage.keys import model_prefix
from lumi_common.storage.protocol import Storage
from lumi_common.time import utcnow
from lumi_model_worker.providers.meshes import MeshGenerator, PollResult
from lumi_model_worker.providers.model_files import (
    GLB_FILE,
    MTL_FILE,
    OBJ_FILE,
    STL_FILE,
    TEXTURE_FILE,
    MeshArtifacts,
)

SUBMITTED, POLLING_MAX, FETCHED, DONE = 10, 80, 90, 100


@dataclass(frozen=True, slots=True)
class Deps:
    sessionmaker: async_sessionmaker[AsyncSession]
    storage: Storage
    meshes: MeshGenerator
    kind: ModelJobs
    provider_name: str
    poll_interval: timedelta
    max_polls: int
    # called after a model completed (and, if public, entered the gallery): the API's cached
    # gallery pages must notice, and the worker cannot import the API
    gallery_changed: Callable[[], Awaitable[None]]


async def handle_model_job(deps: Deps, message: JobMessage, claim: Claim) -> None:
    job = claim.job
    assert isinstance(job, ModelJob)
    provider_job_id = job.provider_job_id
    if job.stage not in ("poll", "fetch") or provider_job_id is None:
        provider_job_id = await deps.meshes.submit(await _source_image(deps, job), job_key=job.id)
        await _record(
            deps,
            claim,
            stage="poll",
            progress=SUBMITTED,
            provider_job_id=provider_job_id,
            provider_name=deps.provider_name,
        )
    result = await deps.meshes.poll(provider_job_id)
    if result.state == "failed":
        raise PermanentError(f"3D generation failed: {result.error or 'unknown error'}")
    if result.state == "running":
        await _schedule_poll(deps, claim, message, result)
        return
    artifacts = await deps.meshes.fetch(provider_job_id)
    await _record(deps, claim, stage="fetch", progress=FETCHED)
    files = await _store(deps.storage, job.model_id, artifacts)
    async with deps.sessionmaker.begin() as session:
        await deps.kind.lifecycle.complete(session, claim, progress=DONE, stage="done")
        await complete_model(session, job, files)
    await deps.gallery_changed()


async def _source_image(deps: Deps, job: ModelJob) -> bytes:
    async with deps.sessionmaker() as session:
        key = await session.scalar(
            select(GeneratedImage.storage_key)
            .join(Model, Model.source_image_id == GeneratedImage.id)
            .where(Model.id == job.model_id)
        )
    if key is None:
        raise PermanentError("the chosen image of this model is missing")
    return await deps.storage.get(key)


async def _record(deps: Deps, claim: Claim, **values: object) -> None:
    """Progress on the job row, and a bump of the request so polling clients see it."""
    async with deps.sessionmaker.begin() as session:
        await deps.kind.lifecycle.update_running(session, claim, **values)
        job = claim.job
        assert isinstance(job, ModelJob)
        await record_progress(session, job)


async def _schedule_poll(deps: Deps, claim: Claim, message: JobMessage, result: PollResult) -> None:
    job = claim.job
    assert isinstance(job, ModelJob)
    polls = job.poll_count + 1
    if polls > deps.max_polls:
        raise PermanentError(f"3D generation did not finish after {deps.max_polls} polls")
    at = utcnow() + deps.poll_interval
    progress = SUBMITTED + (POLLING_MAX - SUBMITTED) * max(0, min(result.progress, 100)) // 100
    next_poll = with_attempt(message, claim.attempt)
    assert isinstance(next_poll, ModelJobRequested)
    async with deps.sessionmaker.begin() as session:
        await deps.kind.lifecycle.park(
            session, claim, until=at, stage="poll", poll_count=polls, progress=progress
        )
        await record_progress(session, job)
        add_event(
            session,
            stream=deps.kind.stream,
            key=job.id,
            message=next_poll.model_copy(update={"step": "poll"}),
            available_at=at,
        )


async def _store(storage: Storage, model_id: str, artifacts: MeshArtifacts) -> ModelFiles:
    prefix = model_prefix(model_id)
    keys = {}
    for name, data in artifacts.files().items():
        keys[name] = (await storage.put(prefix + name, data, content_type_for(name))).key
    return ModelFiles(
        model_key=keys[OBJ_FILE],
        mtl_key=keys[MTL_FILE],
        texture_key=keys[TEXTURE_FILE],
        glb_key=keys[GLB_FILE],
        stl_key=keys[STL_FILE],
        file_size=len(artifacts.obj),
        glb_size=len(artifacts.glb),
        stl_size=len(artifacts.stl),
        vertex_count=artifacts.vertex_count,
        face_count=artifacts.face_count,
        size_mm=artifacts.size_mm,
    )
