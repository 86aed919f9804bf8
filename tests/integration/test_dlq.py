"""Dead-letter operations on real Redis and a real database: an operator's replay queues a failed
job again exactly once (the reset a user's retry shares), and a job's entries can be discarded."""

from __future__ import annotations

from collections import Counter

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import GenerationRequest, ImageJob
from lumi_common.pipeline.images import ImageJobs
from lumi_common.states import JobStatus, RequestStatus
from lumi_common.streams.dlq import PAGE, DeadLetters
from lumi_common.streams.dlq_replay import replay
from lumi_common.streams.names import IMAGE_JOBS
from tests.support.factories import CreatedTask, create_task
from tests.support.pipeline import LEASE, run_images

pytestmark = pytest.mark.usefixtures("empty_outbox")
Sessions = async_sessionmaker[AsyncSession]


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

    results = (await replay(letters, sessionmaker, kind, None)).results
    assert {result.outcome for result in results} == {"requeued"}
    assert await letters.size(kind.stream) == 0
    assert await statuses(sessionmaker, task) == {JobStatus.QUEUED}
    async with sessionmaker() as session:
        request = await session.get(GenerationRequest, task.request_id)
    assert request is not None
    assert request.status is RequestStatus.IMAGE_PENDING

    again = (await replay(letters, sessionmaker, kind, [entries[0].entry_id])).results
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


async def test_a_replay_stops_between_letters_and_carries_on(
    sessionmaker: Sessions, redis: Redis, key_prefix: str
) -> None:
    task = await failed_task(sessionmaker, redis, key_prefix)
    kind = ImageJobs(lease=LEASE)
    letters = DeadLetters(redis, key_prefix=key_prefix)
    seen: list[str] = []

    first = await replay(
        letters,
        sessionmaker,
        kind,
        None,
        stop=lambda: len(seen) == 1,
        on_result=lambda r: seen.append(r.outcome),
    )
    assert (first.total, first.interrupted, seen) == (2, True, ["requeued"])
    assert await letters.size(kind.stream) == 1
    assert await statuses(sessionmaker, task) == {JobStatus.QUEUED, JobStatus.FAILED}

    rest = await replay(letters, sessionmaker, kind, None)
    assert (rest.total, rest.interrupted, rest.complete) == (1, False, True)
    assert await statuses(sessionmaker, task) == {JobStatus.QUEUED}


async def test_purging_all_stops_between_pages_and_keeps_late_letters(
    redis: Redis, key_prefix: str, redis_url: str
) -> None:
    letters = DeadLetters(redis, key_prefix=key_prefix)
    key = letters.key(IMAGE_JOBS)
    total = PAGE * 2 + 100
    async with redis.pipeline(transaction=False) as pipe:
        for n in range(total):
            pipe.xadd(key, {b"data": str(n).encode()})
        await pipe.execute()
    pages: list[int] = []

    stopped = await letters.purge_all(IMAGE_JOBS, stop=lambda: bool(pages), on_removed=pages.append)
    assert (stopped.total, stopped.removed, stopped.interrupted) == (total, PAGE, True)
    left = await letters.entries(IMAGE_JOBS, limit=total)
    assert [entry.raw for entry in left] == [str(n) for n in range(PAGE, total)]

    # a letter dead-lettered while a purge runs is not part of it
    late = SyncRedis.from_url(redis_url)

    def arrives_during(count: int) -> None:
        late.xadd(key, {b"data": b"late"})

    try:
        rest = await letters.purge_all(IMAGE_JOBS, on_removed=arrives_during)
    finally:
        late.close()
    assert (rest.total, rest.removed, rest.interrupted) == (total - PAGE, total - PAGE, False)
    assert [entry.raw for entry in await letters.entries(IMAGE_JOBS)] == ["late", "late"]
