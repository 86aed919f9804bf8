"""Job handlers for tests. They do to the database what the image worker does, and write one row
to a test-only table in the transaction that completes the job: counting those rows proves that
each outcome was recorded once, however often the handler ran."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable

from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from lumi_common.db.tables import ImageJob
from lumi_common.jobs.lifecycle import Claim
from lumi_common.messages import JobMessage
from lumi_common.pipeline.images import ImageJobs, complete_images
from lumi_common.streams.consumer import Handler

Sessions = async_sessionmaker[AsyncSession]
Hook = Callable[[JobMessage, Claim], Awaitable[None]]

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
) -> Handler:
    """Wait `delay` (the runtime marked the image GENERATING with the claim), then complete job
    and image and record the effect, in one transaction.

    `runs` counts invocations; `before_complete` runs just before that transaction (where a test
    injects a crash).
    """

    async def handle(message: JobMessage, claim: Claim) -> None:
        if runs is not None:
            runs[message.job_id] += 1
        if delay:
            await asyncio.sleep(delay)
        if before_complete is not None:
            await before_complete(message, claim)
        job = claim.job
        assert isinstance(job, ImageJob)
        async with sessionmaker.begin() as session:
            await kind.lifecycle.complete(session, claim)
            await complete_images(session, [(job, f"images/{job.request_id}/{job.image_id}.png")])
            await session.execute(
                insert(handler_effects).values(
                    job_id=message.job_id, attempt=claim.attempt, owner=claim.owner
                )
            )

    return handle
