"""Tasks (`generation_requests`) and the rows that hang off them. Nothing here commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from lumi_common.db.tables import (
    GeneratedImage,
    GenerationRequest,
    ImageJob,
    Model,
    ModelJob,
    User,
)
from lumi_common.states import RequestPhase, RequestStatus


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """A task with everything its response shows."""

    request: GenerationRequest
    images: list[GeneratedImage]
    model: Model | None
    model_job: ModelJob | None
    owner_name: str


class TaskRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_task(
        self, request: GenerationRequest, images: list[GeneratedImage], jobs: list[ImageJob]
    ) -> None:
        # parents first, each level flushed: no ORM relationship orders the inserts
        for rows in ([request], images, jobs):
            self.session.add_all(rows)
            await self.session.flush()

    async def add_model(self, model: Model, job: ModelJob) -> None:
        self.session.add(model)
        await self.session.flush()  # before its job: no ORM relationship orders the inserts
        self.session.add(job)

    async def load(self, task_id: str, *, user_id: str) -> TaskRecord | None:
        """The user's task in two queries, however many images and whether or not a model."""
        query = (
            select(GenerationRequest, Model, ModelJob, User.nick_name, User.user_name)
            .join(User, User.id == GenerationRequest.user_id)
            .outerjoin(Model, Model.request_id == GenerationRequest.id)
            .outerjoin(ModelJob, ModelJob.model_id == Model.id)
            .where(GenerationRequest.id == task_id, GenerationRequest.user_id == user_id)
            # a reload inside the unit of work must see what the compare-and-set wrote
            .execution_options(populate_existing=True)
        )
        row = (await self.session.execute(query)).one_or_none()
        if row is None:
            return None
        request, model, job, nick_name, user_name = row
        images = await self.session.scalars(
            select(GeneratedImage)
            .where(GeneratedImage.request_id == task_id)
            .order_by(GeneratedImage.image_index)
            .execution_options(populate_existing=True)
        )
        return TaskRecord(
            request=request,
            images=list(images),
            model=model,
            model_job=job,
            owner_name=nick_name or user_name,
        )

    async def start_model_phase(
        self, task_id: str, *, image_index: int, updated_at: datetime
    ) -> bool:
        """Compare-and-set IMAGE_COMPLETED → MODEL_PENDING; False when the task is elsewhere."""
        result: CursorResult[tuple[()]] = await self.session.execute(  # type: ignore[assignment]
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
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1
