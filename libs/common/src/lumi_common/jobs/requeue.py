"""Putting a failed job back in line: what an operator's DLQ replay and a user's retry share."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from lumi_common.db.tables import JobColumns
from lumi_common.jobs.kinds import JobKind
from lumi_common.outbox.writer import add_event, discard_unpublished
from lumi_common.streams.names import dlq_name

J = TypeVar("J", bound=JobColumns)


async def requeue_job(session: AsyncSession, kind: JobKind[J, Any], job_id: str) -> J | None:
    """FAILED → QUEUED with fresh attempts, what failing did to the request undone
    (`on_requeued`), and a new message through the outbox, in the caller's transaction.

    The job's dead letter is dropped if the relay has not published it yet; one already in the
    dead-letter stream is the caller's to remove after the commit. None when the job is not FAILED
    (replaying twice queues it once).
    """
    job = await kind.lifecycle.requeue_failed(session, job_id)
    if job is None:
        return None
    await kind.on_requeued(session, job)
    message = await kind.message_for(session, job, attempt=1)
    add_event(session, stream=kind.stream, key=job_id, message=message)
    await discard_unpublished(session, stream=dlq_name(kind.stream), keys=[job_id])
    return job
