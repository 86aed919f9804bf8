"""Pipeline benchmark: image jobs/s through the whole image stage, and one task's latency.

    python -m bench.pipeline [--tasks N]

Image stage = claim → generate → store → complete → request update, by real `lumi-image-worker`
processes (1 and 2), once with the offline generator and once with an instant provider (a fixed
tiny PNG: orchestration overhead alone). Throughput is measured from the first job's start to
the last job's completion, as the database recorded them, so process start-up is not counted.
Latency (create → IMAGE_COMPLETED, select → COMPLETED) goes through the real API and workers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select
from tests.support.factories import create_task
from tests.support.pipeline import relay_all

from bench._setup import BenchEnv, bench_env
from lumi_common.db.engine import create_engine, create_sessionmaker
from lumi_common.db.tables import ImageJob
from lumi_common.redis_client import create_redis
from lumi_common.settings import DatabaseSettings, RedisSettings
from lumi_common.states import JobStatus

BIN = Path(sys.executable).parent
WORKER_CONCURRENCY = "8"


async def image_stage(env: BenchEnv, *, tasks: int, processes: int, provider: str) -> float:
    """Image jobs per second for `tasks` tasks (4 jobs each) through `processes` workers."""
    engine = create_engine(DatabaseSettings(database_url=env.database_url))
    sessionmaker = create_sessionmaker(engine)
    redis = create_redis(RedisSettings(redis_url=env.redis_url))
    prefix = f"{env.key_prefix}-{provider}-{processes}"
    try:
        job_ids: list[str] = []
        for _ in range(tasks):
            job_ids += (await create_task(sessionmaker)).job_ids
        await relay_all(sessionmaker, redis, prefix)
        worker_env = env.process_env(
            REDIS_KEY_PREFIX=prefix,
            IMAGE_PROVIDER=provider,
            IMAGE_QUEUE_CONCURRENCY=WORKER_CONCURRENCY,
        )
        workers = [
            subprocess.Popen(  # noqa: ASYNC220 - the benchmark waits for them below
                [str(BIN / "lumi-image-worker"), "--burst"],
                env=worker_env,
                stdout=subprocess.DEVNULL,
            )
            for _ in range(processes)
        ]
        for worker in workers:
            await asyncio.to_thread(worker.wait)
        async with sessionmaker() as session:
            row = (
                await session.execute(
                    select(
                        func.count(), func.min(ImageJob.started_at), func.max(ImageJob.completed_at)
                    ).where(ImageJob.id.in_(job_ids), ImageJob.status == JobStatus.COMPLETED)
                )
            ).one()
        completed, first, last = row
        if completed != len(job_ids) or first is None or last is None:
            raise SystemExit(f"only {completed} of {len(job_ids)} image jobs completed")
        return completed / max((last - first).total_seconds(), 1e-3)
    finally:
        await redis.aclose()
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100, help="tasks per run (4 jobs each)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        async with bench_env(Path(tmp)) as env:
            print(
                f"backend: {env.backend} + Redis; cpus: {os.cpu_count()}; "
                f"worker concurrency {WORKER_CONCURRENCY}"
            )
            print("image stage (claim → generate → store → complete → request update):")
            for provider in ("instant", "offline"):
                tasks = args.tasks if provider == "instant" else max(5, args.tasks // 4)
                for processes in (1, 2):
                    rate = await image_stage(
                        env, tasks=tasks, processes=processes, provider=provider
                    )
                    label = f"{provider} provider, {processes} process(es)"
                    print(f"  {label:32} {rate:8.1f} image jobs/s ({tasks * 4} jobs)")


if __name__ == "__main__":
    started = time.perf_counter()
    asyncio.run(main())
    print(f"done in {time.perf_counter() - started:.1f}s")
