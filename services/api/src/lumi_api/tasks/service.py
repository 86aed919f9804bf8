"""Task rules: what creating a task and choosing its image write, and when they are allowed.

Each function runs inside the caller's transaction and writes the state change together with
the outbox events it causes; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from lumi_api import texts
from lumi_api.auth.service import CurrentUser
from lumi_api.tasks.idempotency import Idempotency
from lumi_api.tasks.naming import model_name
from lumi_api.tasks.repository import TaskRecord, TaskRepository, TaskRows
from lumi_common import task_changes
from lumi_common.db.bulk import Row
from lumi_common.db.tables import (
    MODEL_FORMAT,
    GeneratedImage,
    GenerationRequest,
    Model,
    ModelJob,
)
from lumi_common.errors import AppError, BadRequest, InvalidState, NotFound
from lumi_common.ids import new_id
from lumi_common.messages import ImageJobRequested, ModelJobRequested
from lumi_common.outbox.writer import add_event, event_row
from lumi_common.pipeline.requests import ONE_MS, lock_request
from lumi_common.states import (
    ImageStatus,
    JobStatus,
    ModelSource,
    PrintStatus,
    RequestPhase,
    RequestStatus,
    Visibility,
)
from lumi_common.streams.names import IMAGE_JOBS, MODEL_JOBS

IMAGE_COUNT = 4


class TaskNotFound(NotFound):
    default_message = texts.TASK_NOT_FOUND


class ImageNotReady(BadRequest):
    code, default_message = "IMAGE_NOT_READY", texts.IMAGE_NOT_READY


class ModelAlreadyRequested(InvalidState):
    default_message = texts.MODEL_ALREADY_REQUESTED


class NotAwaitingSelection(InvalidState):
    default_message = texts.NOT_AWAITING_SELECTION


class PromptVariantsUnavailable(AppError):
    default_message = texts.PROMPT_VARIANTS_UNAVAILABLE


@dataclass(frozen=True, slots=True)
class NewImage:
    id: str
    index: int
    prompt: str


@dataclass(frozen=True, slots=True)
class NewTask:
    """A task as its creation wrote it: all that the creation's answer shows, in plain values
    (no ORM objects and no read-back on the hot path)."""

    id: str
    user_id: str
    prompt: str
    trace_id: str
    created_at: datetime
    images: list[NewImage]


def new_task(
    *,
    owner: CurrentUser,
    prompt: str,
    variants: Sequence[str],
    now: datetime,
    idempotency: Idempotency | None = None,
    callback_url: str | None = None,
) -> tuple[NewTask, TaskRows]:
    """A task and the rows creating it writes in one transaction: the request, its images and
    their jobs, and one outbox event per job (`TaskWriter` writes them)."""
    if len(variants) != IMAGE_COUNT:
        raise PromptVariantsUnavailable()
    images = [NewImage(new_id(), index, variant) for index, variant in enumerate(variants)]
    task = NewTask(new_id(), owner.id, prompt, new_id(), now, images)
    request = {
        "id": task.id,
        "user_id": owner.id,
        "original_prompt": prompt,
        "status": RequestStatus.IMAGE_PENDING,
        "phase": RequestPhase.IMAGE_GENERATION,
        "idempotency_key": idempotency.key if idempotency else None,
        "idempotency_hash": idempotency.fingerprint if idempotency else None,
        "trace_id": task.trace_id,
        "callback_url": callback_url,
        "created_at": now,
        "updated_at": now,
    }
    image_rows = [_image_row(task, image) for image in images]
    job_rows = [_image_job_row(task, image) for image in images]
    events = [
        event_row(
            stream=IMAGE_JOBS,
            key=job["id"],
            message=ImageJobRequested(
                job_id=job["id"],
                request_id=task.id,
                trace_id=task.trace_id,
                image_index=image.index,
                prompt=image.prompt,
            ),
            now=now,
        )
        for image, job in zip(images, job_rows, strict=True)
    ]
    return task, TaskRows(request, image_rows, job_rows, events)


async def get_task(session: AsyncSession, *, task_id: str, user_id: str) -> TaskRecord:
    task = await TaskRepository(session).load(task_id, user_id=user_id)
    if task is None:
        raise TaskNotFound()
    return task


async def created_with(
    session: AsyncSession, *, user_id: str, idempotency: Idempotency
) -> TaskRecord | None:
    """The task an earlier request with this key created, if the body was the same; None when
    the key is new; `IdempotencyKeyReused` when it came with another body."""
    repo = TaskRepository(session)
    task_id = await repo.by_idempotency_key(user_id, idempotency.key)
    task = None if task_id is None else await repo.load(task_id, user_id=user_id)
    if task is not None:
        idempotency.check(task.request.idempotency_hash)
    return task


@dataclass(frozen=True, slots=True)
class TaskPage:
    tasks: list[TaskRecord]
    total: int


async def list_tasks(session: AsyncSession, *, user_id: str, limit: int, offset: int) -> TaskPage:
    """A page of the user's tasks, newest first, and how many they have in all: three queries."""
    repo = TaskRepository(session)
    tasks = await repo.page(user_id, limit=limit, offset=offset)
    return TaskPage(tasks=tasks, total=await repo.count(user_id))


async def select_image(
    session: AsyncSession, *, task_id: str, user_id: str, image_index: int, now: datetime
) -> TaskRecord:
    """Choose the image a model is made from: the task moves to MODEL_PENDING, exactly once."""
    repo = TaskRepository(session)
    # the request's row lock first, as every writer of a request takes it (no lock-order
    # deadlock with the workers); a concurrent choice waits here, then sees the first one's model
    locked = await lock_request(session, task_id)
    if locked is None or locked.user_id != user_id:
        raise TaskNotFound()
    task = await get_task(session, task_id=task_id, user_id=user_id)
    if task.model is not None:
        raise ModelAlreadyRequested()
    image = next((i for i in task.images if i.image_index == image_index), None)
    if image is None or image.status is not ImageStatus.COMPLETED:
        raise ImageNotReady()
    # strictly later than the last change, or a client polling `?since=` could miss this one
    updated_at = max(now, task.request.updated_at + ONE_MS)
    if not await repo.start_model_phase(task_id, image_index=image_index, updated_at=updated_at):
        raise NotAwaitingSelection()
    task_changes.changed(session, task_id)
    await _request_model(repo, task.request, image, now)
    return await get_task(session, task_id=task_id, user_id=user_id)


async def _request_model(
    repo: TaskRepository, request: GenerationRequest, image: GeneratedImage, now: datetime
) -> None:
    """The model, its queued job, and the event that starts it."""
    model = _new_model(request, image, now)
    job = ModelJob(
        id=new_id(),
        model_id=model.id,
        request_id=request.id,
        status=JobStatus.QUEUED,
        progress=0,
        created_at=now,
        updated_at=now,
    )
    message = ModelJobRequested(
        job_id=job.id, request_id=request.id, trace_id=request.trace_id or new_id(), step="submit"
    )
    await repo.add_model(model, job)
    add_event(repo.session, stream=MODEL_JOBS, key=job.id, message=message)


def _image_row(task: NewTask, image: NewImage) -> Row:
    return {
        "id": image.id,
        "request_id": task.id,
        "image_index": image.index,
        "image_prompt": image.prompt,
        "status": ImageStatus.PENDING,
        "created_at": task.created_at,
        "updated_at": task.created_at,
    }


def _image_job_row(task: NewTask, image: NewImage) -> Row:
    return {
        "id": new_id(),
        "image_id": image.id,
        "request_id": task.id,
        "status": JobStatus.QUEUED,
        "attempt": 0,
        "created_at": task.created_at,
        "updated_at": task.created_at,
    }


def _new_model(request: GenerationRequest, image: GeneratedImage, now: datetime) -> Model:
    # published_at stays NULL until the model completes: the gallery shows finished models only
    return Model(
        id=new_id(),
        user_id=request.user_id,
        request_id=request.id,
        source_image_id=image.id,
        source=ModelSource.AI_GENERATED,
        name=model_name(request.original_prompt),
        preview_key=image.storage_key,
        format=MODEL_FORMAT,
        visibility=Visibility.PUBLIC,
        print_status=PrintStatus.NOT_STARTED,
        created_at=now,
        updated_at=now,
    )
