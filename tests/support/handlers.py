"""Job handlers for tests. They do to the database what the image worker does, and write one row
to a test-only table in the transaction that completes the job (`record_effects`): counting those
rows proves that each outcome was recorded once, however often the handler ran."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from lumi_common.db.tables import ImageJob
from lumi_common.jobs.lifecycle import Claim
from lumi_common.jobs.results import Done, Handler
from lumi_common.messages import ImageJobRequested
from lumi_common.pipeline.images import ImageJobs, complete_images

Sessions = async_sessionmaker[AsyncSession]
Hook = Callable[[ImageJobRequested, Claim[ImageJob]], Awaitable[None]]

effects_metadata = MetaData()
handler_effects = Table(
    "test_handler_effects",
    effects_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(26), nullable=False, index=True),
    Column("attempt", Integer, nullable=False),
    Column("owner", String(128), nullable=False),
)


async def create_effects_table(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(effects_metadata.create_all)


async def effect_counts(sessionmaker: Sessions, job_ids: list[str]) -> Counter[str]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(handler_effects.c.job_id, func.count())
            .where(handler_effects.c.job_id.in_(job_ids))
            .group_by(handler_effects.c.job_id)
        )
        return Counter(dict(rows.all()))


def image_handler(
    sessionmaker: Sessions,
    kind: ImageJobs,
    *,
    delay: float = 0.0,
    runs: Counter[str] | None = None,
    before_complete: Hook | None = None,
) -> Handler[ImageJob, ImageJobRequested, str]:
    """Wait `delay` (the runtime marked the image GENERATING with the claim), then return
    `Done(storage key)`: the runtime completes job and image, and `record_effects` (the
    consumer's `on_done`) records the effect, in one transaction.

    `runs` counts invocations; `before_complete` runs just before returning (where a test
    injects a crash).
    """

    async def handle(message: ImageJobRequested, claim: Claim[ImageJob]) -> Done[str]:
        if runs is not None:
            runs[message.job_id] += 1
        if delay:
            await asyncio.sleep(delay)
        if before_complete is not None:
            await before_complete(message, claim)
        job = claim.job
        return Done(f"images/{job.request_id}/{job.image_id}.png")

    return handle


async def record_effects(session: AsyncSession, done: Sequence[tuple[ImageJob, str]]) -> None:
    """What the image worker records for finished jobs, and one effect row each (the job row
    is as claimed: its attempt and lease owner are the claim's)."""
    await complete_images(session, done)
    await session.execute(
        insert(handler_effects),
        [{"job_id": job.id, "attempt": job.attempt, "owner": job.lease_owner} for job, _ in done],
    )
