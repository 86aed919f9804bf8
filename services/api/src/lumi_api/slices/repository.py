"""Slice jobs and the model they slice. Nothing here commits."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from lumi_common.db.tables import GenerationRequest, Model, SliceJob
from lumi_common.states import ACTIVE_JOB_STATUSES


class SliceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, slice_id: str) -> SliceJob | None:
        return await self.session.get(SliceJob, slice_id)

    async def task_owner(self, task_id: str) -> str | None:
        query = select(GenerationRequest.user_id).where(GenerationRequest.id == task_id)
        return await self.session.scalar(query)

    async def task_of(self, model_id: str) -> str | None:
        """The id of the model's task (None for a model with none, or no such model)."""
        return await self.session.scalar(select(Model.request_id).where(Model.id == model_id))

    async def model_of_task(self, task_id: str) -> Model | None:
        return await self.session.scalar(select(Model).where(Model.request_id == task_id))

    async def of_model(self, model_id: str) -> Sequence[SliceJob]:
        """The model's slices (one, or none, in practice); the caller holds the model's lock."""
        query = select(SliceJob).where(SliceJob.model_id == model_id)
        return (await self.session.scalars(query)).all()

    def add(self, job: SliceJob) -> None:
        self.session.add(job)

    async def delete(self, slice_ids: Sequence[str]) -> None:
        if not slice_ids:
            return
        await self.session.execute(
            delete(SliceJob)
            .where(SliceJob.id.in_(slice_ids))
            .execution_options(synchronize_session=False)
        )


def is_active(job: SliceJob) -> bool:
    return job.status in ACTIVE_JOB_STATUSES
