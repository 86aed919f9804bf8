"""Image jobs: what starting, finishing, failing and replaying one image means for its request.

A request's images decide its status: any image still pending or generating → IMAGE_GENERATING;
all terminal with at least one completed → IMAGE_COMPLETED (awaiting selection); all failed →
IMAGE_FAILED.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lumi_common.db.tables import GeneratedImage, GenerationRequest, ImageJob
from lumi_common.jobs.lifecycle import JobLifecycle, JobRow
from lumi_common.messages import ImageJobRequested, JobMessage
from lumi_common.pipeline.requests import lock_request, touch
from lumi_common.states import ImageStatus, RequestPhase, RequestStatus
from lumi_common.streams.names import IMAGE_JOBS
from lumi_common.time import utcnow

IMAGE_STAGE = (RequestStatus.IMAGE_PENDING, RequestStatus.IMAGE_GENERATING)
IMAGE_OUTCOMES = (*IMAGE_STAGE, RequestStatus.IMAGE_COMPLETED, RequestStatus.IMAGE_FAILED)
ALL_FAILED_MESSAGE = "All images failed to generate"


class ImageJobs:
    """The image job kind, as the consumer runtime and operators see it."""

    stream = IMAGE_JOBS

    def __init__(self, *, lease: timedelta) -> None:
        self.lifecycle = JobLifecycle(ImageJob, lease=lease)

    def parse(self, message: object) -> JobMessage | None:
        return message if isinstance(message, ImageJobRequested) else None

    async def message_for(self, session: AsyncSession, job: JobRow, *, attempt: int) -> JobMessage:
        trace = await session.scalar(
            select(GenerationRequest.trace_id).where(GenerationRequest.id == job.request_id)
        )
        extra = {"trace_id": trace} if trace else {}
        return ImageJobRequested(job_id=job.id, request_id=job.request_id, attempt=attempt, **extra)

    async def on_claimed(self, session: AsyncSession, job: JobRow) -> None:
        request = await lock_request(session, job.request_id)
        image = await _image_of(session, job)
        if request is None or image is None or image.status is ImageStatus.GENERATING:
            return
        image.status = ImageStatus.GENERATING
        await refresh_request(session, request)

    async def on_failed(self, session: AsyncSession, job: JobRow, error: str) -> None:
        request = await lock_request(session, job.request_id)
        image = await _image_of(session, job)
        if request is None or image is None:
            return
        image.status = ImageStatus.FAILED
        image.failed_at = utcnow()
        image.error_message = error
        await refresh_request(session, request)

    async def on_requeued(self, session: AsyncSession, job: JobRow) -> None:
        request = await lock_request(session, job.request_id)
        image = await _image_of(session, job)
        if request is None or image is None:
            return
        image.status = ImageStatus.PENDING
        image.failed_at = None
        image.error_message = None
        await refresh_request(session, request)


async def _image_of(session: AsyncSession, job: JobRow) -> GeneratedImage | None:
    assert isinstance(job, ImageJob)
    return await session.get(GeneratedImage, job.image_id, populate_existing=True)


async def complete_image(session: AsyncSession, job: ImageJob, storage_key: str) -> None:
    request = await lock_request(session, job.request_id)
    image = await session.get(GeneratedImage, job.image_id, populate_existing=True)
    if request is None or image is None:
        return
    image.status = ImageStatus.COMPLETED
    image.storage_key = storage_key
    image.completed_at = utcnow()
    image.failed_at = None
    image.error_message = None
    await refresh_request(session, request)


async def refresh_request(session: AsyncSession, request: GenerationRequest) -> None:
    """Recompute the request's status from its images (the caller holds the request lock)."""
    touch(request)
    if request.status not in IMAGE_OUTCOMES:
        return  # selection happened already: later image changes only need the bump
    statuses = set(
        (
            await session.scalars(
                select(GeneratedImage.status).where(GeneratedImage.request_id == request.id)
            )
        ).all()
    )
    if statuses & {ImageStatus.PENDING, ImageStatus.GENERATING}:
        started = statuses != {ImageStatus.PENDING}
        request.status = RequestStatus.IMAGE_GENERATING if started else RequestStatus.IMAGE_PENDING
        request.phase = RequestPhase.IMAGE_GENERATION
        request.error_message = None
    elif ImageStatus.COMPLETED in statuses:
        request.status = RequestStatus.IMAGE_COMPLETED
        request.phase = RequestPhase.AWAITING_SELECTION
        request.error_message = None
    else:
        request.status = RequestStatus.IMAGE_FAILED
        request.phase = RequestPhase.IMAGE_GENERATION
        request.error_message = ALL_FAILED_MESSAGE
