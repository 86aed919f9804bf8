"""The consumer runtime on real Redis and a real database, driven in burst mode."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import GeneratedImage, ImageJob
from lumi_common.errors import PermanentError, RetryableError
from lumi_common.jobs.lifecycle import Claim
from lumi_common.jobs.results import Done, Handler, Poll
from lumi_common.messages import DeadLetter, ImageJobRequested, decode
from lumi_common.pipeline.images import ImageJobs, complete_images
from lumi_common.states import ImageStatus, JobStatus, RequestPhase, RequestStatus
from lumi_common.streams.names import dlq_name, stream_key
from tests.support.factories import create_task
from tests.support.pipeline import (
    LEASE,
    consumer,
    drive,
    job_states,
    relay_all,
    request_of,
    stream_entries,
)

pytestmark = pytest.mark.usefixtures("empty_outbox")

Sessions = async_sessionmaker[AsyncSession]


Image = Claim[ImageJob]


def completing_handler(runs: Counter[str]) -> Handler[ImageJob, ImageJobRequested, str]:
    """Returns the image's key: the runtime completes the job, `complete_images` the rest."""

    async def handle(message: ImageJobRequested, claim: Image) -> Done[str]:
        runs[message.job_id] += 1
        return Done(f"images/{claim.job.request_id}/x.png")

    return handle


async def test_jobs_complete_once_and_the_request_awaits_selection(
    sessionmaker: Sessions, redis: Redis, key_prefix: str
) -> None:
    kind = ImageJobs(lease=LEASE)
    task = await create_task(sessionmaker)
    runs: Counter[str] = Counter()
    worker = consumer(
        redis=redis,
        sessionmaker=sessionmaker,
        kind=kind,
        prefix=key_prefix,
        handler=completing_handler(runs),
        on_done=complete_images,
    )
    await drive(sessionmaker, redis, key_prefix, worker)
    assert runs == Counter(dict.fromkeys(task.job_ids, 1))
    assert set((await job_states(sessionmaker, task.job_ids)).values()) == {
        (JobStatus.COMPLETED, 1)
    }
    request = await request_of(sessionmaker, task.request_id)
    assert (request.status, request.phase) == (
        RequestStatus.IMAGE_COMPLETED,
        RequestPhase.AWAITING_SELECTION,
    )
    pending = await redis.xpending(stream_key(key_prefix, kind.stream), "image-jobs-workers")
    assert pending["pending"] == 0


async def test_duplicate_deliveries_change_nothing(
    sessionmaker: Sessions, redis: Redis, key_prefix: str
) -> None:
    kind = ImageJobs(lease=LEASE)
    task = await create_task(sessionmaker, images=1)
    await relay_all(sessionmaker, redis, key_prefix)
    entries = await stream_entries(redis, stream_key(key_prefix, kind.stream))
    for _ in range(3):  # the same message again, as a duplicate publish would add it
        await redis.xadd(stream_key(key_prefix, kind.stream), {b"data": entries[0][1][b"data"]})
    runs: Counter[str] = Counter()
    worker = consumer(
        redis=redis,
        sessionmaker=sessionmaker,
        kind=kind,
        prefix=key_prefix,
        handler=completing_handler(runs),
        on_done=complete_images,
        concurrency=1,
    )
    await drive(sessionmaker, redis, key_prefix, worker)
    assert runs == Counter({task.job_ids[0]: 1})


async def test_retryable_errors_retry_with_backoff_then_succeed(
    sessionmaker: Sessions, redis: Redis, key_prefix: str
) -> None:
    kind = ImageJobs(lease=LEASE)
    task = await create_task(sessionmaker, images=1)
    runs: Counter[str] = Counter()
    complete = completing_handler(Counter())

    async def flaky(message: ImageJobRequested, claim: Image) -> Done[str] | Poll:
        runs[message.job_id] += 1
        if runs[message.job_id] <= 2:
            raise RetryableError("provider busy")
        return await complete(message, claim)

    worker = consumer(
        redis=redis,
        sessionmaker=sessionmaker,
        kind=kind,
        prefix=key_prefix,
        handler=flaky,
        on_done=complete_images,
    )
    await drive(sessionmaker, redis, key_prefix, worker)
    assert runs[task.job_ids[0]] == 3
    assert (await job_states(sessionmaker, task.job_ids))[task.job_ids[0]] == (
        JobStatus.COMPLETED,
        3,
    )


async def test_failures_dead_letter_and_the_request_shows_it(
    sessionmaker: Sessions, redis: Redis, key_prefix: str
) -> None:
    kind = ImageJobs(lease=LEASE)
    task = await create_task(sessionmaker)
    before = (await request_of(sessionmaker, task.request_id)).updated_at

    async def broken(message: ImageJobRequested, claim: Image) -> Done[None]:
        if message.job_id == task.job_ids[0]:
            raise PermanentError("content policy refused the prompt")
        raise RetryableError("provider down")

    worker = consumer(
        redis=redis, sessionmaker=sessionmaker, kind=kind, prefix=key_prefix, handler=broken
    )
    await drive(sessionmaker, redis, key_prefix, worker)
    statuses = await job_states(sessionmaker, task.job_ids)
    assert statuses[task.job_ids[0]] == (JobStatus.FAILED, 1)
    assert {statuses[j] for j in task.job_ids[1:]} == {(JobStatus.FAILED, 3)}
    request = await request_of(sessionmaker, task.request_id)
    assert request.status == RequestStatus.IMAGE_FAILED
    assert request.updated_at > before
    async with sessionmaker() as session:
        images = (
            await session.scalars(
                select(GeneratedImage).where(GeneratedImage.request_id == task.request_id)
            )
        ).all()
    assert {image.status for image in images} == {ImageStatus.FAILED}
    letters = [
        decode(fields[b"data"])
        for _, fields in await stream_entries(redis, stream_key(key_prefix, dlq_name(kind.stream)))
    ]
    assert all(isinstance(letter, DeadLetter) for letter in letters)
    by_job = {letter.job_id: letter for letter in letters if isinstance(letter, DeadLetter)}
    assert set(by_job) == set(task.job_ids)
    assert by_job[task.job_ids[0]].reason == "permanent_error"
    assert by_job[task.job_ids[1]].reason == "attempts_exhausted"
    assert by_job[task.job_ids[1]].attempts == 3
    assert by_job[task.job_ids[1]].original is not None


@pytest.mark.parametrize("arrive", ["with_the_original", "while_it_runs"])
async def test_a_duplicate_never_runs_a_job_its_consumer_is_running(
    sessionmaker: Sessions, redis: Redis, key_prefix: str, arrive: str
) -> None:
    """The claim takes back a job its own consumer holds but does not run; what keeps a running
    job from being taken back is the consumer's own record of what it runs, in one read batch
    and across reads."""
    kind = ImageJobs(lease=LEASE)
    task = await create_task(sessionmaker, images=1)
    await relay_all(sessionmaker, redis, key_prefix)
    key = stream_key(key_prefix, kind.stream)
    data = (await stream_entries(redis, key))[0][1][b"data"]
    started = asyncio.Event()
    runs: Counter[str] = Counter()
    complete = completing_handler(runs)

    async def slow(message: ImageJobRequested, claim: Image) -> Done[str] | Poll:
        started.set()
        await asyncio.sleep(0.3)
        return await complete(message, claim)

    async def duplicates() -> None:
        for _ in range(3):
            await redis.xadd(key, {b"data": data})

    if arrive == "with_the_original":
        await duplicates()
    worker = consumer(
        redis=redis,
        sessionmaker=sessionmaker,
        kind=kind,
        prefix=key_prefix,
        handler=slow,
        on_done=complete_images,
        concurrency=4,
    )
    running = asyncio.create_task(worker.run(burst=True))
    if arrive == "while_it_runs":
        await started.wait()
        await duplicates()
    await running
    await worker.run(burst=True)  # whatever is left: the job is done by now
    assert runs == Counter({task.job_ids[0]: 1})
    assert (await job_states(sessionmaker, task.job_ids))[task.job_ids[0]] == (
        JobStatus.COMPLETED,
        1,
    )
