"""What the consumer costs while it waits: no polling while its own jobs run, no task left behind
per message when every slot is busy. On a private Valkey, whose command counters are ours."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.pipeline.images import ImageJobs
from lumi_common.streams.housekeeping import remove_idle_consumers
from tests.support.backends import private_valkey
from tests.support.factories import create_task
from tests.support.handlers import image_handler, record_effects
from tests.support.pipeline import all_completed, consumer, relay_all, running, wait_until

pytestmark = pytest.mark.usefixtures("empty_outbox", "effects_table")

Sessions = async_sessionmaker[AsyncSession]


async def calls(redis: Redis, command: str) -> int:
    stats: dict[str, Any] = await redis.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


async def test_a_burst_run_waits_for_its_own_jobs_instead_of_polling(
    sessionmaker: Sessions, key_prefix: str
) -> None:
    kind = ImageJobs(lease=timedelta(seconds=5))
    with private_valkey() as server:
        redis = Redis.from_url(server.url)
        await create_task(sessionmaker, images=1)
        await relay_all(sessionmaker, redis, key_prefix)
        worker = consumer(
            redis=redis,
            sessionmaker=sessionmaker,
            kind=kind,
            handler=image_handler(sessionmaker, kind, delay=1.0),
            on_done=record_effects,
            prefix=key_prefix,
        )
        await worker.run(burst=True)
        reads = await calls(redis, "xreadgroup")
        await redis.aclose()
    assert reads < 30  # about one per block interval (100 ms), not thousands


async def test_a_saturated_consumer_leaves_no_task_behind_per_message(
    sessionmaker: Sessions, redis: Redis, key_prefix: str
) -> None:
    kind = ImageJobs(lease=timedelta(seconds=5))
    task = await create_task(sessionmaker, images=40)
    await relay_all(sessionmaker, redis, key_prefix)
    worker = consumer(
        redis=redis,
        sessionmaker=sessionmaker,
        kind=kind,
        handler=image_handler(sessionmaker, kind),
        on_done=record_effects,
        prefix=key_prefix,
        concurrency=1,
    )
    before = len(asyncio.all_tasks())
    async with running(consumers=[worker]):
        await wait_until(lambda: all_completed(sessionmaker, task.job_ids), within=30)
        during = len(asyncio.all_tasks()) - before
    assert during < 10  # the consumer and its lease renewer, not one per message


async def test_idle_consumer_removal_before_the_group_exists_is_a_no_op(
    redis: Redis, key_prefix: str
) -> None:
    """A worker's housekeeping may run before its consumer created the group."""
    key = f"{key_prefix}:{{image-jobs}}"
    await redis.xadd(key, {b"data": b"{}"})
    assert await remove_idle_consumers(redis, key, "no-such-group", keep="me") == []
