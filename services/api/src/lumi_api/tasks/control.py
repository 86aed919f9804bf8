"""What a user can do to a task once it exists: cancel it, retry what failed, delete it.

Each runs inside the caller's transaction and writes the outbox events it causes. Lock order is
the workers': a worker changes its own job row, then locks the request. So cancelling and
deleting, which change jobs a worker may hold, cancel the jobs first and lock the request after;
retrying touches only FAILED jobs, which no worker holds, and locks the request first, as
choosing an image does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from lumi_api import texts
from lumi_api.models.repository import is_listed
from lumi_api.tasks.repository import JobIds, TaskRecord, TaskRepository
from lumi_api.tasks.service import TaskNotFound, get_task
from lumi_common import task_changes
from lumi_common.db.tables import GenerationRequest
from lumi_common.errors import InvalidState
from lumi_common.i18n import jobs, stored
from lumi_common.jobs.kinds import JobKind
from lumi_common.jobs.requeue import requeue_job
from lumi_common.outbox.writer import discard_unpublished
from lumi_common.pipeline.images import IMAGE_OUTCOMES, ImageJobs
from lumi_common.pipeline.models import ModelJobs
from lumi_common.pipeline.requests import lock_request, touch
from lumi_common.states import JobStatus, RequestStatus
from lumi_common.storage import deletions
from lumi_common.storage.keys import images_prefix, model_prefix
from lumi_common.streams.names import dlq_name
from lumi_common.webhooks import events as webhook_events

FINISHED = frozenset(
    {
        RequestStatus.COMPLETED,
        RequestStatus.MODEL_COMPLETED,
        RequestStatus.FAILED,
        RequestStatus.CANCELLED,
        RequestStatus.IMAGE_FAILED,
        RequestStatus.MODEL_FAILED,
    }
)
MODEL_DONE = (RequestStatus.COMPLETED, RequestStatus.MODEL_COMPLETED)
CANCELLED_MESSAGE = stored(jobs.CANCELLED)
RetryWhat = Literal["images", "model"]


class AlreadyFinished(InvalidState):
    default_message = texts.ALREADY_FINISHED


class NothingToRetry(InvalidState):
    default_message = texts.NOTHING_TO_RETRY


class ImagesAlreadyChosen(InvalidState):
    default_message = texts.IMAGES_ALREADY_CHOSEN


class ModelNotFailed(InvalidState):
    default_message = texts.MODEL_NOT_FAILED


class ModelComplete(InvalidState):
    # regenerating in place would change files served as immutable for a year, under URLs that
    # browsers and the gallery already hold; a new task makes a new model with new URLs
    default_message = texts.MODEL_COMPLETE


@dataclass(frozen=True, slots=True)
class JobKinds:
    image: ImageJobs
    model: ModelJobs

    @classmethod
    def with_lease(cls, lease: timedelta) -> JobKinds:
        return cls(ImageJobs(lease=lease), ModelJobs(lease=lease))


async def cancel_task(
    session: AsyncSession, *, task_id: str, user_id: str, kinds: JobKinds
) -> TaskRecord:
    """Active jobs CANCELLED (workers skip them, or lose their lease), the task CANCELLED."""
    _unfinished(await TaskRepository(session).owned(task_id, user_id=user_id))
    await _cancel_jobs(session, task_id, kinds)
    request = _unfinished(await lock_request(session, task_id))  # a worker may have finished it
    old, request.status = request.status, RequestStatus.CANCELLED
    request.error_message = CANCELLED_MESSAGE
    touch(request)
    await webhook_events.status_changed(session, task_id, old=old, new=request.status)
    return await get_task(session, task_id=task_id, user_id=user_id)


@dataclass(frozen=True, slots=True)
class DeletedTask:
    prefixes: list[str]  # the folders of its files, to delete once the rows are gone
    failed_jobs: JobIds  # their dead letters, if published, are to be removed after the commit
    gallery_changed: bool  # its model was listed: cached gallery pages are to be dropped


async def delete_task(
    session: AsyncSession, *, task_id: str, user_id: str, kinds: JobKinds, now: datetime
) -> DeletedTask:
    """The task and everything hanging off it; its files are scheduled for deletion."""
    repo = TaskRepository(session)
    task_changes.changed(session, task_id)  # if this commits, its open event streams end
    if await repo.owned(task_id, user_id=user_id) is None:
        raise TaskNotFound()
    await _cancel_jobs(session, task_id, kinds)
    request = await lock_request(session, task_id)
    if request is None:
        raise TaskNotFound()  # deleted by a concurrent request
    failed = await repo.job_ids(task_id, statuses=[JobStatus.FAILED])
    model = await repo.model_of(task_id)
    # folders named from the rows, never from the id as the client spelled it
    prefixes = [images_prefix(request.id), *([model_prefix(model.id)] if model else [])]
    deletions.schedule(session, prefixes, now=now)
    for kind, ids in ((kinds.image, failed.image), (kinds.model, failed.model)):
        await discard_unpublished(session, stream=dlq_name(kind.stream), keys=ids)
    await repo.delete(task_id)
    listed = model is not None and is_listed(model)
    return DeletedTask(prefixes=prefixes, failed_jobs=failed, gallery_changed=listed)


@dataclass(frozen=True, slots=True)
class Retried:
    task: TaskRecord
    jobs: JobIds  # requeued; their published dead letters are to be removed after the commit


async def retry_task(
    session: AsyncSession, *, task_id: str, user_id: str, what: RetryWhat, kinds: JobKinds
) -> Retried:
    """Failed images (`images`) or the failed model (`model`) queued again, as a DLQ replay
    would (`jobs.requeue`): the request shows them pending again."""
    request = await lock_request(session, task_id)
    if request is None or request.user_id != user_id:
        raise TaskNotFound()
    failed = await TaskRepository(session).job_ids(task_id, statuses=[JobStatus.FAILED])
    if what == "images":
        _images_retryable(request, failed)
        jobs = JobIds(image=failed.image, model=[])
    else:
        _model_retryable(request, failed)
        jobs = JobIds(image=[], model=failed.model)
    requeues: list[tuple[JobKind[Any, Any], list[str]]] = [
        (kinds.image, jobs.image),
        (kinds.model, jobs.model),
    ]
    for kind, ids in requeues:
        for job_id in ids:
            if await requeue_job(session, kind, job_id) is None:
                raise NothingToRetry()  # not FAILED any more: cannot happen under the lock
    return Retried(task=await get_task(session, task_id=task_id, user_id=user_id), jobs=jobs)


def _images_retryable(request: GenerationRequest, failed: JobIds) -> None:
    if request.status not in IMAGE_OUTCOMES:
        raise ImagesAlreadyChosen()
    if not failed.image:
        raise NothingToRetry()


def _model_retryable(request: GenerationRequest, failed: JobIds) -> None:
    if request.status in MODEL_DONE:
        raise ModelComplete()
    if request.status is not RequestStatus.MODEL_FAILED:
        raise ModelNotFailed()
    if not failed.model:
        raise NothingToRetry()


async def _cancel_jobs(session: AsyncSession, task_id: str, kinds: JobKinds) -> None:
    for kind in (kinds.image, kinds.model):
        await kind.lifecycle.cancel_active(session, request_id=task_id)


def _unfinished(request: GenerationRequest | None) -> GenerationRequest:
    if request is None:
        raise TaskNotFound()
    if request.status in FINISHED:
        raise AlreadyFinished()
    return request
