"""Model jobs: what progress, completion, failure and replay mean for the model and its request.

Request: MODEL_PENDING → MODEL_GENERATING → COMPLETED (phase COMPLETED), or MODEL_FAILED.
A completed public model is published then (`published_at`), which puts it in the gallery.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lumi_common.db.tables import MODEL_FORMAT, GenerationRequest, Model, ModelJob
from lumi_common.jobs.kinds import JobKind
from lumi_common.messages import ModelJobRequested
from lumi_common.pipeline.requests import lock_request, touch
from lumi_common.states import RequestPhase, RequestStatus, Visibility
from lumi_common.streams.names import MODEL_JOBS
from lumi_common.time import utcnow
from lumi_common.webhooks import events as webhook_events

MODEL_STAGE = (RequestStatus.MODEL_PENDING, RequestStatus.MODEL_GENERATING)


class ModelJobs(JobKind[ModelJob, ModelJobRequested]):
    """The model job kind, as the consumer runtime and operators see it."""

    stream = MODEL_JOBS
    table = ModelJob
    message_type = ModelJobRequested

    async def message_for(
        self, session: AsyncSession, job: ModelJob, *, attempt: int
    ) -> ModelJobRequested:
        trace = await session.scalar(
            select(GenerationRequest.trace_id).where(GenerationRequest.id == job.request_id)
        )
        extra = {"trace_id": trace} if trace else {}
        return ModelJobRequested(job_id=job.id, request_id=job.request_id, attempt=attempt, **extra)

    async def on_claimed(self, session: AsyncSession, jobs: Sequence[ModelJob]) -> None:
        # model jobs take minutes, so a batch rarely holds two; request locks in one order
        for job in sorted(jobs, key=lambda job: job.request_id):
            await record_progress(session, job)

    async def on_progress(self, session: AsyncSession, job: ModelJob) -> None:
        await record_progress(session, job)

    async def on_failed(self, session: AsyncSession, job: ModelJob, error: str) -> None:
        request = await lock_request(session, job.request_id)
        model = await _model_of(session, job)
        if request is None or model is None:
            return
        model.failed_at = utcnow()
        model.error_message = error
        touch(request)
        if request.status in MODEL_STAGE:
            old, request.status = request.status, RequestStatus.MODEL_FAILED
            request.error_message = error
            await webhook_events.status_changed(session, request.id, old=old, new=request.status)

    async def on_requeued(self, session: AsyncSession, job: ModelJob) -> None:
        request = await lock_request(session, job.request_id)
        model = await _model_of(session, job)
        if request is None or model is None:
            return
        job.progress, job.stage, job.provider_job_id, job.poll_count = 0, None, None, 0
        model.failed_at = None
        model.error_message = None
        touch(request)
        if request.status == RequestStatus.MODEL_FAILED:
            request.status = RequestStatus.MODEL_PENDING
            request.phase = RequestPhase.MODEL_GENERATION
            request.error_message = None


async def _model_of(session: AsyncSession, job: ModelJob) -> Model | None:
    return await session.get(Model, job.model_id, populate_existing=True)


async def record_progress(session: AsyncSession, job: ModelJob) -> GenerationRequest | None:
    """Called in the transaction that changed the job's progress or stage: the request shows it."""
    request = await lock_request(session, job.request_id)
    if request is None:
        return None
    touch(request)
    if request.status == RequestStatus.MODEL_PENDING:
        request.status = RequestStatus.MODEL_GENERATING
    return request


@dataclass(frozen=True, slots=True)
class ModelFiles:
    model_key: str
    mtl_key: str
    texture_key: str
    glb_key: str
    stl_key: str
    file_size: int  # the OBJ's
    glb_size: int
    stl_size: int
    vertex_count: int
    face_count: int
    size_mm: tuple[float, float, float]  # the STL's extent along x, y, z


async def complete_models(
    session: AsyncSession, done: Sequence[tuple[ModelJob, ModelFiles]]
) -> None:
    """Record finished models (job, stored files), request locks taken in one order."""
    for job, files in sorted(done, key=lambda pair: pair[0].request_id):
        await complete_model(session, job, files)


async def complete_model(session: AsyncSession, job: ModelJob, files: ModelFiles) -> None:
    request = await lock_request(session, job.request_id)
    # locked: an owner making it private at this moment must not leave it published
    model = await session.get(Model, job.model_id, populate_existing=True, with_for_update=True)
    if request is None or model is None:
        return
    now = utcnow()
    model.model_key, model.mtl_key = files.model_key, files.mtl_key
    model.texture_key, model.glb_key = files.texture_key, files.glb_key
    model.stl_key, model.format = files.stl_key, MODEL_FORMAT
    model.file_size, model.glb_size = files.file_size, files.glb_size
    model.stl_size = files.stl_size
    model.vertex_count, model.face_count = files.vertex_count, files.face_count
    model.size_x_mm, model.size_y_mm, model.size_z_mm = files.size_mm
    model.completed_at, model.failed_at, model.error_message = now, None, None
    if model.visibility is Visibility.PUBLIC:
        model.published_at = now
    touch(request)
    if request.status in (*MODEL_STAGE, RequestStatus.MODEL_FAILED):
        old, request.status = request.status, RequestStatus.COMPLETED
        request.phase = RequestPhase.COMPLETED
        request.completed_at = now
        request.error_message = None
        await webhook_events.status_changed(session, request.id, old=old, new=request.status)
