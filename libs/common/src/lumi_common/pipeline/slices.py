"""Slice jobs: what finishing, failing and replaying a slice means for its model and its task.

The model row carries its latest slice as the apps know it (`sliceTaskId`, `sliceStatus`,
`printStatus`, its G-code): PROCESSING / SLICING from the request on, then COMPLETED /
SLICE_COMPLETE with a G-code, or FAILED / FAILED. The job row holds the rest (`GET /slices/:id`).
The model's task is bumped with every change, since its `model` shows the print status to
clients polling with `?since=`. Locks: the task first, then the model, as the model stage takes
them.

A failed slice's `client_error` is what its client reads: the failure's catalogue sentence, stored
as a reference (`lumi_common.i18n.stored`, rendered in the reader's language when read). Its
`error_message` keeps the raw error for operators, as every job row does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lumi_common import jsonx
from lumi_common.db.tables import GenerationRequest, Model, SliceJob
from lumi_common.i18n import slices as slice_texts
from lumi_common.jobs.kinds import JobKind
from lumi_common.messages import SliceJobRequested
from lumi_common.pipeline.requests import lock_request, touch
from lumi_common.states import PrintStatus, SliceStatus
from lumi_common.streams.names import SLICE_JOBS


class SliceJobs(JobKind[SliceJob, SliceJobRequested]):
    """The slice job kind, as the consumer runtime and operators see it. Nothing to show at the
    claim: the model says PROCESSING from the slice request on."""

    stream = SLICE_JOBS
    table = SliceJob
    message_type = SliceJobRequested
    failed_message = slice_texts.FAILED

    async def message_for(
        self, session: AsyncSession, job: SliceJob, *, attempt: int
    ) -> SliceJobRequested:
        row = (
            await session.execute(
                select(Model.request_id, GenerationRequest.trace_id)
                .outerjoin(GenerationRequest, GenerationRequest.id == Model.request_id)
                .where(Model.id == job.model_id)
            )
        ).first()
        request_id = row.request_id if row is not None and row.request_id else job.model_id
        extra = {"trace_id": row.trace_id} if row is not None and row.trace_id else {}
        return SliceJobRequested(
            job_id=job.id, request_id=request_id, model_id=job.model_id, attempt=attempt, **extra
        )

    async def on_failed(self, session: AsyncSession, job: SliceJob, error: str) -> None:
        # `error` is the client's sentence (a stored reference), never the raw error
        job.client_error = error
        model = await _lock_model_of(session, job)
        if model is not None:
            model.slice_status, model.print_status = SliceStatus.FAILED, PrintStatus.FAILED

    async def on_requeued(self, session: AsyncSession, job: SliceJob) -> None:
        job.client_error = None
        model = await _lock_model_of(session, job)
        if model is not None:
            model.slice_status, model.print_status = SliceStatus.PROCESSING, PrintStatus.SLICING


@dataclass(frozen=True, slots=True)
class SliceFiles:
    gcode_key: str
    gcode_size: int
    thumbnail_key: str | None
    metadata: dict[str, Any]  # `gcodeMetadata`, as `GcodeSummary.metadata()` and the mesh give it


def slice_values(files: SliceFiles, *, duration_ms: int) -> dict[str, Any]:
    """The job columns a finished slice writes with its completion (`Done(values=...)`)."""
    return {
        "gcode_key": files.gcode_key,
        "gcode_size": files.gcode_size,
        "thumbnail_key": files.thumbnail_key,
        "gcode_metadata": jsonx.dumps_str(files.metadata),
        "duration_ms": duration_ms,
    }


async def complete_slices(
    session: AsyncSession, done: Sequence[tuple[SliceJob, SliceFiles]]
) -> None:
    """The models of finished slices show them, in the transaction that completed the jobs (the
    runtime's, after their rows; a slice whose job was no longer ours is not here)."""
    for job, files in sorted(done, key=lambda pair: pair[0].model_id):
        model = await _lock_model_of(session, job)
        if model is not None:
            model.slice_status = SliceStatus.COMPLETED
            model.print_status = PrintStatus.SLICE_COMPLETE
            model.gcode_key = files.gcode_key


async def _lock_model_of(session: AsyncSession, job: SliceJob) -> Model | None:
    """The model, locked after its task, when this job is still its latest slice (a replaced or
    deleted slice changes nothing); its task is bumped."""
    request_id = await session.scalar(select(Model.request_id).where(Model.id == job.model_id))
    request = await lock_request(session, request_id) if request_id else None
    model = await session.get(Model, job.model_id, populate_existing=True, with_for_update=True)
    if model is None or model.slice_task_id != job.id:
        return None
    if request is not None:
        touch(request)
    return model
