"""Drive the backbone in-process: relay the outbox, run a consumer in burst mode, or run relays,
consumers and reconcilers in the background while a test breaks things."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import GenerationRequest, ImageJob, JobColumns, OutboxEvent
from lumi_common.errors import PermanentError
from lumi_common.jobs.completions import AfterCommit, Recorder
from lumi_common.jobs.kinds import JobKind
from lumi_common.jobs.lifecycle import Claim
from lumi_common.jobs.outcomes import RetryPolicy
from lumi_common.jobs.reconciler import Reconciler
from lumi_common.jobs.results import Done, Handler
from lumi_common.messages import ImageJobRequested, JobMessage
from lumi_common.outbox.relay import Relay, RelayConfig
from lumi_common.pipeline.images import ImageJobs, complete_images
from lumi_common.redis_client import RedisClient
from lumi_common.states import JobStatus
from lumi_common.streams.consumer import Consumer, ConsumerConfig

J = TypeVar("J", bound=JobColumns)
M = TypeVar("M", bound=JobMessage)
R = TypeVar("R")


async def relay_all(
    sessionmaker: async_sessionmaker[AsyncSession], redis: RedisClient, prefix: str
) -> int:
    relay = Relay(sessionmaker, redis, RelayConfig(key_prefix=prefix))
    total = 0
    while published := await relay.publish_due():
        total += published
    return total


def consumer(
    *,
    redis: RedisClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    kind: JobKind[J, M],
    handler: Handler[J, M, R],
    prefix: str,
    on_done: Recorder[J, R] | None = None,
    after_done: AfterCommit[J, R] | None = None,
    **overrides: Any,
) -> Consumer[J, M, R]:
    values: dict[str, Any] = {
        "key_prefix": prefix,
        "stream": kind.stream,
        "concurrency": 4,
        "lease_seconds": 5.0,
        "retry": RetryPolicy(max_attempts=3, base_seconds=0.01, max_seconds=0.05),
        "max_deliveries": 5,
        "block_ms": 100,
        "shutdown_grace_seconds": 5.0,
    }
    values.update(overrides)
    return Consumer(
        config=ConsumerConfig(**values),
        redis=redis,
        sessionmaker=sessionmaker,
        kind=kind,
        handler=handler,
        on_done=on_done,
        after_done=after_done,
    )


LEASE = timedelta(seconds=5)


async def stream_entries(redis: RedisClient, key: str) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """Every entry of a stream, typed (redis-py's own annotations are too loose to index)."""
    entries: Any = await redis.xrange(key)
    return [(entry_id, fields) for entry_id, fields in entries]


async def drive(
    sessionmaker: async_sessionmaker[AsyncSession],
    redis: RedisClient,
    prefix: str,
    run: Consumer[Any, Any, Any],
    rounds: int = 20,
) -> None:
    """Relay and consume until nothing is left (delayed retries need a few rounds)."""
    for _ in range(rounds):
        published = await relay_all(sessionmaker, redis, prefix)
        await run.run(burst=True)
        if not published:
            if not await unpublished(sessionmaker):
                return
            await asyncio.sleep(0.05)


async def unpublished(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Outbox events not yet relayed (delayed retries among them)."""
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.published_at.is_(None))
        )
    return count or 0


async def run_images(
    sessionmaker: async_sessionmaker[AsyncSession],
    redis: RedisClient,
    prefix: str,
    *,
    fail: bool,
    runs: Counter[str],
    concurrency: int = 4,
) -> None:
    """Run every queued image job to its end: each fails for good (`fail`, a dead letter
    each), or completes."""
    kind = ImageJobs(lease=LEASE)

    async def handle(message: ImageJobRequested, claim: Claim[ImageJob]) -> Done[str]:
        runs[message.job_id] += 1
        if fail:
            raise PermanentError("the image service refused the prompt")
        return Done(f"images/{claim.job.request_id}/x.png")

    run = consumer(
        redis=redis,
        sessionmaker=sessionmaker,
        kind=kind,
        prefix=prefix,
        handler=handle,
        on_done=complete_images,
        concurrency=concurrency,
    )
    await drive(sessionmaker, redis, prefix, run)


async def job_states(
    sessionmaker: async_sessionmaker[AsyncSession], job_ids: list[str]
) -> dict[str, tuple[JobStatus, int]]:
    """Each job's status and attempt, read afresh."""
    async with sessionmaker() as session:
        rows = await session.execute(
            select(ImageJob.id, ImageJob.status, ImageJob.attempt).where(ImageJob.id.in_(job_ids))
        )
        return {row.id: (row.status, row.attempt) for row in rows}


async def request_of(
    sessionmaker: async_sessionmaker[AsyncSession], request_id: str
) -> GenerationRequest:
    """The request row, read afresh."""
    async with sessionmaker() as session:
        request = await session.get(GenerationRequest, request_id)
        assert request is not None
        return request


async def all_completed(sessionmaker: async_sessionmaker[AsyncSession], job_ids: list[str]) -> bool:
    states = await job_states(sessionmaker, job_ids)
    return len(states) == len(job_ids) and all(
        status is JobStatus.COMPLETED for status, _ in states.values()
    )


async def wait_until(
    check: Callable[[], Awaitable[bool]], *, within: float, interval: float = 0.05
) -> float:
    """Poll `check` until it holds and return the seconds that took; fail after `within` seconds."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not await check():
        if loop.time() - started > within:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(interval)
    return loop.time() - started


@asynccontextmanager
async def running(
    *,
    relays: Sequence[Relay] = (),
    consumers: Sequence[Consumer[Any, Any, Any]] = (),
    reconcilers: Sequence[Reconciler[Any]] = (),
    reconcile_every: float = 0.3,
) -> AsyncIterator[list[asyncio.Task[None]]]:
    """Run relays, consumers and reconcilers as background tasks; stop them all on exit."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(relay.run(stop)) for relay in relays]
    tasks += [asyncio.create_task(consumer.run()) for consumer in consumers]
    tasks += [
        asyncio.create_task(reconciler.run(stop, every=reconcile_every))
        for reconciler in reconcilers
    ]
    try:
        yield tasks
    finally:
        stop.set()
        for worker in consumers:
            worker.stop()
        async with asyncio.timeout(30):
            await asyncio.gather(*tasks)
