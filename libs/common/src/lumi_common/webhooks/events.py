"""Which task changes are webhook events, and the deliveries one of them makes.

Called in the transaction that changes a task's status (the image pipeline's request update,
the model pipeline, cancelling): each URL that wants the event gets a delivery row (a job) and
its outbox event in that same transaction, so an event is delivered exactly when its change
commits. The body is written now: every attempt sends the same bytes.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lumi_common import jsonx
from lumi_common.db.tables import GenerationRequest, WebhookDelivery, WebhookEndpoint
from lumi_common.i18n import default_locale, shown
from lumi_common.ids import new_id
from lumi_common.messages import WebhookDeliveryRequested
from lumi_common.outbox.writer import add_event
from lumi_common.states import JobStatus, RequestStatus
from lumi_common.streams.names import WEBHOOK_JOBS
from lumi_common.time import iso_ms, utcnow

IMAGES_COMPLETED = "task.images_completed"
COMPLETED = "task.completed"
FAILED = "task.failed"
CANCELLED = "task.cancelled"
EVENT_TYPES = (IMAGES_COMPLETED, COMPLETED, FAILED, CANCELLED)
EVENT_OF_STATUS = {
    RequestStatus.IMAGE_COMPLETED: IMAGES_COMPLETED,
    RequestStatus.COMPLETED: COMPLETED,
    RequestStatus.IMAGE_FAILED: FAILED,
    RequestStatus.MODEL_FAILED: FAILED,
    RequestStatus.CANCELLED: CANCELLED,
}


async def status_changed(
    session: AsyncSession, request_id: str, *, old: RequestStatus, new: RequestStatus
) -> int:
    """Queue the deliveries of the event this status change is, if any; how many."""
    event_type = EVENT_OF_STATUS.get(new)
    if event_type is None or new == old:
        return 0
    query = (
        select(GenerationRequest)
        .where(GenerationRequest.id == request_id)
        .execution_options(populate_existing=True)  # after a Core UPDATE of the same row
    )
    request = (await session.execute(query)).scalar_one_or_none()
    if request is None:
        return 0
    endpoints = await session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.user_id == request.user_id)
    )
    targets: list[tuple[str | None, str]] = [
        (endpoint.id, endpoint.url)
        for endpoint in endpoints
        if event_type in endpoint.event_types.split(",")
    ]
    if request.callback_url:
        targets.append((None, request.callback_url))
    for endpoint_id, url in targets:
        _queue(session, request, endpoint_id, url, event_type, new)
    return len(targets)


def _queue(
    session: AsyncSession,
    request: GenerationRequest,
    endpoint_id: str | None,
    url: str,
    event_type: str,
    status: RequestStatus,
) -> None:
    now = utcnow()
    delivery = WebhookDelivery(
        id=new_id(),
        request_id=request.id,
        user_id=request.user_id,
        endpoint_id=endpoint_id,
        url=url,
        event_type=event_type,
        payload=jsonx.dumps_str(body(request, event_type, status)),
        status=JobStatus.QUEUED,
        attempt=0,
        created_at=now,
        updated_at=now,
    )
    session.add(delivery)
    message = WebhookDeliveryRequested(
        job_id=delivery.id, request_id=request.id, trace_id=request.trace_id or new_id()
    )
    add_event(session, stream=WEBHOOK_JOBS, key=delivery.id, message=message)


def body(request: GenerationRequest, event_type: str, status: RequestStatus) -> dict[str, object]:
    """The Standard Webhooks payload shape: `type`, `timestamp`, `data` (the task in brief;
    `GET /api/v1/tasks/{id}` has the rest)."""
    return {
        "type": event_type,
        "timestamp": iso_ms(utcnow()),
        "data": {
            "id": request.id,
            "status": status.value,
            "phase": request.phase.value,
            "selectedImageIndex": request.selected_image_index,
            # a receiver has no Accept-Language: the default language
            "errorMessage": shown(request.error_message, default_locale()),
            "updatedAt": iso_ms(request.updated_at),
            "completedAt": iso_ms(request.completed_at) if request.completed_at else None,
        },
    }
