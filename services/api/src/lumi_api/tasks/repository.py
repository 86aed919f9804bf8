"""Tasks (`generation_requests`) and the rows that hang off them. Nothing here commits."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lumi_common.db.bulk import Row, insert_values
from lumi_common.db.changes import changed
from lumi_common.db.tables import (
    GeneratedImage,
    GenerationRequest,
    ImageJob,
    Model,
    ModelJob,
    OutboxEvent,
    User,
)
from lumi_common.public_names import public_name
from lumi_common.states import JobStatus, RequestPhase, RequestStatus


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """A task with everything its response shows."""

    request: GenerationRequest
    images: list[GeneratedImage]
    model: Model | None
    model_job: ModelJob | None
    owner_name: str


@dataclass(frozen=True, slots=True)
class TaskRows:
    """What creating one task inserts, as plain rows."""

    request: Row
    images: Sequence[Row]
    jobs: Sequence[Row]
    events: Sequence[Row]


@dataclass(frozen=True, slots=True)
class JobIds:
    image: list[str]
    model: list[str]


def _tasks() -> Select[GenerationRequest, Model, ModelJob, str | None]:
    """Tasks with their owner's name, model and model job: one row each."""
    return (
        select(GenerationRequest, Model, ModelJob, User.nick_name)
        .join(User, User.id == GenerationRequest.user_id)
        .outerjoin(Model, Model.request_id == GenerationRequest.id)
        .outerjoin(ModelJob, ModelJob.model_id == Model.id)
        # a reload inside the unit of work must see what the compare-and-set wrote
        .execution_options(populate_existing=True)
    )


class TaskRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_tasks(self, tasks: Sequence[TaskRows]) -> None:
        """Four INSERTs however many tasks, parents first (the hot path: plain rows, no unit
        of work)."""
        await insert_values(self.session, GenerationRequest, [task.request for task in tasks])
        await insert_values(self.session, GeneratedImage, [r for t in tasks for r in t.images])
        await insert_values(self.session, ImageJob, [r for t in tasks for r in t.jobs])
        await insert_values(self.session, OutboxEvent, [r for t in tasks for r in t.events])

    async def add_model(self, model: Model, job: ModelJob) -> None:
        self.session.add(model)
        await self.session.flush()  # before its job: no ORM relationship orders the inserts
        self.session.add(job)

    async def load(self, task_id: str, *, user_id: str) -> TaskRecord | None:
        """The user's task in two queries, however many images and whether or not a model."""
        query = _tasks().where(
            GenerationRequest.id == task_id, GenerationRequest.user_id == user_id
        )
        tasks = await self._with_images(list((await self.session.execute(query)).all()))
        return tasks[0] if tasks else None

    async def page(self, user_id: str, *, limit: int, offset: int) -> list[TaskRecord]:
        """The user's tasks newest first, in two queries whatever the page size
        (`ix_requests_user_created` serves the filter and the order)."""
        query = (
            _tasks()
            .where(GenerationRequest.user_id == user_id)
            .order_by(GenerationRequest.created_at.desc(), GenerationRequest.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return await self._with_images(list((await self.session.execute(query)).all()))

    async def count(self, user_id: str) -> int:
        query = select(func.count()).where(GenerationRequest.user_id == user_id)
        return int(await self.session.scalar(query) or 0)

    async def _with_images(self, rows: Sequence[Any]) -> list[TaskRecord]:
        if not rows:
            return []
        images: dict[str, list[GeneratedImage]] = defaultdict(list)
        found = await self.session.scalars(
            select(GeneratedImage)
            .where(GeneratedImage.request_id.in_([row[0].id for row in rows]))
            .order_by(GeneratedImage.request_id, GeneratedImage.image_index)
            .execution_options(populate_existing=True)
        )
        for image in found:
            images[image.request_id].append(image)
        return [
            TaskRecord(
                request=request,
                images=images[request.id],
                model=model,
                model_job=job,
                owner_name=public_name(user_id=request.user_id, nick_name=nick_name),
            )
            for request, model, job, nick_name in rows
        ]

    async def by_idempotency_key(self, user_id: str, key: str) -> str | None:
        return await self.session.scalar(
            select(GenerationRequest.id).where(
                GenerationRequest.user_id == user_id, GenerationRequest.idempotency_key == key
            )
        )

    async def owned(self, task_id: str, *, user_id: str) -> GenerationRequest | None:
        """The request row, read without a lock, if the user owns it."""
        request = await self.session.get(GenerationRequest, task_id, populate_existing=True)
        return request if request is not None and request.user_id == user_id else None

    async def job_ids(self, task_id: str, *, statuses: Sequence[JobStatus]) -> JobIds:
        """The ids of the task's image and model jobs in these states."""
        found = JobIds([], [])
        for table, ids in ((ImageJob, found.image), (ModelJob, found.model)):
            query = select(table.id).where(table.request_id == task_id, table.status.in_(statuses))
            ids.extend((await self.session.scalars(query.order_by(table.id))).all())
        return found

    async def model_of(self, task_id: str) -> Model | None:
        return await self.session.scalar(select(Model).where(Model.request_id == task_id))

    async def delete(self, task_id: str) -> None:
        """The request; its images, jobs, model and that model's interactions cascade."""
        await self.session.execute(
            delete(GenerationRequest)
            .where(GenerationRequest.id == task_id)
            .execution_options(synchronize_session=False)
        )

    async def start_model_phase(
        self, task_id: str, *, image_index: int, updated_at: datetime
    ) -> bool:
        """Compare-and-set IMAGE_COMPLETED → MODEL_PENDING; False when the task is elsewhere."""
        rows = await changed(
            self.session,
            update(GenerationRequest)
            .where(
                GenerationRequest.id == task_id,
                GenerationRequest.status == RequestStatus.IMAGE_COMPLETED,
            )
            .values(
                status=RequestStatus.MODEL_PENDING,
                phase=RequestPhase.MODEL_GENERATION,
                selected_image_index=image_index,
                updated_at=updated_at,
            )
            .execution_options(synchronize_session=False),
        )
        return rows == 1
