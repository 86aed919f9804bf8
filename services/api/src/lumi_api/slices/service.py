"""Slicing rules: who may slice what, when, and what a slice request writes.

A model is sliced by its owner once it is completed, one slice at a time (409 while one is
queued or running); slicing it again replaces its finished slice, whose files go with it. The
request writes the slice job, the model's slice state and the event that starts the worker, in
the caller's transaction, and bumps the model's task: its `model` shows the slice to clients
polling with `?since=` (`lumi_common.pipeline.slices` does the same for the slice's outcome).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from lumi_api import texts
from lumi_api.models.repository import ModelRepository
from lumi_api.models.service import ModelNotFound, raise_for_stranger
from lumi_api.slices.repository import SliceRepository, is_active
from lumi_api.tasks.service import TaskNotFound
from lumi_common.db.tables import Model, SliceJob
from lumi_common.errors import InvalidState, NotFound
from lumi_common.ids import canonical_id, new_id
from lumi_common.messages import SliceJobRequested
from lumi_common.outbox.writer import add_event
from lumi_common.pipeline.requests import lock_request, touch
from lumi_common.slice_profiles import SliceProfile
from lumi_common.states import JobStatus, PrintStatus, SliceStatus
from lumi_common.storage import deletions, slice_prefix
from lumi_common.streams.names import SLICE_JOBS


class SliceNotFound(NotFound):
    default_message = texts.SLICE_NOT_FOUND


class ModelNotReady(InvalidState):
    default_message = texts.MODEL_NOT_READY_TO_SLICE


class SliceInProgress(InvalidState):
    default_message = texts.SLICE_IN_PROGRESS


@dataclass(frozen=True, slots=True)
class NewSlice:
    job: SliceJob
    trace_id: str
    replaced: list[SliceJob]  # the finished slices it replaces, deleted with it

    @property
    def replaced_folders(self) -> list[str]:
        return [slice_prefix(job.model_id, job.id) for job in self.replaced]

    @property
    def replaced_failed(self) -> list[str]:
        """Their ids in the dead-letter stream, if any: to discard after the commit."""
        return [job.id for job in self.replaced if job.status is JobStatus.FAILED]


async def request_slice(
    session: AsyncSession, *, model_id: str, user_id: str, profile: SliceProfile, now: datetime
) -> NewSlice:
    canonical = canonical_id(model_id)  # from a body: the route guard never saw it
    if canonical is None:
        raise ModelNotFound()
    # the task's row lock, then the model's, as the workers take them (no lock-order deadlock
    # with a slice or model outcome); two requests for one model serialise here, and the second
    # sees the first one's slice
    task_id = await SliceRepository(session).task_of(canonical)
    task = await lock_request(session, task_id) if task_id is not None else None
    model = await ModelRepository(session).lock(canonical)
    if model is None:
        raise ModelNotFound()
    if model.user_id != user_id:
        raise_for_stranger(model)
    started = await _slice(session, model, profile=profile, now=now)
    if task is not None:
        touch(task)
    return started


async def print_task(
    session: AsyncSession, *, task_id: str, user_id: str, profile: SliceProfile, now: datetime
) -> NewSlice:
    """`POST /tasks/:id/print`: slice the task's model (the web app's one-click print)."""
    repo = SliceRepository(session)
    if await repo.task_owner(task_id) != user_id:
        raise TaskNotFound()
    model = await repo.model_of_task(task_id)
    if model is None:
        raise ModelNotReady()
    return await request_slice(
        session, model_id=model.id, user_id=user_id, profile=profile, now=now
    )


async def _slice(
    session: AsyncSession, model: Model, *, profile: SliceProfile, now: datetime
) -> NewSlice:
    if model.completed_at is None or model.model_key is None:
        raise ModelNotReady()
    repo = SliceRepository(session)
    earlier = list(await repo.of_model(model.id))
    if any(is_active(job) for job in earlier):
        raise SliceInProgress()
    await repo.delete([job.id for job in earlier])
    # recorded with the deletion: if removing the files fails after the commit, the sweep will
    deletions.schedule(session, [slice_prefix(model.id, job.id) for job in earlier], now=now)
    job = SliceJob(
        id=new_id(),
        model_id=model.id,
        user_id=model.user_id,
        profile=profile.value,
        status=JobStatus.QUEUED,
        attempt=0,
        created_at=now,
        updated_at=now,
    )
    repo.add(job)
    model.slice_task_id, model.slice_status = job.id, SliceStatus.PROCESSING
    model.print_status, model.gcode_key = PrintStatus.SLICING, None
    message = SliceJobRequested(
        job_id=job.id, request_id=model.request_id or model.id, model_id=model.id
    )
    add_event(session, stream=SLICE_JOBS, key=job.id, message=message)
    return NewSlice(job=job, trace_id=message.trace_id, replaced=earlier)
