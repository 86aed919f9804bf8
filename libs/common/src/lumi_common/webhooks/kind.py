"""The webhook delivery job kind, as the consumer runtime, the reconciler and `lumi dlq replay`
see it. A delivery shows nothing to the task's client, so its failure and replay touch only its
own row (the runtime writes those)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lumi_common.db.tables import GenerationRequest, WebhookDelivery
from lumi_common.jobs.lifecycle import JobLifecycle, JobRow
from lumi_common.messages import JobMessage, WebhookDeliveryRequested
from lumi_common.streams.names import WEBHOOK_JOBS


class WebhookDeliveries:
    stream = WEBHOOK_JOBS

    def __init__(self, *, lease: timedelta) -> None:
        self.lifecycle = JobLifecycle(WebhookDelivery, lease=lease)

    def parse(self, message: object) -> JobMessage | None:
        return message if isinstance(message, WebhookDeliveryRequested) else None

    async def message_for(self, session: AsyncSession, job: JobRow, *, attempt: int) -> JobMessage:
        row = (
            await session.execute(
                select(WebhookDelivery.request_id, GenerationRequest.trace_id)
                .join(GenerationRequest, GenerationRequest.id == WebhookDelivery.request_id)
                .where(WebhookDelivery.id == job.id)
            )
        ).one()
        extra = {"trace_id": row.trace_id} if row.trace_id else {}
        return WebhookDeliveryRequested(
            job_id=job.id, request_id=row.request_id, attempt=attempt, **extra
        )

    async def on_claimed(self, session: AsyncSession, jobs: Sequence[JobRow]) -> None:
        return None

    async def on_failed(self, session: AsyncSession, job: JobRow, error: str) -> None:
        return None

    async def on_requeued(self, session: AsyncSession, job: JobRow) -> None:
        return None
