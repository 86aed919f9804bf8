"""The webhook delivery job kind, as the consumer runtime, the reconciler and `lumi dlq replay`
see it. A delivery shows nothing to the task's client, so its failure and replay touch only its
own row (the runtime writes those): no hook to override."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lumi_common.db.tables import GenerationRequest, WebhookDelivery
from lumi_common.jobs.kinds import JobKind
from lumi_common.messages import WebhookDeliveryRequested
from lumi_common.streams.names import WEBHOOK_JOBS


class WebhookDeliveries(JobKind[WebhookDelivery, WebhookDeliveryRequested]):
    stream = WEBHOOK_JOBS
    table = WebhookDelivery
    message_type = WebhookDeliveryRequested

    async def message_for(
        self, session: AsyncSession, job: WebhookDelivery, *, attempt: int
    ) -> WebhookDeliveryRequested:
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
