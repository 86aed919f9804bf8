"""The admin API's queries: the outbox backlog, a task's jobs, the audit trail. Nothing here
commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lumi_common.db.tables import (
    AdminAction,
    GenerationRequest,
    ImageJob,
    Model,
    ModelJob,
    OutboxEvent,
    SliceJob,
)

JobRow = ImageJob | ModelJob | SliceJob
JobKindName = Literal["image", "model", "slice"]


@dataclass(frozen=True, slots=True)
class Backlog:
    due: dict[str, int]  # per stream
    delayed: int
    oldest_due: datetime | None


class AdminRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def outbox_backlog(self, *, now: datetime) -> Backlog:
        """Unpublished events: due ones per stream (what `lumi streams` calls `outbox_due`),
        delayed ones, and the oldest due one's creation (served by the relay's index)."""
        unpublished = OutboxEvent.published_at.is_(None)
        due_rows = await self.session.execute(
            select(OutboxEvent.stream, func.count(), func.min(OutboxEvent.created_at))
            .where(unpublished, OutboxEvent.available_at <= now)
            .group_by(OutboxEvent.stream)
        )
        due, oldest = {}, None
        for stream, count, first in due_rows:
            due[str(stream)] = int(count)
            oldest = first if oldest is None or (first is not None and first < oldest) else oldest
        delayed = await self.session.scalar(
            select(func.count()).where(unpublished, OutboxEvent.available_at > now)
        )
        return Backlog(due=due, delayed=int(delayed or 0), oldest_due=oldest)

    async def task(self, task_id: str) -> GenerationRequest | None:
        return await self.session.get(GenerationRequest, task_id)

    async def jobs_of(self, task_id: str) -> list[tuple[JobKindName, JobRow]]:
        """The task's image, model and slice jobs, each kind in creation order."""
        images = await self.session.scalars(
            select(ImageJob).where(ImageJob.request_id == task_id).order_by(ImageJob.created_at)
        )
        models = await self.session.scalars(
            select(ModelJob).where(ModelJob.request_id == task_id).order_by(ModelJob.created_at)
        )
        slices = await self.session.scalars(
            select(SliceJob)
            .join(Model, Model.id == SliceJob.model_id)
            .where(Model.request_id == task_id)
            .order_by(SliceJob.created_at)
        )
        found: list[tuple[JobKindName, JobRow]] = [("image", job) for job in images]
        found += [("model", job) for job in models]
        found += [("slice", job) for job in slices]
        return found

    def add_action(self, action: AdminAction) -> None:
        self.session.add(action)

    async def recent_actions(self, *, limit: int) -> list[AdminAction]:
        result = await self.session.scalars(
            select(AdminAction)
            .order_by(AdminAction.created_at.desc(), AdminAction.id.desc())
            .limit(limit)
        )
        return list(result)
