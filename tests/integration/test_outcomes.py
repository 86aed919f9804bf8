"""What a handler returns is recorded by the runtime: a handler never completes, parks or fails
its own job, and one that returns no outcome cannot leave its job RUNNING."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import ImageJob
from lumi_common.jobs.lifecycle import Claim
from lumi_common.jobs.results import Done, Poll
from lumi_common.messages import ImageJobRequested
from lumi_common.pipeline.images import ImageJobs
from lumi_common.states import JobStatus
from lumi_common.streams.names import group_name, stream_key
from tests.support.factories import create_task
from tests.support.pipeline import LEASE, consumer, drive

pytestmark = pytest.mark.usefixtures("empty_outbox")

Sessions = async_sessionmaker[AsyncSession]
Image = Claim[ImageJob]


async def jobs(sessionmaker: Sessions, job_ids: list[str]) -> list[ImageJob]:
    async with sessionmaker() as session:
        return list(await session.scalars(select(ImageJob).where(ImageJob.id.in_(job_ids))))


async def pending(redis: Redis, prefix: str, kind: ImageJobs) -> int:
    info = await redis.xpending(stream_key(prefix, kind.stream), group_name(kind.stream))
    return int(info["pending"])


async def test_a_handler_that_returns_has_its_job_completed_without_calling_anything(
    sessionmaker: Sessions, redis: Redis, key_prefix: str
) -> None:
    kind = ImageJobs(lease=LEASE)
    task = await create_task(sessionmaker)

    async def nothing_to_do(message: ImageJobRequested, claim: Image) -> Done[None]:
        return Done()

    worker = consumer(
        redis=redis, sessionmaker=sessionmaker, kind=kind, prefix=key_prefix, handler=nothing_to_do
    )
    await drive(sessionmaker, redis, key_prefix, worker)
    for job in await jobs(sessionmaker, task.job_ids):
        assert (job.status, job.attempt, job.lease_owner) == (JobStatus.COMPLETED, 1, None)
        assert job.completed_at is not None
    assert await pending(redis, key_prefix, kind) == 0


async def test_done_writes_its_values_to_the_job_row(
    sessionmaker: Sessions, redis: Redis, key_prefix: str
) -> None:
    kind = ImageJobs(lease=LEASE)
    task = await create_task(sessionmaker, images=2)

    async def measured(message: ImageJobRequested, claim: Image) -> Done[None]:
        return Done(values={"provider_name": "toy", "duration_ms": len(claim.job.id)})

    worker = consumer(
        redis=redis, sessionmaker=sessionmaker, kind=kind, prefix=key_prefix, handler=measured
    )
    await drive(sessionmaker, redis, key_prefix, worker)
    assert {
        (j.status, j.provider_name, j.duration_ms) for j in await jobs(sessionmaker, task.job_ids)
    } == {(JobStatus.COMPLETED, "toy", 26)}


async def test_poll_parks_the_job_and_resumes_it_in_the_same_attempt(
    sessionmaker: Sessions, redis: Redis, key_prefix: str
) -> None:
    kind = ImageJobs(lease=LEASE)
    task = await create_task(sessionmaker, images=1)
    seen: list[tuple[int, int, str | None]] = []

    async def two_polls(message: ImageJobRequested, claim: Image) -> Done[None] | Poll:
        job = claim.job
        seen.append((claim.attempt, job.poll_count, job.lease_owner and "held"))
        if job.poll_count < 2:
            return Poll(after=timedelta(milliseconds=10), values={"poll_count": job.poll_count + 1})
        return Done()

    worker = consumer(
        redis=redis, sessionmaker=sessionmaker, kind=kind, prefix=key_prefix, handler=two_polls
    )
    await drive(sessionmaker, redis, key_prefix, worker)
    assert seen == [(1, 0, "held"), (1, 1, "held"), (1, 2, "held")]
    [job] = await jobs(sessionmaker, task.job_ids)
    assert (job.status, job.attempt, job.poll_count) == (JobStatus.COMPLETED, 1, 2)


async def test_a_handler_that_returns_no_outcome_does_not_leave_its_job_running(
    sessionmaker: Sessions, redis: Redis, key_prefix: str
) -> None:
    """An untyped handler that forgets its outcome: retried, then dead-lettered, never RUNNING."""
    kind = ImageJobs(lease=LEASE)
    task = await create_task(sessionmaker, images=1)
    runs: Counter[str] = Counter()

    async def forgetful(message: ImageJobRequested, claim: Image) -> Any:
        runs[message.job_id] += 1

    worker = consumer(
        redis=redis, sessionmaker=sessionmaker, kind=kind, prefix=key_prefix, handler=forgetful
    )
    await drive(sessionmaker, redis, key_prefix, worker)
    [job] = await jobs(sessionmaker, task.job_ids)
    assert (job.status, job.error_code) == (JobStatus.FAILED, "TypeError")
    assert runs[job.id] == 3  # every attempt the retry policy allows
