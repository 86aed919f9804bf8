"""Re-emits, through the outbox, jobs that stayed non-terminal past a deadline.

The database is the source of truth: if Redis lost a message (a restart without persistence, a
FLUSHALL) or a consumer died with nobody left to reclaim its message, the job is still here.
Re-emitting is a compare-and-set on `updated_at`, so several reconcilers emit a job once, and a
duplicate message that does reach a worker finds nothing to change.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from datetime import timedelta
from typing import Any, Generic, TypeVar

import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.changes import changed
from lumi_common.db.tables import JobColumns
from lumi_common.jobs.kinds import JobKind
from lumi_common.outbox.writer import add_event
from lumi_common.states import ACTIVE_JOB_STATUSES, JobStatus
from lumi_common.time import utcnow

log = structlog.get_logger(__name__)
BATCH = 100
J = TypeVar("J", bound=JobColumns)


class Reconciler(Generic[J]):
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        kind: JobKind[J, Any],
        *,
        after: timedelta,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.kind = kind
        self.after = after

    async def run(self, stop: asyncio.Event, *, every: float) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except SQLAlchemyError as exc:
                log.warning("reconciler.failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                # jitter keeps replicas from scanning in lockstep
                await asyncio.wait_for(stop.wait(), every * random.uniform(0.8, 1.2))

    async def run_once(self) -> int:
        """Re-emit every stuck job found in one scan; the number re-emitted."""
        async with self.sessionmaker.begin() as session:
            now = utcnow()
            table = self.kind.lifecycle.table
            candidates = (
                await session.scalars(
                    select(table)
                    .where(
                        table.status.in_(ACTIVE_JOB_STATUSES), table.updated_at < now - self.after
                    )
                    .order_by(table.updated_at)
                    .limit(BATCH)
                )
            ).all()
            emitted = [job for job in candidates if _stuck(job) and await self._emit(session, job)]
        for job in emitted:
            log.warning(
                "job.reconciled", job_id=job.id, status=job.status.value, stream=self.kind.stream
            )
        return len(emitted)

    async def _emit(self, session: AsyncSession, job: J) -> bool:
        table = self.kind.lifecycle.table
        taken = await changed(
            session,
            update(table)
            .where(table.id == job.id, table.updated_at == job.updated_at)
            .values(updated_at=utcnow())
            .execution_options(synchronize_session=False),
        )
        if taken != 1:
            return False  # another reconciler took it
        message = await self.kind.message_for(session, job, attempt=job.attempt + 1)
        add_event(session, stream=self.kind.stream, key=job.id, message=message)
        return True


def _stuck(job: JobColumns) -> bool:
    now = utcnow()
    if job.status is JobStatus.RUNNING:
        return job.lease_expires_at is None or job.lease_expires_at < now
    if job.status is JobStatus.RETRYING:
        return job.next_attempt_at is None or job.next_attempt_at < now
    return True
