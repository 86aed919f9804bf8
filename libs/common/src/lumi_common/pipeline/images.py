"""Image jobs: what starting, finishing, failing and replaying one image means for its request.

A request's images decide its status: any image still pending or generating → IMAGE_GENERATING;
all terminal with at least one completed → IMAGE_COMPLETED (awaiting selection); all failed →
IMAGE_FAILED. Image jobs are the busiest path of the system (four per task), so these run as a
few Core statements under the request's row lock rather than through ORM objects.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lumi_common.db.tables import GeneratedImage, GenerationRequest, ImageJob
from lumi_common.jobs.lifecycle import JobLifecycle, JobRow
from lumi_common.messages import ImageJobRequested, JobMessage
from lumi_common.pipeline.requests import next_updated_at
from lumi_common.states import ImageStatus, RequestPhase, RequestStatus
from lumi_common.streams.names import IMAGE_JOBS
from lumi_common.time import utcnow

IMAGE_OUTCOMES = (
    RequestStatus.IMAGE_PENDING,
    RequestStatus.IMAGE_GENERATING,
    RequestStatus.IMAGE_COMPLETED,
    RequestStatus.IMAGE_FAILED,
)
ALL_FAILED_MESSAGE = "All images failed to generate"
R = GenerationRequest
RequestLock = Row[RequestStatus, datetime]
I = GeneratedImage  # noqa: E741 - a table alias, read as "Image"


class ImageJobs:
    """The image job kind, as the consumer runtime and operators see it."""

    stream = IMAGE_JOBS

    def __init__(self, *, lease: timedelta) -> None:
        self.lifecycle = JobLifecycle(ImageJob, lease=lease)

    def parse(self, message: object) -> JobMessage | None:
        return message if isinstance(message, ImageJobRequested) else None

    async def message_for(self, session: AsyncSession, job: JobRow, *, attempt: int) -> JobMessage:
        assert isinstance(job, ImageJob)
        row = (
            await session.execute(
                select(R.trace_id, I.image_index, I.image_prompt)
                .join(I, I.request_id == R.id)
                .where(I.id == job.image_id)
            )
        ).one_or_none()
        extra: dict[str, Any] = {}
        if row is not None:
            extra = {"image_index": row.image_index, "prompt": row.image_prompt}
            if row.trace_id:
                extra["trace_id"] = row.trace_id
        return ImageJobRequested(job_id=job.id, request_id=job.request_id, attempt=attempt, **extra)

    async def on_claimed(self, session: AsyncSession, job: JobRow) -> None:
        assert isinstance(job, ImageJob)
        request = await _lock(session, job.request_id)
        if request is None or request.status not in IMAGE_OUTCOMES:
            return
        started = await _set_image(
            session, job, I.status != ImageStatus.GENERATING, status=ImageStatus.GENERATING
        )
        if not started:
            return  # taken over from a worker that had already started it
        if request.status is RequestStatus.IMAGE_GENERATING:
            await _save(session, request, job.request_id)  # one more image started: the bump
        else:
            await refresh_request(session, request, job.request_id)

    async def on_failed(self, session: AsyncSession, job: JobRow, error: str) -> None:
        assert isinstance(job, ImageJob)
        request = await _lock(session, job.request_id)
        if request is None:
            return
        values = {"status": ImageStatus.FAILED, "failed_at": utcnow(), "error_message": error}
        await _set_image(session, job, None, **values)
        await refresh_request(session, request, job.request_id)

    async def on_requeued(self, session: AsyncSession, job: JobRow) -> None:
        assert isinstance(job, ImageJob)
        request = await _lock(session, job.request_id)
        if request is None:
            return
        values = {"status": ImageStatus.PENDING, "failed_at": None, "error_message": None}
        await _set_image(session, job, None, **values)
        await refresh_request(session, request, job.request_id)


async def complete_image(session: AsyncSession, job: ImageJob, storage_key: str) -> None:
    request = await _lock(session, job.request_id)
    if request is None:
        return
    await _set_image(
        session,
        job,
        None,
        status=ImageStatus.COMPLETED,
        storage_key=storage_key,
        completed_at=utcnow(),
        failed_at=None,
        error_message=None,
    )
    await refresh_request(session, request, job.request_id)


async def refresh_request(session: AsyncSession, request: RequestLock, request_id: str) -> None:
    """Recompute the request's status from its images (the caller holds the request lock)."""
    if request.status not in IMAGE_OUTCOMES:
        await _save(session, request, request_id)  # selection happened already: only the bump
        return
    statuses = set(
        (await session.scalars(select(I.status).where(I.request_id == request_id).distinct())).all()
    )
    if statuses & {ImageStatus.PENDING, ImageStatus.GENERATING}:
        started = statuses != {ImageStatus.PENDING}
        status = RequestStatus.IMAGE_GENERATING if started else RequestStatus.IMAGE_PENDING
        await _save(
            session,
            request,
            request_id,
            status=status,
            phase=RequestPhase.IMAGE_GENERATION,
            error_message=None,
        )
    elif ImageStatus.COMPLETED in statuses:
        await _save(
            session,
            request,
            request_id,
            status=RequestStatus.IMAGE_COMPLETED,
            phase=RequestPhase.AWAITING_SELECTION,
            error_message=None,
        )
    else:
        await _save(
            session,
            request,
            request_id,
            status=RequestStatus.IMAGE_FAILED,
            phase=RequestPhase.IMAGE_GENERATION,
            error_message=ALL_FAILED_MESSAGE,
        )


async def _lock(session: AsyncSession, request_id: str) -> RequestLock | None:
    """The request's status and `updated_at`, under its row lock: concurrent outcomes of one
    request serialise, so the last one always sees the others when it decides the status."""
    query = select(R.status, R.updated_at).where(R.id == request_id).with_for_update()
    return (await session.execute(query)).one_or_none()


async def _set_image(session: AsyncSession, job: ImageJob, condition: Any, **values: Any) -> bool:
    query = update(I).where(I.id == job.image_id)
    if condition is not None:
        query = query.where(condition)
    result = await session.execute(query.values(updated_at=utcnow(), **values))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def _save(
    session: AsyncSession, request: RequestLock, request_id: str, **values: Any
) -> None:
    updated_at: datetime = next_updated_at(request.updated_at)
    await session.execute(
        update(R).where(R.id == request_id).values(updated_at=updated_at, **values)
    )
