"""Image jobs: what starting, finishing, failing and replaying one image means for its request.

A request's images decide its status: any image still pending or generating → IMAGE_GENERATING;
all terminal with at least one completed → IMAGE_COMPLETED (awaiting selection); all failed →
IMAGE_FAILED. Image jobs are the busiest path of the system (four per task), so these run as a
few Core statements under the request's row lock rather than through ORM objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lumi_common import task_changes
from lumi_common.db.changes import changed
from lumi_common.db.tables import GeneratedImage, GenerationRequest, ImageJob
from lumi_common.db.types import UtcDateTime
from lumi_common.i18n import jobs, stored
from lumi_common.jobs.kinds import JobKind
from lumi_common.messages import ImageJobRequested
from lumi_common.pipeline.requests import next_updated_at
from lumi_common.states import ImageStatus, RequestPhase, RequestStatus
from lumi_common.streams.names import IMAGE_JOBS
from lumi_common.time import utcnow
from lumi_common.webhooks import events as webhook_events

IMAGE_OUTCOMES = (
    RequestStatus.IMAGE_PENDING,
    RequestStatus.IMAGE_GENERATING,
    RequestStatus.IMAGE_COMPLETED,
    RequestStatus.IMAGE_FAILED,
)
ALL_FAILED_MESSAGE = stored(jobs.ALL_IMAGES_FAILED)
RequestLock = Row[str, RequestStatus, datetime]
# the statements every image job runs, built once on the Core tables (building a statement, and
# the ORM's UPDATE path, cost more CPU than running it)
IMAGES = cast(Table, GeneratedImage.__table__)
REQUESTS = cast(Table, GenerationRequest.__table__)
_NOW = bindparam("_now", type_=UtcDateTime())
_LOCK = (
    select(REQUESTS.c.id, REQUESTS.c.status, REQUESTS.c.updated_at)
    .where(REQUESTS.c.id.in_(bindparam("_ids", expanding=True)))
    .order_by(REQUESTS.c.id)
    .with_for_update()
)
_START = (
    update(IMAGES)
    .where(
        IMAGES.c.id.in_(bindparam("_ids", expanding=True)),
        IMAGES.c.status != ImageStatus.GENERATING,
    )
    .values(status=ImageStatus.GENERATING, updated_at=_NOW)
)
_COMPLETE = (
    update(IMAGES)
    .where(IMAGES.c.id.in_(bindparam("_ids", expanding=True)))
    .values(
        status=ImageStatus.COMPLETED,
        completed_at=_NOW,
        failed_at=None,
        error_message=None,
        updated_at=_NOW,
    )
)
_STATUSES = (
    select(IMAGES.c.request_id, IMAGES.c.status)
    .where(IMAGES.c.request_id.in_(bindparam("_ids", expanding=True)))
    .distinct()
)
_BUMP = (
    update(REQUESTS)
    .where(REQUESTS.c.id == bindparam("_id"))
    .values(updated_at=bindparam("_updated_at", type_=UtcDateTime()))
)


class ImageJobs(JobKind[ImageJob, ImageJobRequested]):
    """The image job kind, as the consumer runtime and operators see it."""

    stream = IMAGE_JOBS
    table = ImageJob
    message_type = ImageJobRequested

    async def message_for(
        self, session: AsyncSession, job: ImageJob, *, attempt: int
    ) -> ImageJobRequested:
        row = (
            await session.execute(
                select(REQUESTS.c.trace_id, IMAGES.c.image_index, IMAGES.c.image_prompt)
                .join(IMAGES, IMAGES.c.request_id == REQUESTS.c.id)
                .where(IMAGES.c.id == job.image_id)
            )
        ).one_or_none()
        extra: dict[str, Any] = {}
        if row is not None:
            extra = {"image_index": row.image_index, "prompt": row.image_prompt}
            if row.trace_id:
                extra["trace_id"] = row.trace_id
        return ImageJobRequested(job_id=job.id, request_id=job.request_id, attempt=attempt, **extra)

    async def on_claimed(self, session: AsyncSession, jobs: Sequence[ImageJob]) -> None:
        requests = await _lock(session, {job.request_id for job in jobs})
        starting = [
            job
            for job in jobs
            if job.request_id in requests and requests[job.request_id].status in IMAGE_OUTCOMES
        ]
        if not starting:
            return
        started = await changed(
            session, _START, {"_ids": [job.image_id for job in starting], "_now": utcnow()}
        )
        if not started:
            return  # taken over from workers that had already started them
        for request_id in sorted({job.request_id for job in starting}):
            request = requests[request_id]
            if request.status is RequestStatus.IMAGE_GENERATING:
                await _save(session, request, request_id)  # more images started: the bump
            else:  # an image is generating now, whatever the others are
                await _save(
                    session,
                    request,
                    request_id,
                    status=RequestStatus.IMAGE_GENERATING,
                    phase=RequestPhase.IMAGE_GENERATION,
                    error_message=None,
                )

    async def on_failed(self, session: AsyncSession, job: ImageJob, error: str) -> None:
        request = (await _lock(session, {job.request_id})).get(job.request_id)
        if request is None:
            return
        values = {"status": ImageStatus.FAILED, "failed_at": utcnow(), "error_message": error}
        await _set_image(session, job, **values)
        await refresh_request(session, request, job.request_id)

    async def on_requeued(self, session: AsyncSession, job: ImageJob) -> None:
        request = (await _lock(session, {job.request_id})).get(job.request_id)
        if request is None:
            return
        values = {"status": ImageStatus.PENDING, "failed_at": None, "error_message": None}
        await _set_image(session, job, **values)
        await refresh_request(session, request, job.request_id)


async def complete_images(session: AsyncSession, done: Sequence[tuple[ImageJob, str]]) -> None:
    """Record generated images (job, storage key) and what they mean for their requests."""
    requests = await _lock(session, {job.request_id for job, _ in done})
    done = [(job, key) for job, key in done if job.request_id in requests]
    if not done:
        return
    keys = {job.image_id: key for job, key in done}
    storage_key = next(iter(keys.values())) if len(keys) == 1 else case(keys, value=IMAGES.c.id)
    await session.execute(
        _COMPLETE.values(storage_key=storage_key), {"_ids": list(keys), "_now": utcnow()}
    )
    touched = sorted({job.request_id for job, _ in done})
    statuses = await _image_statuses(
        session, [r for r in touched if requests[r].status in IMAGE_OUTCOMES]
    )
    for request_id in touched:
        await _decide(session, requests[request_id], request_id, statuses.get(request_id))


async def refresh_request(session: AsyncSession, request: RequestLock, request_id: str) -> None:
    """Recompute the request's status from its images (the caller holds the request lock)."""
    statuses = None
    if request.status in IMAGE_OUTCOMES:
        statuses = (await _image_statuses(session, [request_id])).get(request_id, set())
    await _decide(session, request, request_id, statuses)


async def _image_statuses(
    session: AsyncSession, request_ids: Sequence[str]
) -> dict[str, set[ImageStatus]]:
    """The distinct statuses of each request's images, in one query."""
    if not request_ids:
        return {}
    rows = await session.execute(_STATUSES, {"_ids": list(request_ids)})
    statuses: dict[str, set[ImageStatus]] = {}
    for request_id, status in rows:
        statuses.setdefault(request_id, set()).add(status)
    return statuses


async def _decide(
    session: AsyncSession,
    request: RequestLock,
    request_id: str,
    statuses: set[ImageStatus] | None,
) -> None:
    """Save the status the images decide; None: the selection happened, only the bump."""
    if request.status not in IMAGE_OUTCOMES or statuses is None:
        await _save(session, request, request_id)
        return
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


async def _lock(session: AsyncSession, request_ids: set[str]) -> dict[str, RequestLock]:
    """The requests' status and `updated_at`, under their row locks (taken in id order, so two
    batches never wait on each other in a cycle): concurrent outcomes of one request serialise,
    so the last one always sees the others when it decides the status."""
    rows = await session.execute(_LOCK, {"_ids": sorted(request_ids)})
    return {row.id: row for row in rows}


async def _set_image(session: AsyncSession, job: ImageJob, **values: Any) -> None:
    query = update(IMAGES).where(IMAGES.c.id == job.image_id)
    await session.execute(query.values(updated_at=utcnow(), **values))


async def _save(
    session: AsyncSession, request: RequestLock, request_id: str, **values: Any
) -> None:
    updated_at: datetime = next_updated_at(request.updated_at)
    statement = _BUMP.values(**values) if values else _BUMP
    await session.execute(statement, {"_id": request_id, "_updated_at": updated_at})
    task_changes.changed(session, request_id)
    if "status" in values:
        await webhook_events.status_changed(
            session, request_id, old=request.status, new=values["status"]
        )
