"""Redis stopped, restarted empty or flushed under a running relay, consumer and reconciler: every
committed job still completes once. Each test runs its own private Valkey server."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import ImageJob, OutboxEvent
from lumi_common.jobs.reconciler import Reconciler
from lumi_common.messages import ImageJobRequested
from lumi_common.outbox.relay import Relay, RelayConfig
from lumi_common.outbox.signal import OutboxSignal
from lumi_common.pipeline.images import ImageJobs
from lumi_common.redis_client import RedisClient, create_redis
from lumi_common.settings import RedisSettings
from lumi_common.states import JobStatus
from lumi_common.streams.consumer import Consumer
from lumi_common.streams.names import group_name, stream_key
from tests.support.backends import PrivateValkey, private_valkey
from tests.support.factories import CreatedTask, create_task
from tests.support.handlers import effect_counts, image_handler, record_effects
from tests.support.pipeline import (
    all_completed,
    consumer,
    job_states,
    running,
    wait_until,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.usefixtures("empty_outbox", "no_stuck_jobs", "effects_table"),
]

Sessions = async_sessionmaker[AsyncSession]


@asynccontextmanager
async def private_redis() -> AsyncIterator[tuple[PrivateValkey, RedisClient]]:
    """A private server, and a client configured as the services configure theirs."""
    with private_valkey() as server:
        async with create_redis(RedisSettings(redis_url=server.url)) as redis:
            yield server, redis


def fast_relay(
    sessionmaker: Sessions, redis: RedisClient, prefix: str, signal: OutboxSignal
) -> Relay:
    config = RelayConfig(key_prefix=prefix, poll_seconds=0.1, max_backoff_seconds=1.0)
    return Relay(sessionmaker, redis, config, signal)


async def unpublished(sessionmaker: Sessions, job_ids: list[str]) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.key.in_(job_ids), OutboxEvent.published_at.is_(None))
        )
    return int(count or 0)


async def outbox_rows(sessionmaker: Sessions, job_ids: list[str]) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.key.in_(job_ids))
        )
    return int(count or 0)


def once(job_ids: list[str]) -> Counter[str]:
    return Counter(dict.fromkeys(job_ids, 1))


def jobs_of(tasks: list[CreatedTask]) -> list[str]:
    return [job_id for task in tasks for job_id in task.job_ids]


async def test_redis_stopped_then_started_the_relay_catches_up(
    sessionmaker: Sessions, key_prefix: str
) -> None:
    kind = ImageJobs(lease=timedelta(seconds=2))
    signal = OutboxSignal()

    async def new_task() -> CreatedTask:
        task = await create_task(sessionmaker)
        signal.wake()
        return task

    async with private_redis() as (server, redis):
        relay = fast_relay(sessionmaker, redis, key_prefix, signal)
        worker = consumer(
            redis=redis,
            sessionmaker=sessionmaker,
            kind=kind,
            handler=image_handler(sessionmaker, kind),
            on_done=record_effects,
            prefix=key_prefix,
            lease_seconds=2.0,
        )
        async with running(relays=[relay], consumers=[worker]) as tasks:
            before = await new_task()
            await wait_until(lambda: all_completed(sessionmaker, before.job_ids), within=10)

            server.stop()  # persistence is off: it comes back empty, as after a crash
            during = jobs_of([await new_task() for _ in range(3)])
            await asyncio.sleep(1.5)
            assert not any(task.done() for task in tasks)  # backing off, not crashed
            assert await unpublished(sessionmaker, during) == len(during)
            assert {status for status, _ in (await job_states(sessionmaker, during)).values()} == {
                JobStatus.QUEUED
            }

            server.start()
            took = await wait_until(lambda: all_completed(sessionmaker, during), within=20)
            after = await new_task()
            await wait_until(lambda: all_completed(sessionmaker, after.job_ids), within=10)

    print(
        f"\nredis restart: {len(during)} jobs created while it was down completed "
        f"{took:.2f} s after it came back"
    )
    every = [*before.job_ids, *during, *after.job_ids]
    assert await unpublished(sessionmaker, every) == 0
    assert await effect_counts(sessionmaker, every) == once(every)
    assert set((await job_states(sessionmaker, every)).values()) == {(JobStatus.COMPLETED, 1)}


async def test_redis_loses_published_messages_the_reconciler_re_emits_them(
    sessionmaker: Sessions, key_prefix: str
) -> None:
    kind = ImageJobs(lease=timedelta(seconds=2))
    signal = OutboxSignal()
    async with private_redis() as (_server, redis):
        relay = fast_relay(sessionmaker, redis, key_prefix, signal)
        worker = consumer(
            redis=redis,
            sessionmaker=sessionmaker,
            kind=kind,
            handler=image_handler(sessionmaker, kind, delay=0.5),
            on_done=record_effects,
            prefix=key_prefix,
            concurrency=1,
            lease_seconds=2.0,
        )
        reconciler = Reconciler(sessionmaker, kind, after=timedelta(seconds=1))
        key = stream_key(key_prefix, kind.stream)
        async with running(relays=[relay], consumers=[worker], reconcilers=[reconciler]):
            task = await create_task(sessionmaker, images=6)
            signal.wake()

            async def published_and_started() -> bool:
                states = await job_states(sessionmaker, task.job_ids)
                started = [s for s, _ in states.values() if s is not JobStatus.QUEUED]
                return await redis.xlen(key) == len(task.job_ids) and len(started) == 1

            await wait_until(published_and_started, within=10)
            await redis.flushall()  # five published messages never reach a consumer
            took = await wait_until(lambda: all_completed(sessionmaker, task.job_ids), within=20)
            groups = await redis.xinfo_groups(key)

    print(f"\nredis data loss: every job completed {took:.2f} s after FLUSHALL")
    assert [g["name"].decode() for g in groups] == [group_name(kind.stream)]  # recreated
    assert await effect_counts(sessionmaker, task.job_ids) == once(task.job_ids)
    assert set((await job_states(sessionmaker, task.job_ids)).values()) == {
        (JobStatus.COMPLETED, 1)
    }


async def test_a_healthy_long_job_is_not_run_twice_across_a_redis_outage(
    sessionmaker: Sessions, key_prefix: str
) -> None:
    """The job's lease in the database is renewed even while Redis cannot renew its message, so
    the reconciler does not take a healthy job for a stuck one and hand it to another slot."""
    lease = 1.0
    kind = ImageJobs(lease=timedelta(seconds=lease))
    signal = OutboxSignal()
    runs: Counter[str] = Counter()
    async with private_redis() as (server, redis):
        relay = fast_relay(sessionmaker, redis, key_prefix, signal)
        worker: Consumer[ImageJob, ImageJobRequested, str] = consumer(
            redis=redis,
            sessionmaker=sessionmaker,
            kind=kind,
            handler=image_handler(sessionmaker, kind, delay=6 * lease, runs=runs),
            on_done=record_effects,
            prefix=key_prefix,
            concurrency=2,
            lease_seconds=lease,
        )
        reconciler = Reconciler(sessionmaker, kind, after=timedelta(seconds=lease))
        async with running(relays=[relay], consumers=[worker], reconcilers=[reconciler]):
            task = await create_task(sessionmaker, images=1)
            signal.wake()
            await wait_until(lambda: _running(sessionmaker, task.job_ids), within=10)
            server.stop()
            await asyncio.sleep(3 * lease)  # the reconciler runs; the database lease must hold
            server.start()
            await wait_until(lambda: all_completed(sessionmaker, task.job_ids), within=20)

    assert runs == once(task.job_ids)
    assert await job_states(sessionmaker, task.job_ids) == {
        task.job_ids[0]: (JobStatus.COMPLETED, 1)
    }
    assert await outbox_rows(sessionmaker, task.job_ids) == 1  # the reconciler left it alone


async def _running(sessionmaker: Sessions, job_ids: list[str]) -> bool:
    states = await job_states(sessionmaker, job_ids)
    return {status for status, _ in states.values()} == {JobStatus.RUNNING}
