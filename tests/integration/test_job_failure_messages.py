"""What a client reads when a job fails (issue 12, point 14): a fixed sentence, never the
exception's text (paths, SQL); the raw error stays in the job row for operators. A provider's
moderation refusal keeps its own client-safe sentence."""

from __future__ import annotations

from datetime import timedelta
from typing import Never

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import GeneratedImage, ImageJob
from lumi_common.errors import PermanentError
from lumi_common.i18n import stored
from lumi_common.jobs import client_errors
from lumi_common.jobs.lifecycle import Claim
from lumi_common.jobs.outcomes import RetryPolicy
from lumi_common.jobs.results import Done, Poll
from lumi_common.messages import ImageJobRequested
from lumi_common.pipeline.images import ImageJobs
from lumi_common.providers.errors import REFUSED_MESSAGE, ContentRefused
from lumi_common.states import JobStatus
from tests.support.factories import create_task
from tests.support.pipeline import consumer, relay_all

pytestmark = pytest.mark.usefixtures("empty_outbox")

Sessions = async_sessionmaker[AsyncSession]
LEAKY = "cannot open /srv/lumi/storage/x.png: (1146, \"Table 'lumi.images' doesn't exist\")"


async def test_a_failed_job_shows_the_client_a_fixed_sentence(
    sessionmaker: Sessions, redis: Redis, key_prefix: str
) -> None:
    task = await create_task(sessionmaker, images=3)
    permanent, crashed, refused = task.job_ids

    async def handler(message: ImageJobRequested, claim: Claim[ImageJob]) -> Done[Never] | Poll:
        if message.job_id == permanent:
            raise PermanentError(LEAKY)
        if message.job_id == crashed:
            raise RuntimeError(LEAKY)
        raise ContentRefused(f"provider said: {LEAKY}")

    kind = ImageJobs(lease=timedelta(seconds=5))
    worker = consumer(
        redis=redis,
        sessionmaker=sessionmaker,
        kind=kind,
        handler=handler,
        prefix=key_prefix,
        retry=RetryPolicy(max_attempts=1, base_seconds=0.01, max_seconds=0.05),
    )
    await relay_all(sessionmaker, redis, key_prefix)
    await worker.run(burst=True)

    async with sessionmaker() as session:
        jobs = {
            job.id: job
            for job in await session.scalars(select(ImageJob).where(ImageJob.id.in_(task.job_ids)))
        }
        images = {
            image.id: image
            for image in await session.scalars(
                select(GeneratedImage).where(GeneratedImage.request_id == task.request_id)
            )
        }
    shown = {job_id: images[jobs[job_id].image_id].error_message for job_id in task.job_ids}
    # stored as catalogue references, rendered in the reader's language when read
    assert shown == {
        permanent: stored(client_errors.GENERIC),
        crashed: stored(client_errors.GENERIC),
        refused: stored(REFUSED_MESSAGE),
    }
    assert {job.status for job in jobs.values()} == {JobStatus.FAILED}
    # operators keep the detail
    assert LEAKY in (jobs[permanent].error_message or "")
    assert LEAKY in (jobs[crashed].error_message or "")
