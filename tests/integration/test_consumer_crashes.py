"""A consumer that dies at any step of a message leaves it pending; the next delivery (after the
lease) records the outcome exactly once. Crashes are injected at seams of the real runtime."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import ImageJob
from lumi_common.jobs.lifecycle import Claim
from lumi_common.messages import ImageJobRequested
from lumi_common.pipeline.images import ImageJobs
from lumi_common.states import JobStatus
from lumi_common.streams.consumer import Consumer
from lumi_common.streams.names import group_name, stream_key
from tests.support.factories import create_task
from tests.support.handlers import effect_counts, image_handler, record_effects
from tests.support.pipeline import consumer, job_states, relay_all

pytestmark = pytest.mark.usefixtures("empty_outbox", "effects_table")

Sessions = async_sessionmaker[AsyncSession]
LEASE_S = 1.0
# past the lease in Redis and in the database, which starts a little later (at the claim)
AFTER_LEASE_S = LEASE_S * 1.5


def image_jobs() -> ImageJobs:
    return ImageJobs(lease=timedelta(seconds=LEASE_S))


def once(job_ids: list[str]) -> Counter[str]:
    return Counter(dict.fromkeys(job_ids, 1))


async def pending_count(redis: Redis, prefix: str, kind: ImageJobs) -> int:
    summary = await redis.xpending(stream_key(prefix, kind.stream), group_name(kind.stream))
    return int(summary["pending"])


async def test_dies_after_reading_before_the_handler(
    sessionmaker: Sessions, redis: Redis, key_prefix: str
) -> None:
    kind = image_jobs()
    task = await create_task(sessionmaker, images=1)
    await relay_all(sessionmaker, redis, key_prefix)
    key, group = stream_key(key_prefix, kind.stream), group_name(kind.stream)
    await redis.xgroup_create(key, group, id="0", mkstream=True)
    # a consumer that read the message and died: it never claims, runs or acknowledges it
    read: Any = await redis.xreadgroup(group, "dead-consumer", {key: ">"}, count=1)
    assert len(read[0][1]) == 1
    runs: Counter[str] = Counter()
    handler = image_handler(sessionmaker, kind, runs=runs)
    survivor = consumer(
        redis=redis,
        sessionmaker=sessionmaker,
        kind=kind,
        handler=handler,
        on_done=record_effects,
        prefix=key_prefix,
        lease_seconds=LEASE_S,
    )

    await survivor.run(burst=True)  # the lease has not lapsed: nothing to take over yet
    assert await job_states(sessionmaker, task.job_ids) == {task.job_ids[0]: (JobStatus.QUEUED, 0)}

    await asyncio.sleep(AFTER_LEASE_S)
    await survivor.run(burst=True)
    assert await job_states(sessionmaker, task.job_ids) == {
        task.job_ids[0]: (JobStatus.COMPLETED, 1)
    }
    assert runs == Counter({task.job_ids[0]: 1})
    assert await effect_counts(sessionmaker, task.job_ids) == Counter({task.job_ids[0]: 1})
    assert await pending_count(redis, key_prefix, kind) == 0


async def test_dies_inside_the_handler(
    sessionmaker: Sessions, redis: Redis, key_prefix: str
) -> None:
    kind = image_jobs()
    task = await create_task(sessionmaker, images=2)
    crashed: list[str] = []

    async def die_once(message: ImageJobRequested, claim: Claim[ImageJob]) -> None:
        if message.job_id == task.job_ids[0] and not crashed:
            crashed.append(message.job_id)
            raise asyncio.CancelledError  # as when the process is killed mid-handler

    runs: Counter[str] = Counter()
    handler = image_handler(sessionmaker, kind, runs=runs, before_complete=die_once)

    def worker() -> Consumer[ImageJob, ImageJobRequested, str]:
        return consumer(
            redis=redis,
            sessionmaker=sessionmaker,
            kind=kind,
            handler=handler,
            on_done=record_effects,
            prefix=key_prefix,
            lease_seconds=LEASE_S,
        )

    await relay_all(sessionmaker, redis, key_prefix)
    await worker().run(burst=True)
    states = await job_states(sessionmaker, task.job_ids)
    assert states == {
        task.job_ids[0]: (JobStatus.RUNNING, 1),  # its lease holds it until it lapses
        task.job_ids[1]: (JobStatus.COMPLETED, 1),
    }
    assert await pending_count(redis, key_prefix, kind) == 1

    await asyncio.sleep(AFTER_LEASE_S)
    await worker().run(burst=True)
    assert await job_states(sessionmaker, task.job_ids) == {
        task.job_ids[0]: (JobStatus.COMPLETED, 2),
        task.job_ids[1]: (JobStatus.COMPLETED, 1),
    }
    assert runs == Counter({task.job_ids[0]: 2, task.job_ids[1]: 1})
    assert await effect_counts(sessionmaker, task.job_ids) == once(task.job_ids)
    assert await pending_count(redis, key_prefix, kind) == 0


class DiesBeforeAck(Consumer[ImageJob, ImageJobRequested, str]):
    """Crash injection at the seam between the recorded outcome and XACK."""

    dropped: list[str]

    async def _ack(self, message_id: str) -> None:
        self.dropped.append(message_id)


async def test_dies_after_the_commit_before_the_ack(
    sessionmaker: Sessions, redis: Redis, key_prefix: str
) -> None:
    kind = image_jobs()
    task = await create_task(sessionmaker, images=2)
    runs: Counter[str] = Counter()
    handler = image_handler(sessionmaker, kind, runs=runs)
    healthy = consumer(
        redis=redis,
        sessionmaker=sessionmaker,
        kind=kind,
        handler=handler,
        on_done=record_effects,
        prefix=key_prefix,
        lease_seconds=LEASE_S,
    )
    dying = DiesBeforeAck(
        config=healthy.config,
        redis=redis,
        sessionmaker=sessionmaker,
        kind=kind,
        handler=handler,
        on_done=record_effects,
    )
    dying.dropped = []

    await relay_all(sessionmaker, redis, key_prefix)
    await dying.run(burst=True)
    assert len(dying.dropped) == 2
    assert set((await job_states(sessionmaker, task.job_ids)).values()) == {
        (JobStatus.COMPLETED, 1)
    }
    assert await pending_count(redis, key_prefix, kind) == 2

    await asyncio.sleep(AFTER_LEASE_S)
    await healthy.run(burst=True)  # the redeliveries find the jobs COMPLETED and only ack
    assert await pending_count(redis, key_prefix, kind) == 0
    assert runs == once(task.job_ids)
    assert await effect_counts(sessionmaker, task.job_ids) == once(task.job_ids)
    assert set((await job_states(sessionmaker, task.job_ids)).values()) == {
        (JobStatus.COMPLETED, 1)
    }
