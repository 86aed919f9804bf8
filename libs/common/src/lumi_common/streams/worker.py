"""A worker process: one consumer plus its reconciler, stream housekeeping and health probe,
stopped by SIGTERM/SIGINT (in-flight work drains within the grace period; exit code 0)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import structlog
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.engine import create_engine, create_sessionmaker
from lumi_common.db.tables import JobColumns
from lumi_common.jobs.completions import AfterCommit, Recorder
from lumi_common.jobs.kinds import JobKind
from lumi_common.jobs.outcomes import RetryPolicy
from lumi_common.jobs.reconciler import Reconciler
from lumi_common.jobs.results import Handler
from lumi_common.messages import JobMessage
from lumi_common.metrics.exposition import Exposition
from lumi_common.metrics.jobs import NO_PROVIDER
from lumi_common.metrics.streams import StreamStats
from lumi_common.redis_client import open_redis
from lumi_common.settings import WorkerSettings
from lumi_common.streams.consumer import Consumer, ConsumerConfig
from lumi_common.streams.health import serve_health
from lumi_common.streams.housekeeping import housekeep
from lumi_common.task_changes import TaskChanges

log = structlog.get_logger(__name__)

HOUSEKEEPING_EVERY_S = 60
REDIS_TIMEOUT_MARGIN_S = 5.0
J = TypeVar("J", bound=JobColumns)
M = TypeVar("M", bound=JobMessage)
R = TypeVar("R")


def consumer_config(
    settings: WorkerSettings,
    *,
    stream: str,
    concurrency: int,
    jobs_per_minute: int,
    provider: str = NO_PROVIDER,
) -> ConsumerConfig:
    return ConsumerConfig(
        key_prefix=settings.redis_key_prefix,
        stream=stream,
        concurrency=concurrency,
        lease_seconds=settings.job_lease_seconds,
        retry=RetryPolicy(
            max_attempts=settings.job_max_attempts,
            base_seconds=settings.job_retry_base_seconds,
            max_seconds=settings.job_retry_max_seconds,
        ),
        max_deliveries=settings.job_max_deliveries,
        jobs_per_minute=jobs_per_minute,
        shutdown_grace_seconds=settings.shutdown_grace_seconds,
        provider=provider,
    )


def stream_redis_timeout(config: ConsumerConfig) -> float:
    """Socket timeout for the consumer's client: longer than a blocking read may take."""
    return config.block_ms / 1000 + REDIS_TIMEOUT_MARGIN_S


async def serve_jobs(
    settings: WorkerSettings,
    *,
    kind: JobKind[J, M],
    config: ConsumerConfig,
    handler: Callable[[async_sessionmaker[AsyncSession]], Handler[J, M, R]],
    on_done: Recorder[J, R] | None = None,
    after_done: AfterCommit[J, R] | None = None,
    burst: bool = False,
) -> None:
    """A worker process's whole life: connections, consumer, reconciler, then clean-up.
    `handler` builds the job handler once the database is open; `on_done` and `after_done` are
    the consumer's (what a `Done` result means beyond the job row)."""
    engine = create_engine(settings)
    redis = await open_redis(settings, socket_timeout=stream_redis_timeout(config))
    sessionmaker = create_sessionmaker(engine)
    announcer = TaskChanges(redis, key_prefix=settings.redis_key_prefix)
    announcer.attach(sessionmaker)  # the API's event streams learn of each change at once
    consumer = Consumer(
        config=config,
        redis=redis,
        sessionmaker=sessionmaker,
        kind=kind,
        handler=handler(sessionmaker),
        on_done=on_done,
        after_done=after_done,
    )
    reconciler = Reconciler(
        sessionmaker, kind, after=timedelta(seconds=settings.reconcile_after_seconds)
    )
    streams = StreamStats(
        redis,
        key_prefix=settings.redis_key_prefix,
        streams=[config.stream],
        max_age=settings.metrics_cache_seconds,
    )
    try:
        await run_worker(
            consumer,
            reconciler=reconciler,
            reconcile_every_s=min(60.0, max(1.0, settings.reconcile_after_seconds / 4)),
            health_port=settings.health_port,
            metrics=Exposition([streams], engine=engine) if settings.metrics_enabled else None,
            burst=burst,
        )
    finally:
        await announcer.aclose()
        await redis.aclose()
        await engine.dispose()


async def run_worker(
    consumer: Consumer[Any, Any, Any],
    *,
    reconciler: Reconciler[Any] | None,
    reconcile_every_s: float,
    health_port: int = 0,
    metrics: Exposition | None = None,
    burst: bool = False,
) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, consumer.stop)
    stop = consumer.stop_event
    background = [asyncio.create_task(_housekeeping(consumer))]
    if reconciler is not None and not burst:
        background.append(asyncio.create_task(reconciler.run(stop, every=reconcile_every_s)))
    render = metrics.render if metrics is not None else None
    health = (
        await serve_health(health_port, consumer.healthy, metrics=render) if health_port else None
    )
    try:
        await consumer.run(burst=burst)
    finally:
        stop.set()
        for task in background:
            task.cancel()
        for task in background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if health is not None:
            health.close()
            await health.wait_closed()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _housekeeping(consumer: Consumer[Any, Any, Any]) -> None:
    while not consumer.stop_event.is_set():
        try:
            await housekeep(
                consumer.redis,
                consumer.key,
                consumer.group,
                me=consumer.config.name,
                every_s=HOUSEKEEPING_EVERY_S,
            )
        except RedisError as exc:
            log.warning("stream.housekeeping.failed", error=repr(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(consumer.stop_event.wait(), HOUSEKEEPING_EVERY_S)
