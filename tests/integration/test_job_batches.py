"""Jobs claimed and completed in batches, on a real database: each job in a batch gets the
outcome it would get alone, and each request shows what its images did."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import GeneratedImage, ImageJob
from lumi_common.ids import new_id
from lumi_common.jobs.completions import Completions
from lumi_common.jobs.lifecycle import Claim, LeaseLost, Refusal
from lumi_common.pipeline.images import ImageJobs, complete_images
from lumi_common.states import ImageStatus, JobStatus, RequestPhase, RequestStatus
from lumi_common.time import utcnow
from tests.support.factories import create_task
from tests.support.pipeline import LEASE, request_of

Sessions = async_sessionmaker[AsyncSession]
ME, OTHER = "consumer-me", "consumer-other"


async def set_job(sessionmaker: Sessions, job_id: str, **values: object) -> None:
    async with sessionmaker.begin() as session:
        await session.execute(update(ImageJob).where(ImageJob.id == job_id).values(**values))


async def claim(
    sessionmaker: Sessions, kind: ImageJobs, job_ids: list[str], owner: str = ME
) -> dict[str, Claim[ImageJob] | Refusal]:
    """What the consumer does with the jobs of messages read together."""
    async with sessionmaker.begin() as session:
        outcomes = await kind.lifecycle.claim_many(session, job_ids, owner)
        await kind.on_claimed(session, [c.job for c in outcomes.values() if isinstance(c, Claim)])
        return outcomes


async def images_of(sessionmaker: Sessions, request_id: str) -> list[GeneratedImage]:
    async with sessionmaker() as session:
        query = select(GeneratedImage).where(GeneratedImage.request_id == request_id)
        return list(await session.scalars(query.order_by(GeneratedImage.image_index)))


async def test_each_job_of_a_batch_claim_gets_its_own_outcome(sessionmaker: Sessions) -> None:
    kind = ImageJobs(lease=LEASE)
    queued, done, held, abandoned = (await create_task(sessionmaker)).job_ids
    now = utcnow()
    await set_job(sessionmaker, done, status=JobStatus.COMPLETED, attempt=1, completed_at=now)
    for job, expires in ((held, timedelta(minutes=5)), (abandoned, timedelta(seconds=-1))):
        await set_job(
            sessionmaker,
            job,
            status=JobStatus.RUNNING,
            attempt=1,
            lease_owner=OTHER,
            lease_expires_at=now + expires,
        )
    missing = new_id()

    outcomes = await claim(sessionmaker, kind, [queued, done, held, abandoned, missing])

    assert outcomes[done] is Refusal.TERMINAL
    assert outcomes[held] is Refusal.HELD
    assert outcomes[missing] is Refusal.MISSING
    first, taken_over = outcomes[queued], outcomes[abandoned]
    assert isinstance(first, Claim)
    assert isinstance(taken_over, Claim)
    assert (first.attempt, taken_over.attempt) == (1, 2)
    assert first.job.lease_owner == ME
    assert first.job.status is JobStatus.RUNNING
    # what this batch took is now held against everybody else
    again = await claim(sessionmaker, kind, [queued, abandoned], owner=OTHER)
    assert again == {queued: Refusal.HELD, abandoned: Refusal.HELD}


async def test_claiming_shows_each_request_that_its_images_started(sessionmaker: Sessions) -> None:
    kind = ImageJobs(lease=LEASE)
    one, two = await create_task(sessionmaker), await create_task(sessionmaker)
    before = await request_of(sessionmaker, one.request_id)

    outcomes = await claim(sessionmaker, kind, [*one.job_ids[:2], two.job_ids[3]])

    assert all(isinstance(outcome, Claim) for outcome in outcomes.values())
    assert [image.status for image in await images_of(sessionmaker, one.request_id)] == [
        ImageStatus.GENERATING,
        ImageStatus.GENERATING,
        ImageStatus.PENDING,
        ImageStatus.PENDING,
    ]
    assert [image.status for image in await images_of(sessionmaker, two.request_id)][3] is (
        ImageStatus.GENERATING
    )
    for task in (one, two):
        request = await request_of(sessionmaker, task.request_id)
        assert (request.status, request.phase) == (
            RequestStatus.IMAGE_GENERATING,
            RequestPhase.IMAGE_GENERATION,
        )
    assert (await request_of(sessionmaker, one.request_id)).updated_at > before.updated_at


async def test_completions_write_each_jobs_values_and_drop_the_lost_ones(
    sessionmaker: Sessions,
) -> None:
    kind = ImageJobs(lease=LEASE)
    one, two = await create_task(sessionmaker), await create_task(sessionmaker)
    claims = await claim(sessionmaker, kind, [*one.job_ids, *two.job_ids])
    cancelled = one.job_ids[0]
    await set_job(sessionmaker, cancelled, status=JobStatus.CANCELLED, lease_owner=None)
    completions = Completions(sessionmaker, kind.lifecycle, complete_images)

    async def complete(number: int, claimed: Claim[ImageJob] | Refusal) -> None:
        assert isinstance(claimed, Claim)
        key = f"images/{claimed.job.request_id}/{number}.png"
        await completions.complete(claimed, key, {"provider_name": "p", "duration_ms": number})

    results = await asyncio.gather(
        *(complete(n, c) for n, c in enumerate(claims.values())), return_exceptions=True
    )

    assert isinstance(results[0], LeaseLost)
    assert results[1:] == [None] * 7
    async with sessionmaker() as session:
        jobs = {
            job.id: job
            for job in await session.scalars(
                select(ImageJob).where(ImageJob.id.in_([*one.job_ids, *two.job_ids]))
            )
        }
    assert jobs[cancelled].status is JobStatus.CANCELLED
    for number, job_id in enumerate(claims):
        if job_id != cancelled:
            job = jobs[job_id]
            assert (job.status, job.duration_ms, job.provider_name) == (
                JobStatus.COMPLETED,
                number,
                "p",
            )
            assert job.lease_owner is None
    first = await images_of(sessionmaker, one.request_id)
    assert [image.status for image in first] == [ImageStatus.GENERATING] + [
        ImageStatus.COMPLETED
    ] * 3
    assert [image.storage_key for image in await images_of(sessionmaker, two.request_id)] == [
        f"images/{two.request_id}/{n}.png" for n in range(4, 8)
    ]
    # one image still generating: its request waits; the other request awaits the selection
    assert (await request_of(sessionmaker, one.request_id)).status is (
        RequestStatus.IMAGE_GENERATING
    )
    second = await request_of(sessionmaker, two.request_id)
    assert (second.status, second.phase) == (
        RequestStatus.IMAGE_COMPLETED,
        RequestPhase.AWAITING_SELECTION,
    )


@pytest.mark.parametrize("size", [1, 3])
async def test_a_batch_of_one_and_of_several_complete_alike(
    sessionmaker: Sessions, size: int
) -> None:
    kind = ImageJobs(lease=LEASE)
    task = await create_task(sessionmaker, images=size)
    claims = await claim(sessionmaker, kind, task.job_ids)
    completions: Completions[ImageJob, None] = Completions(sessionmaker, kind.lifecycle)
    await asyncio.gather(
        *(completions.complete(c, None, {}) for c in claims.values() if isinstance(c, Claim))
    )
    async with sessionmaker() as session:
        statuses = await session.scalars(
            select(ImageJob.status).where(ImageJob.id.in_(task.job_ids))
        )
        assert set(statuses) == {JobStatus.COMPLETED}


async def test_a_job_its_owner_holds_but_does_not_run_is_taken_again(
    sessionmaker: Sessions,
) -> None:
    """A claim whose commit was reported failed after it happened, or whose handler crashed
    without an outcome: the owner is not running it, so a new delivery starts a new attempt."""
    kind = ImageJobs(lease=LEASE)
    job = (await create_task(sessionmaker, images=1)).job_ids[0]
    soon = utcnow() + timedelta(seconds=2)
    await set_job(
        sessionmaker,
        job,
        status=JobStatus.RUNNING,
        attempt=1,
        lease_owner=ME,
        lease_expires_at=soon,
    )

    outcome = (await claim(sessionmaker, kind, [job]))[job]

    assert isinstance(outcome, Claim)
    assert outcome.attempt == 2
    assert outcome.job.lease_expires_at is not None
    assert outcome.job.lease_expires_at > soon  # a fresh lease
    assert (await claim(sessionmaker, kind, [job], owner=OTHER))[job] is Refusal.HELD
