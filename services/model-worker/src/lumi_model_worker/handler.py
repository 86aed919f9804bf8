"""One model job, in steps that never pin a worker slot while a provider works:

submit (send the chosen image) → poll (a delayed message per poll) → fetch (store the files).
The step lives on the job row (`stage`), so a retry after a network error resumes polling the
same provider job instead of paying for a new one. Progress is real and stage-based: 10 once
submitted, up to 80 while the provider works, 90 once the files are fetched, 100 when stored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import GeneratedImage, Model, ModelJob
from lumi_common.errors import PermanentError
from lumi_common.jobs.lifecycle import Claim
from lumi_common.messages import JobMessage, ModelJobRequested, with_attempt
from lumi_common.outbox.writer import add_event
from lumi_common.pipeline.models import ModelFiles, ModelJobs, complete_model, record_progress
from lumi_common.providers.calls import call_scope
from lumi_common.providers.waits import Wait
from lumi_common.storage.content_types import content_type_for
from lumi_common.storage.keys import model_prefix
from lumi_common.storage.protocol import Storage
from lumi_common.time import utcnow
from lumi_model_worker.providers.meshes import MeshGenerator
from lumi_model_worker.providers.model_files import (
    GLB_FILE,
    MTL_FILE,
    OBJ_FILE,
    STL_FILE,
    TEXTURE_FILE,
    MeshArtifacts,
)
from lumi_model_worker.steps import DONE, FETCHED, Limits, Picture, next_step


@dataclass(frozen=True, slots=True)
class Deps:
    sessionmaker: async_sessionmaker[AsyncSession]
    storage: Storage
    meshes: MeshGenerator
    kind: ModelJobs
    provider_name: str
    limits: Limits
    # called after a model completed (and, if public, entered the gallery): the API's cached
    # gallery pages must notice, and the worker cannot import the API
    gallery_changed: Callable[[], Awaitable[None]]
    # how long the signed URL of the chosen picture given to a hosted provider lives; None: the
    # provider gets the bytes (the offline one, or a URL nobody outside could fetch)
    picture_url_seconds: float | None = None


async def handle_model_job(deps: Deps, message: JobMessage, claim: Claim) -> None:
    job = claim.job
    assert isinstance(job, ModelJob)
    with call_scope("model", request_id=job.request_id, job_id=job.id):
        step = await next_step(
            deps.meshes,
            job,
            picture=partial(_source_image, deps, job),
            record=partial(_record, deps, claim),
            limits=deps.limits,
            provider_name=deps.provider_name,
        )
    if isinstance(step, Wait):
        await _wait(deps, claim, message, step)
        return
    await _record(deps, claim, stage="fetch", progress=FETCHED)
    files = await _store(deps.storage, job.model_id, step.artifacts)
    async with deps.sessionmaker.begin() as session:
        await deps.kind.lifecycle.complete(session, claim, progress=DONE, stage="done")
        await complete_model(session, job, files)
    await deps.gallery_changed()


async def _source_image(deps: Deps, job: ModelJob) -> Picture:
    async with deps.sessionmaker() as session:
        key = await session.scalar(
            select(GeneratedImage.storage_key)
            .join(Model, Model.source_image_id == GeneratedImage.id)
            .where(Model.id == job.model_id)
        )
    if key is None:
        raise PermanentError("the chosen image of this model is missing")
    data = await deps.storage.get(key)
    if deps.picture_url_seconds is None:
        return Picture(data)
    # the providers' one way to a stored file: a signed URL (S3 presigned GET, or the API's)
    url = await deps.storage.signed_url(key, expires_in=deps.picture_url_seconds)
    return Picture(data, url)


async def _record(deps: Deps, claim: Claim, **values: object) -> None:
    """Progress on the job row, and a bump of the request so polling clients see it."""
    async with deps.sessionmaker.begin() as session:
        await deps.kind.lifecycle.update_running(session, claim, **values)
        job = claim.job
        assert isinstance(job, ModelJob)
        await record_progress(session, job)


async def _wait(deps: Deps, claim: Claim, message: JobMessage, step: Wait) -> None:
    job = claim.job
    assert isinstance(job, ModelJob)
    at = utcnow() + step.after
    next_poll = with_attempt(message, claim.attempt)
    assert isinstance(next_poll, ModelJobRequested)
    async with deps.sessionmaker.begin() as session:
        await deps.kind.lifecycle.park(session, claim, until=at, **step.values)
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
