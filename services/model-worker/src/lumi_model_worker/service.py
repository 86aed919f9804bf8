"""The model worker process: connections, then its consumer until SIGTERM."""

from __future__ import annotations

import asyncio
import signal

import structlog

from lumi_common.db.engine import create_engine
from lumi_common.redis_client import create_redis
from lumi_model_worker.settings import ModelWorkerSettings

log = structlog.get_logger(__name__)


async def run(settings: ModelWorkerSettings, *, burst: bool = False) -> None:
    engine = create_engine(settings)
    redis = create_redis(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await redis.ping()
        log.info("worker.started", concurrency=settings.model_queue_concurrency, burst=burst)
        if not burst:
            await stop.wait()
    finally:
        await redis.aclose()
        await engine.dispose()
        log.info("worker.stopped")
