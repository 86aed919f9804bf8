"""A job's holder is named by its claim's token: once its lease expired and someone else claimed
the job, nothing the first holder writes (renewal, progress, done, poll, retry, failure) changes
the job, and the new holder's outcome lands. On both engines, each on a freshly migrated database
(so the migration that adds the token is what runs here)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db import migrate
from lumi_common.db.engine import create_engine, create_sessionmaker
from lumi_common.db.tables import ImageJob, OutboxEvent
from lumi_common.jobs.completions import Completions
from lumi_common.jobs.lifecycle import Claim, LeaseLost, Refusal
from lumi_common.jobs.outcomes import Failure, dead_letter, schedule_poll, schedule_retry
from lumi_common.jobs.results import Poll
from lumi_common.pipeline.images import ImageJobs
from lumi_common.settings import DatabaseSettings
from lumi_common.states import JobStatus
from lumi_common.time import utcnow
from tests.support import backends as b
from tests.support.factories import create_task
from tests.support.pipeline import LEASE

Sessions = async_sessionmaker[AsyncSession]
FIRST, SECOND = "consumer-first", "consumer-second"
KIND = ImageJobs(lease=LEASE)


@pytest_asyncio.fixture(scope="module", params=["sqlite", "mysql"])
async def sessions(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Sessions]:
    if request.param == "sqlite":
        url = b.sqlite_url(tmp_path_factory.mktemp("lease-tokens"))
    else:
        server = b.mysql_server_url()
        if not await b.mysql_reachable(server):
            if b.required():
                pytest.fail(f"CI=true but MariaDB is not reachable at {server}")
            pytest.skip("MariaDB not reachable")
        url = await b.create_mysql_database(server)
    settings = DatabaseSettings(database_url=url)
    await migrate.upgrade(settings)
    engine = create_engine(settings)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()
        if request.param == "mysql":
            await b.drop_mysql_database(url)


async def claim(sessions: Sessions, job_id: str, owner: str) -> Claim[ImageJob]:
    async with sessions.begin() as session:
        claimed = (await KIND.lifecycle.claim_many(session, [job_id], owner))[job_id]
    assert isinstance(claimed, Claim)
    return claimed


async def expire_lease(sessions: Sessions, job_id: str) -> None:
    """What waiting out the lease does (its holder hung, or its renewals failed)."""
    async with sessions.begin() as session:
        await session.execute(
            update(ImageJob)
            .where(ImageJob.id == job_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )


async def snapshot(sessions: Sessions, job_id: str) -> tuple[Any, ...]:
    """The job row and the number of outbox events for it: what an outcome would change."""
    async with sessions() as session:
        job = await session.scalar(
            select(ImageJob).where(ImageJob.id == job_id).execution_options(populate_existing=True)
        )
        events = await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.key == job_id)
        )
    assert job is not None
    columns = ImageJob.__table__.columns.keys()
    return (*(getattr(job, column) for column in columns), events)


async def two_claims(sessions: Sessions, *, second_owner: str) -> tuple[Claim[ImageJob], ...]:
    job_id = (await create_task(sessions, images=1)).job_ids[0]
    first = await claim(sessions, job_id, FIRST)
    await expire_lease(sessions, job_id)
    second = await claim(sessions, job_id, second_owner)
    assert (first.attempt, second.attempt) == (1, 2)
    assert first.token != second.token
    return first, second


async def done(sessions: Sessions, held: Claim[ImageJob]) -> None:
    completions: Completions[ImageJob, None] = Completions(sessions, KIND.lifecycle)
    await completions.complete(held, None, {"provider_name": held.owner})


async def poll(sessions: Sessions, held: Claim[ImageJob]) -> None:
    async with sessions.begin() as session:
        message = await KIND.message_for(session, held.job, attempt=held.attempt)
        await schedule_poll(session, KIND, held, message, Poll(after=timedelta(minutes=1)))


async def retry(sessions: Sessions, held: Claim[ImageJob]) -> None:
    async with sessions.begin() as session:
        message = await KIND.message_for(session, held.job, attempt=held.attempt)
        await schedule_retry(
            session, KIND, held, message, delay=60.0, error="the provider hung up", code="X"
        )


async def fail(sessions: Sessions, held: Claim[ImageJob]) -> None:
    failure = Failure(
        reason="permanent_error",
        error="the provider refused",
        code="REFUSED",
        attempts=held.attempt,
        deliveries=1,
        consumer=held.owner,
    )
    async with sessions.begin() as session:
        message = await KIND.message_for(session, held.job, attempt=held.attempt)
        if not await dead_letter(session, KIND, message, failure, claim=held):
            raise LeaseLost(held.job_id)


async def progress(sessions: Sessions, held: Claim[ImageJob]) -> None:
    async with sessions.begin() as session:
        await KIND.lifecycle.update_running(session, held, provider_job_id="stale")


async def renew(sessions: Sessions, held: Claim[ImageJob]) -> None:
    async with sessions.begin() as session:
        if not await KIND.lifecycle.renew(session, [held]):
            raise LeaseLost(held.job_id)


Write = Callable[[Sessions, Claim[ImageJob]], Awaitable[None]]
WRITES: dict[str, Write] = {
    "renew": renew,
    "progress": progress,
    "done": done,
    "poll": poll,
    "retry": retry,
    "fail": fail,
}


@pytest.mark.parametrize("second_owner", [SECOND, FIRST], ids=["other-consumer", "same-name"])
@pytest.mark.parametrize("write", list(WRITES))
async def test_a_stale_holder_changes_nothing_and_the_new_holder_lands(
    sessions: Sessions, write: str, second_owner: str
) -> None:
    first, second = await two_claims(sessions, second_owner=second_owner)
    before = await snapshot(sessions, first.job_id)

    with pytest.raises(LeaseLost):
        await WRITES[write](sessions, first)

    assert await snapshot(sessions, first.job_id) == before
    await done(sessions, second)
    async with sessions() as session:
        job = await KIND.lifecycle.get(session, second.job_id)
    assert job is not None
    assert (job.status, job.attempt, job.provider_name) == (
        JobStatus.COMPLETED,
        2,
        second_owner,
    )


async def test_a_stale_holder_cannot_fail_a_job_the_new_holder_scheduled_for_retry(
    sessions: Sessions,
) -> None:
    """The job is nobody's while it waits for its retry: only the token tells the stale holder
    that this wait is not its own."""
    first, second = await two_claims(sessions, second_owner=SECOND)
    await retry(sessions, second)
    before = await snapshot(sessions, first.job_id)

    with pytest.raises(LeaseLost):
        await fail(sessions, first)

    assert await snapshot(sessions, first.job_id) == before
    assert before[ImageJob.__table__.columns.keys().index("status")] is JobStatus.RETRYING


async def test_a_batch_completion_reports_only_the_stale_claims_lost(sessions: Sessions) -> None:
    task = await create_task(sessions, images=3)
    claims = [await claim(sessions, job_id, FIRST) for job_id in task.job_ids]
    await expire_lease(sessions, task.job_ids[1])
    await claim(sessions, task.job_ids[1], SECOND)

    async with sessions.begin() as session:
        lost = await KIND.lifecycle.complete_many(session, [(held, {}) for held in claims])

    assert lost == {task.job_ids[1]}
    async with sessions() as session:
        statuses = {
            job.id: job.status
            for job in await session.scalars(
                select(ImageJob)
                .where(ImageJob.id.in_(task.job_ids))
                .execution_options(populate_existing=True)
            )
        }
    assert statuses == {
        task.job_ids[0]: JobStatus.COMPLETED,
        task.job_ids[1]: JobStatus.RUNNING,
        task.job_ids[2]: JobStatus.COMPLETED,
    }


async def test_a_row_claimed_before_tokens_existed_is_held_then_taken_over(
    sessions: Sessions,
) -> None:
    """A rolling deploy: code without the token column claimed the job (owner and expiry, no
    token). It stays that holder's until its lease expires, then a claim gives it a token."""
    job_id = (await create_task(sessions, images=1)).job_ids[0]
    async with sessions.begin() as session:
        await session.execute(
            update(ImageJob)
            .where(ImageJob.id == job_id)
            .values(
                status=JobStatus.RUNNING,
                attempt=1,
                lease_owner="consumer-old",
                lease_expires_at=utcnow() + timedelta(minutes=5),
            )
        )
    async with sessions.begin() as session:
        assert (await KIND.lifecycle.claim_many(session, [job_id], SECOND))[job_id] is (
            Refusal.HELD
        )

    await expire_lease(sessions, job_id)
    taken = await claim(sessions, job_id, SECOND)

    assert (taken.attempt, taken.job.lease_token) == (2, taken.token)
