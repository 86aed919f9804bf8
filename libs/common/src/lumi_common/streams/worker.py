"""A worker process: one consumer plus its reconciler, stream housekeeping and health probe,
stopped by SIGTERM/SIGINT (in-flight work drains within the grace period; exit code 0)."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import structlog
from redis.exceptions import RedisError

from lumi_common.jobs.reconciler import Reconciler
from lumi_common.streams.consumer import Consumer
from lumi_common.streams.health import serve_health
from lumi_common.streams.housekeeping import housekeep

log = structlog.get_logger(__name__)

HOUSEKEEPING_EVERY_S = 60


async def run_worker(
    consumer: Consumer,
    *,
    reconciler: Reconciler | None,
    reconcile_every_s: float,
    health_port: int = 0,
    burst: bool = False,
) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, consumer.stop)
    stop = consumer.stop_event
    background = [asyncio.create_task(_housekeeping(consumer))]
    if reconciler is not None and not burst:
        background.append(asyncio.create_task(reconciler.run(stop, every=reconcile_every_s)))
    health = await serve_health(health_port, consumer.healthy) if health_port else None
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


async def _housekeeping(consumer: Consumer) -> None:
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
