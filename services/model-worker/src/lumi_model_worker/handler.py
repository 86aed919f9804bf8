"""One model job, in steps that never pin a worker slot while a provider works:

submit (send the chosen image) → poll (a delayed message per poll) → fetch (store the files).
The step lives on the job row (`stage`), so a retry after a network error resumes polling the
same provider job instead of paying for a new one. Progress is real and stage-based: 10 once
submitted, up to 80 while the provider works, 90 once the files are fetched, 100 when stored.
The runtime records the outcome: `Poll` parks the job until the next poll, `Done(files)`
completes job, model and request (`complete_models`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import GeneratedImage, Model, ModelJob
from lumi_common.errors import PermanentError
from lumi_common.jobs.kinds import record_progress
from lumi_common.jobs.lifecycle import Claim
from lumi_common.jobs.results import Done, Poll
from lumi_common.messages import ModelJobRequested
from lumi_common.pipeline.models import ModelFiles, ModelJobs
from lumi_common.providers.calls import call_scope
from lumi_common.storage.content_types import content_type_for
from lumi_common.storage.keys import model_prefix
from lumi_common.storage.protocol import Storage
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
    # how long the signed URL of the chosen picture given to a hosted provider lives; None: the
    # provider gets the bytes (the offline one, or a URL nobody outside could fetch)
    picture_url_seconds: float | None = None


async def handle_model_job(
    deps: Deps, message: ModelJobRequested, claim: Claim[ModelJob]
) -> Done[ModelFiles] | Poll:
    job = claim.job
    record = partial(record_progress, deps.sessionmaker, deps.kind, claim)
    with call_scope("model", request_id=job.request_id, job_id=job.id):
        step = await next_step(
            deps.meshes,
            job,
            picture=partial(_source_image, deps, job),
            record=record,
            limits=deps.limits,
            provider_name=deps.provider_name,
        )
    if isinstance(step, Poll):
        return step
    await record(stage="fetch", progress=FETCHED)
    files = await _store(deps.storage, job.model_id, step.artifacts)
    return Done(files, values={"progress": DONE, "stage": "done"})


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
