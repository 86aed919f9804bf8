"""A real consumer with its health port: `/metrics` there counts each outcome exactly once (one
claim per attempt, a retry, a dead letter) and its stream gauges match the stream."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from lumi_common.db.tables import ImageJob
from lumi_common.errors import PermanentError, RetryableError
from lumi_common.jobs.lifecycle import Claim
from lumi_common.jobs.results import Done, Poll
from lumi_common.messages import ImageJobRequested
from lumi_common.metrics.exposition import Exposition
from lumi_common.metrics.streams import StreamStats
from lumi_common.pipeline.images import ImageJobs
from lumi_common.redis_client import RedisClient
from lumi_common.states import JobStatus
from lumi_common.streams.names import IMAGE_JOBS
from lumi_common.streams.worker import run_worker
from tests.support.factories import create_task
from tests.support.handlers import image_handler, record_effects
from tests.support.metrics import parse, scrape
from tests.support.pipeline import consumer, job_states, relay_all, wait_until
from tests.support.processes import free_port

pytestmark = pytest.mark.usefixtures("empty_outbox", "effects_table")

Sessions = async_sessionmaker[AsyncSession]
JOB = {"kind": "image", "provider": "test-images"}
GROUP = {"stream": IMAGE_JOBS, "group": f"{IMAGE_JOBS}-workers"}


async def test_worker_metrics_count_every_outcome_once(
    sessionmaker: Sessions, redis: RedisClient, key_prefix: str, engine: AsyncEngine
) -> None:
    task = await create_task(sessionmaker)
    doomed, flaky = task.job_ids[0], task.job_ids[1]
    kind = ImageJobs(lease=timedelta(seconds=5))
    complete = image_handler(sessionmaker, kind)
    tries: dict[str, int] = {}

    async def handle(message: ImageJobRequested, claim: Claim[ImageJob]) -> Done[str] | Poll:
        tries[message.job_id] = tries.get(message.job_id, 0) + 1
        if message.job_id == doomed:
            raise PermanentError("the image service refused the prompt")
        if message.job_id == flaky and tries[flaky] == 1:
            raise RetryableError("the image service timed out")
        return await complete(message, claim)

    worker = consumer(
        redis=redis,
        sessionmaker=sessionmaker,
        kind=kind,
        handler=handle,
        on_done=record_effects,
        prefix=key_prefix,
        provider="test-images",
    )
    stats = StreamStats(redis, key_prefix=key_prefix, streams=[IMAGE_JOBS], max_age=0)
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    before = await Exposition().render()  # the counters of this test process so far
    running = asyncio.create_task(
        run_worker(
            worker,
            reconciler=None,
            reconcile_every_s=60,
            health_port=port,
            metrics=Exposition([stats], engine=engine),
        )
    )
    try:
        await wait_until(lambda: _settled(sessionmaker, redis, key_prefix, task.job_ids), within=30)
        page = await scrape(url)
        assert page.value("lumi_stream_group_pending", **GROUP) == 0  # acks are coalesced
    finally:
        worker.stop()
        await asyncio.wait_for(running, 10)

    start = parse(before.decode())
    assert page.delta(start, "lumi_jobs_claimed_total", **JOB) == 5  # 4 jobs, one ran twice
    assert page.delta(start, "lumi_jobs_completed_total", **JOB) == 3
    assert page.delta(start, "lumi_jobs_retried_total", **JOB) == 1
    assert page.delta(start, "lumi_jobs_failed_total", **JOB) == 1
    assert page.delta(start, "lumi_jobs_dead_lettered_total", reason="permanent_error", **JOB) == 1
    assert page.delta(start, "lumi_job_duration_seconds_count", **JOB) == 5
    assert page.families["lumi_job_duration_seconds"] == "histogram"
    assert page.value("lumi_stream_length", stream=IMAGE_JOBS) == 5  # 4 jobs + 1 retry
    assert page.value("lumi_stream_dead_letters", stream=IMAGE_JOBS) == 1
    assert page.value("lumi_stream_group_lag", **GROUP) == 0
    assert page.value("lumi_stream_group_consumers", **GROUP) == 1
    assert page.value("lumi_stream_group_consumers_active", **GROUP) == 1
    assert page.value("lumi_db_pool_connections_in_use") == 0  # every job settled


async def _settled(
    sessionmaker: Sessions, redis: RedisClient, prefix: str, job_ids: list[str]
) -> bool:
    """All four jobs ended (relaying as the worker goes: the retry and the dead letter travel
    through the outbox), the dead letter is in its stream and every message is acknowledged."""
    await relay_all(sessionmaker, redis, prefix)
    states = await job_states(sessionmaker, job_ids)
    ended = all(status in (JobStatus.COMPLETED, JobStatus.FAILED) for status, _ in states.values())
    if not ended:
        return False
    await relay_all(sessionmaker, redis, prefix)
    pending = await redis.xpending(f"{prefix}:{{{IMAGE_JOBS}}}", f"{IMAGE_JOBS}-workers")
    return int(pending["pending"]) == 0
