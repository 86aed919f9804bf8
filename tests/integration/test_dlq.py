"""Dead-letter operations on real Redis and a real database: an operator's replay queues a failed
job again exactly once (the reset a user's retry shares), and a job's entries can be discarded."""

from __future__ import annotations

from collections import Counter

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import GenerationRequest, ImageJob
from lumi_common.errors import PermanentError
from lumi_common.jobs.lifecycle import Claim
from lumi_common.messages import JobMessage
from lumi_common.pipeline.images import ImageJobs, complete_images
from lumi_common.states import JobStatus, RequestStatus
from lumi_common.streams.dlq import DeadLetters
from tests.support.factories import CreatedTask, create_task
from tests.support.pipeline import LEASE, consumer, drive

pytestmark = pytest.mark.usefixtures("empty_outbox")
Sessions = async_sessionmaker[AsyncSession]


async def run_images(
    sessionmaker: Sessions, redis: Redis, prefix: str, *, fail: bool, runs: Counter[str]
) -> None:
    kind = ImageJobs(lease=LEASE)

    async def handle(message: JobMessage, claim: Claim) -> None:
        runs[message.job_id] += 1
        if fail:
            raise PermanentError("the image service refused the prompt")
        async with sessionmaker.begin() as session:
            await kind.lifecycle.complete(session, claim)
            job = claim.job
            assert isinstance(job, ImageJob)
            await complete_images(session, [(job, f"images/{job.request_id}/x.png")])

    run = consumer(redis=redis, sessionmaker=sessionmaker, kind=kind, prefix=prefix, handler=handle)
    await drive(sessionmaker, redis, prefix, run)


async def failed_task(sessionmaker: Sessions, redis: Redis, prefix: str) -> CreatedTask:
    task = await create_task(sessionmaker, images=2)
    await run_images(sessionmaker, redis, prefix, fail=True, runs=Counter())
    return task


async def statuses(sessionmaker: Sessions, task: CreatedTask) -> set[JobStatus]:
    async with sessionmaker() as session:
        query = select(ImageJob.status).where(ImageJob.request_id == task.request_id)
        return set((await session.scalars(query)).all())


async def test_a_replay_queues_each_job_once_and_empties_the_stream(
    sessionmaker: Sessions, redis: Redis, key_prefix: str
) -> None:
    task = await failed_task(sessionmaker, redis, key_prefix)
    kind = ImageJobs(lease=LEASE)
    letters = DeadLetters(redis, key_prefix=key_prefix)
    entries = await letters.entries(kind.stream)
    assert {entry.letter.job_id for entry in entries if entry.letter} == set(task.job_ids)

    results = await letters.replay(sessionmaker, kind, None)
    assert {result.outcome for result in results} == {"requeued"}
    assert await letters.size(kind.stream) == 0
    assert await statuses(sessionmaker, task) == {JobStatus.QUEUED}
    async with sessionmaker() as session:
        request = await session.get(GenerationRequest, task.request_id)
    assert request is not None
    assert request.status is RequestStatus.IMAGE_PENDING

    again = await letters.replay(sessionmaker, kind, [entries[0].entry_id])
    assert [result.outcome for result in again] == ["missing"]
    runs: Counter[str] = Counter()
    await run_images(sessionmaker, redis, key_prefix, fail=False, runs=runs)
    assert runs == Counter(dict.fromkeys(task.job_ids, 1))
    assert await statuses(sessionmaker, task) == {JobStatus.COMPLETED}


async def test_discarding_removes_only_the_given_jobs_entries(
    sessionmaker: Sessions, redis: Redis, key_prefix: str
) -> None:
    task = await failed_task(sessionmaker, redis, key_prefix)
    kind = ImageJobs(lease=LEASE)
    letters = DeadLetters(redis, key_prefix=key_prefix)
    assert (
        await letters.discard_jobs(kind.stream, [task.job_ids[0], "01NOSUCHJOB0000000000000000"])
        == 1
    )
    left = await letters.entries(kind.stream)
    assert [entry.letter.job_id for entry in left if entry.letter] == [task.job_ids[1]]
    assert await letters.discard_jobs(kind.stream, []) == 0
