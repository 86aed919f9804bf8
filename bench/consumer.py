"""Consumer runtime: no-op messages per second per process, at several concurrencies, and with
two processes sharing one stream.

    .venv/bin/python -m bench.consumer [--messages 5000] [--concurrency 1 16 64] [--kind bare image]

A no-op message takes the real runtime path with a trivial handler: read (XREADGROUP), claim the
job row (compare-and-set), the handler completes the row in its own transaction, XACK. Kind
`image` also does what the image pipeline does at the claim (marks the image and its request as
started); kind `bare` skips that, which leaves the runtime's own cost. The jobs and their
messages are written up front; each figure is a burst run from the first read until the stream
is drained.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench._setup import BenchEnv, bench_env
from lumi_common.db.engine import create_sessionmaker
from lumi_common.db.tables import GeneratedImage, GenerationRequest, ImageJob, User
from lumi_common.ids import new_id
from lumi_common.jobs.lifecycle import Claim
from lumi_common.jobs.outcomes import RetryPolicy
from lumi_common.jobs.results import Done
from lumi_common.logging import configure_logging
from lumi_common.messages import ImageJobRequested, encode
from lumi_common.pipeline.images import ImageJobs
from lumi_common.redis_client import RedisClient
from lumi_common.settings import LogSettings
from lumi_common.states import JobStatus
from lumi_common.streams.consumer import Consumer, ConsumerConfig
from lumi_common.streams.names import IMAGE_JOBS, stream_key
from lumi_common.time import utcnow

Sessions = async_sessionmaker[AsyncSession]
LEASE = timedelta(seconds=30)


class BareImageJobs(ImageJobs):
    """Image jobs without the pipeline's bookkeeping at the claim (marking the image and its
    request as started): what the runtime itself costs."""

    async def on_claimed(self, session: AsyncSession, jobs: Sequence[ImageJob]) -> None:
        return None


KINDS: dict[str, ImageJobs] = {"bare": BareImageJobs(lease=LEASE), "image": ImageJobs(lease=LEASE)}
CHUNK = 1000


async def create_jobs(sessionmaker: Sessions, count: int) -> list[tuple[str, str]]:
    """`count` queued image jobs (four per request): (job id, request id) pairs."""
    now = utcnow()
    user = new_id()
    requests = [new_id() for _ in range((count + 3) // 4)]
    images = [(new_id(), requests[i // 4], i % 4) for i in range(count)]
    jobs = [(new_id(), image, request) for image, request, _ in images]
    async with sessionmaker.begin() as session:
        await session.execute(
            insert(User), [{"id": user, "email": f"{user}@bench.invalid", "user_name": user}]
        )
        for table, rows in (
            (
                GenerationRequest,
                [{"id": r, "user_id": user, "original_prompt": "x"} for r in requests],
            ),
            (
                GeneratedImage,
                [
                    {"id": i, "request_id": r, "image_index": n, "image_prompt": "x"}
                    for i, r, n in images
                ],
            ),
            (
                ImageJob,
                [{"id": j, "image_id": i, "request_id": r, "created_at": now} for j, i, r in jobs],
            ),
        ):
            for first in range(0, len(rows), CHUNK):
                await session.execute(insert(table), rows[first : first + CHUNK])
    return [(job, request) for job, _, request in jobs]


async def publish(redis: RedisClient, prefix: str, jobs: list[tuple[str, str]]) -> None:
    key = stream_key(prefix, IMAGE_JOBS)
    for first in range(0, len(jobs), CHUNK):
        async with redis.pipeline(transaction=False) as pipe:
            for job, request in jobs[first : first + CHUNK]:
                data = encode(ImageJobRequested(job_id=job, request_id=request))
                pipe.xadd(key, {b"data": data, b"event": new_id()})
            await pipe.execute()


def consumer(
    sessionmaker: Sessions,
    redis: RedisClient,
    prefix: str,
    *,
    kind: ImageJobs,
    concurrency: int,
    done: list[int],
) -> Consumer[ImageJob, ImageJobRequested, None]:
    async def complete(message: ImageJobRequested, claim: Claim[ImageJob]) -> Done[None]:
        return Done()

    async def count(completed: Sequence[tuple[ImageJob, None]]) -> None:
        done[0] += len(completed)

    config = ConsumerConfig(
        key_prefix=prefix,
        stream=IMAGE_JOBS,
        concurrency=concurrency,
        lease_seconds=30,
        retry=RetryPolicy(max_attempts=3),
        max_deliveries=10,
        block_ms=100,
    )
    return Consumer(
        config=config,
        redis=redis,
        sessionmaker=sessionmaker,
        kind=kind,
        handler=complete,
        after_done=count,
    )


async def completed(sessionmaker: Sessions, jobs: list[tuple[str, str]]) -> int:
    ids = [job for job, _ in jobs]
    total = 0
    async with sessionmaker() as session:
        for first in range(0, len(ids), CHUNK):
            total += int(
                await session.scalar(
                    select(func.count())
                    .select_from(ImageJob)
                    .where(
                        ImageJob.id.in_(ids[first : first + CHUNK]),
                        ImageJob.status == JobStatus.COMPLETED,
                    )
                )
                or 0
            )
    return total


def pool_for(concurrency: int) -> int:
    return min(concurrency + 4, 40)


async def one_process(env: BenchEnv, *, kind: str, concurrency: int, messages: int) -> float:
    engine = env.engine(pool_size=pool_for(concurrency))
    sessionmaker = create_sessionmaker(engine)
    prefix = f"{env.key_prefix}-{kind}-c{concurrency}"
    jobs = await create_jobs(sessionmaker, messages)
    async with env.redis() as redis:
        await publish(redis, prefix, jobs)
        done = [0]
        worker = consumer(
            sessionmaker, redis, prefix, kind=KINDS[kind], concurrency=concurrency, done=done
        )
        started, cpu = time.perf_counter(), time.process_time()
        await worker.run(burst=True)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        await redis.delete(stream_key(prefix, IMAGE_JOBS))
    assert await completed(sessionmaker, jobs) == messages, "not every job completed"
    await engine.dispose()
    rate = messages / elapsed
    print(
        f"{kind}: 1 process, concurrency {concurrency:>2}: {messages} messages in {elapsed:.2f} s"
        f" = {rate:,.0f} messages/s ({cpu / messages * 1000:.2f} ms of CPU each)",
        flush=True,
    )
    return rate


async def two_processes(env: BenchEnv, *, kind: str, concurrency: int, messages: int) -> None:
    engine = env.engine()
    sessionmaker = create_sessionmaker(engine)
    prefix = f"{env.key_prefix}-{kind}-two-c{concurrency}"
    jobs = await create_jobs(sessionmaker, messages)
    async with env.redis() as redis:
        await publish(redis, prefix, jobs)
        argv = [sys.executable, "-m", "bench.consumer", "--worker", prefix]
        argv += ["--database-url", env.database_url, "--redis-url", env.redis_url]
        argv += ["--concurrency", str(concurrency), "--kind", kind]
        workers = [
            subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)  # noqa: ASYNC220 - two children, read below
            for _ in range(2)
        ]
        await until(redis, f"{prefix}:ready", len(workers), workers)
        await redis.set(f"{prefix}:go", 1)
        # both pipes drained at once: a worker whose log output fills its pipe would stop
        outputs = await asyncio.gather(
            *(asyncio.to_thread(worker.communicate, timeout=600) for worker in workers)
        )
        results: list[dict[str, Any]] = [
            json.loads(output.strip().splitlines()[-1]) for output, _ in outputs
        ]
        await redis.delete(stream_key(prefix, IMAGE_JOBS), f"{prefix}:ready", f"{prefix}:go")
    assert await completed(sessionmaker, jobs) == messages, "not every job completed"
    await engine.dispose()
    wall = max(result["elapsed"] for result in results)
    each = ", ".join(f"{r['done']} in {r['elapsed']:.2f} s" for r in results)
    print(
        f"{kind}: 2 processes, concurrency {concurrency:>2} each: {messages} messages"
        f" in {wall:.2f} s = {messages / wall:,.0f} messages/s together ({each})"
    )


async def until(
    redis: RedisClient, key: str, value: int, children: list[subprocess.Popen[str]]
) -> None:
    """Wait for a counter in Redis to reach `value` (a start line across processes)."""
    while int(await redis.get(key) or 0) < value:
        if any(child.poll() is not None for child in children):
            raise RuntimeError("a benchmark process exited early")
        await asyncio.sleep(0.01)


async def worker_main(args: argparse.Namespace) -> None:
    """One of the two processes: connect, say ready, wait for the start, drain, report."""
    configure_logging(LogSettings(log_level="INFO", log_format="json"), service="bench")
    env = BenchEnv(args.database_url, args.redis_url, args.worker, Path("."))
    concurrency = args.concurrency[0]
    engine = env.engine(pool_size=pool_for(concurrency))
    sessionmaker = create_sessionmaker(engine)
    async with env.redis() as redis:
        done = [0]
        worker = consumer(
            sessionmaker,
            redis,
            args.worker,
            kind=KINDS[args.kind[0]],
            concurrency=concurrency,
            done=done,
        )
        await redis.incr(f"{args.worker}:ready")
        await until(redis, f"{args.worker}:go", 1, [])
        started = time.perf_counter()
        await worker.run(burst=True)
        elapsed = time.perf_counter() - started
    await engine.dispose()
    print(json.dumps({"done": done[0], "elapsed": elapsed}))


async def main(args: argparse.Namespace) -> None:
    configure_logging(LogSettings(log_level="INFO", log_format="json"), service="bench")
    with tempfile.TemporaryDirectory() as tmp:
        async with bench_env(Path(tmp)) as env:
            print(env.header(), flush=True)
            for kind in args.kind:
                rates = {
                    c: await one_process(env, kind=kind, concurrency=c, messages=args.messages)
                    for c in args.concurrency
                }
                best = max(rates, key=lambda c: rates[c])
                print(f"{kind}: best single process at concurrency {best}: {rates[best]:,.0f}/s")
                if args.two_processes:
                    await two_processes(env, kind=kind, concurrency=16, messages=2 * args.messages)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.consumer")
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--kind", choices=sorted(KINDS), nargs="+", default=["bare", "image"])
    parser.add_argument("--two-processes", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--worker", metavar="PREFIX", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        asyncio.run(worker_main(arguments))
    else:
        asyncio.run(main(arguments))
