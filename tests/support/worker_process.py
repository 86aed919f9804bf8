"""A real worker process for tests that kill or signal one: the real `Consumer` under
`run_worker` (SIGTERM drains), with a handler that completes image jobs after a delay.

    python -m tests.support.worker_process --prefix P --database-url URL --redis-url URL \\
        --lease 4 --concurrency 4 --delay 1.5

Each option falls back to an environment variable (`DATABASE_URL`, `REDIS_URL`,
`REDIS_KEY_PREFIX`, `WORKER_LEASE_SECONDS`, `WORKER_CONCURRENCY`, `WORKER_HANDLER_DELAY`). The
handler records in Redis how many handlers run at once (`<prefix>:test:running`) and the most
there ever were (`<prefix>:test:max-running`), and its side effects in the test effects table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import timedelta

from lumi_common.db.engine import create_engine, create_sessionmaker
from lumi_common.db.tables import ImageJob
from lumi_common.jobs.lifecycle import Claim
from lumi_common.jobs.outcomes import RetryPolicy
from lumi_common.jobs.results import Done, Handler, Poll
from lumi_common.logging import configure_logging
from lumi_common.messages import ImageJobRequested
from lumi_common.pipeline.images import ImageJobs
from lumi_common.redis_client import RedisClient, create_redis
from lumi_common.settings import DatabaseSettings, LogSettings, RedisSettings
from lumi_common.streams.consumer import Consumer, ConsumerConfig
from lumi_common.streams.worker import run_worker
from tests.support.handlers import image_handler, record_effects

# INCR the running count and raise the recorded maximum to it, atomically
_ENTER = """
local running = redis.call('INCR', KEYS[1])
if running > tonumber(redis.call('GET', KEYS[2]) or '0') then
  redis.call('SET', KEYS[2], running)
end
return running
"""


def running_key(prefix: str) -> str:
    return f"{prefix}:test:running"


def max_running_key(prefix: str) -> str:
    return f"{prefix}:test:max-running"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m tests.support.worker_process")
    parser.add_argument("--prefix", default=env("REDIS_KEY_PREFIX", "lumi"))
    parser.add_argument("--database-url", default=env("DATABASE_URL"))
    parser.add_argument("--redis-url", default=env("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--lease", type=float, default=float(env("WORKER_LEASE_SECONDS", "4")))
    parser.add_argument("--concurrency", type=int, default=int(env("WORKER_CONCURRENCY", "4")))
    parser.add_argument("--delay", type=float, default=float(env("WORKER_HANDLER_DELAY", "1.5")))
    parser.add_argument("--grace", type=float, default=10.0, help="shutdown grace, seconds")
    parser.add_argument("--block-ms", type=int, default=200)
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("--database-url or DATABASE_URL is required")
    return args


def counting(
    redis: RedisClient, prefix: str, handler: Handler[ImageJob, ImageJobRequested, str]
) -> Handler[ImageJob, ImageJobRequested, str]:
    enter: Callable[..., Awaitable[object]] = redis.register_script(_ENTER)

    async def handle(message: ImageJobRequested, claim: Claim[ImageJob]) -> Done[str] | Poll:
        await enter(keys=[running_key(prefix), max_running_key(prefix)])
        try:
            return await handler(message, claim)
        finally:
            await redis.decr(running_key(prefix))

    return handle


async def main(args: argparse.Namespace) -> None:
    database = DatabaseSettings(database_url=args.database_url, db_pool_size=args.concurrency + 4)
    engine = create_engine(database)
    sessionmaker = create_sessionmaker(engine)
    redis = create_redis(RedisSettings(redis_url=args.redis_url, redis_key_prefix=args.prefix))
    kind = ImageJobs(lease=timedelta(seconds=args.lease))
    handler = image_handler(sessionmaker, kind, delay=args.delay)
    config = ConsumerConfig(
        key_prefix=args.prefix,
        stream=kind.stream,
        concurrency=args.concurrency,
        lease_seconds=args.lease,
        retry=RetryPolicy(max_attempts=5, base_seconds=0.1, max_seconds=1.0),
        max_deliveries=10,
        block_ms=args.block_ms,
        shutdown_grace_seconds=args.grace,
    )
    worker = Consumer(
        config=config,
        redis=redis,
        sessionmaker=sessionmaker,
        kind=kind,
        handler=counting(redis, args.prefix, handler),
        on_done=record_effects,
    )
    try:
        await run_worker(worker, reconciler=None, reconcile_every_s=60)
    finally:
        await redis.aclose()
        await engine.dispose()


if __name__ == "__main__":
    configure_logging(LogSettings(log_format="json"), service="test-worker")
    asyncio.run(main(parse_args()))
