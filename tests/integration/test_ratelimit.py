"""The global jobs-per-minute limit: shared by every consumer of a stream, counted per window."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.pipeline.images import ImageJobs
from lumi_common.states import JobStatus
from lumi_common.streams.names import IMAGE_JOBS, stream_key
from lumi_common.streams.ratelimit import WINDOW_SECONDS, MinuteLimiter
from tests.support.factories import create_task
from tests.support.handlers import image_handler, record_effects
from tests.support.pipeline import consumer, job_states, relay_all, running, wait_until

pytestmark = pytest.mark.usefixtures("empty_outbox", "effects_table")

Sessions = async_sessionmaker[AsyncSession]


async def away_from_a_window_edge(margin: float = 8.0) -> None:
    """Start well inside a window, so the test's burst cannot straddle two of them."""
    left = WINDOW_SECONDS - time.time() % WINDOW_SECONDS
    if left < margin:
        await asyncio.sleep(left + 0.1)


@pytest.mark.slow
async def test_a_burst_runs_only_the_limit_per_minute_across_replicas(
    sessionmaker: Sessions, redis: Redis, key_prefix: str
) -> None:
    limit = 3
    kind = ImageJobs(lease=timedelta(seconds=5))
    task = await create_task(sessionmaker, images=6)
    await relay_all(sessionmaker, redis, key_prefix)
    await away_from_a_window_edge()
    replicas = [
        consumer(
            redis=redis,
            sessionmaker=sessionmaker,
            kind=kind,
            handler=image_handler(sessionmaker, kind),
            on_done=record_effects,
            prefix=key_prefix,
            jobs_per_minute=limit,
            block_ms=200,
        )
        for _ in range(2)
    ]
    window = f"{stream_key(key_prefix, IMAGE_JOBS)}:rate:{int(time.time()) // WINDOW_SECONDS}"

    async def completed() -> list[str]:
        states = await job_states(sessionmaker, task.job_ids)
        return [job for job, (status, _) in states.items() if status is JobStatus.COMPLETED]

    async def limit_reached() -> bool:
        return len(await completed()) >= limit

    async with running(consumers=replicas):
        await wait_until(limit_reached, within=10)
        await asyncio.sleep(3)  # several more read loops of both replicas
        done = await completed()
        used = int(await redis.get(window) or 0)
        # waiting for the next window, their read loops still turn: the health probe says so
        ticks = [time.monotonic() - replica.last_tick for replica in replicas]

    assert len(done) == limit
    assert used == limit
    assert max(ticks) < 2.0


async def test_unused_permits_go_back_to_the_window_they_came_from(
    redis: Redis, key_prefix: str
) -> None:
    now = [60.0 * 1000 + 59.9]  # the last 100 ms of a window
    limiter = MinuteLimiter(redis, f"{key_prefix}:rate", 3, clock=lambda: now[0])
    stop = asyncio.Event()

    assert await limiter.acquire(3, stop) == 3
    now[0] += 0.5  # a blocking read returned empty-handed after the window turned
    await limiter.refund(3)
    assert await limiter.acquire(5, stop) == 3  # the new window holds the limit, not 3 more
    assert await redis.get(f"{key_prefix}:rate:1000") == b"0"
    assert await redis.get(f"{key_prefix}:rate:1001") == b"3"
