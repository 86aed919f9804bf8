"""Pipeline benchmark: image jobs/s through the whole image stage, and one task's latency.

    python -m bench.pipeline [--tasks N] [--runs N] [--skip-throughput]

Image stage = claim → generate → store → complete → request update, by real `lumi-image-worker`
processes (1 and 2), once with the offline generator and once with an instant provider (a fixed
tiny PNG: orchestration overhead alone). Throughput is measured from the first job's start to
the last job's completion, as the database recorded them, so process start-up is not counted.
Latency (create → IMAGE_COMPLETED, select → COMPLETED) goes through the real API (with its
relay) and both workers, the image worker on the instant provider, one task at a time. It is
measured twice per run: as a client sees it (HTTP round trips included, the status route polled
every 10 ms), and as the task row recorded it (`createdAt` → `updatedAt` when IMAGE_COMPLETED;
`updatedAt` of the selection → `completedAt`). Where the image stage's time goes comes from the
rows too: task created → first image job claimed → last image job completed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from sqlalchemy import func, select
from tests.support.factories import create_task
from tests.support.lumi_client import LumiClient, Task, TaskWatch, status_is
from tests.support.pipeline import relay_all
from tests.support.processes import free_port
from tests.support.services import Service, Services

from bench._setup import BenchEnv, bench_env, median, percentile
from lumi_common.db.engine import create_engine, create_sessionmaker
from lumi_common.db.tables import GenerationRequest, ImageJob, OutboxEvent
from lumi_common.logging import configure_logging
from lumi_common.redis_client import create_redis
from lumi_common.settings import DatabaseSettings, LogSettings, RedisSettings
from lumi_common.states import JobStatus
from lumi_common.time import parse_iso

BIN = Path(sys.executable).parent
WORKER_CONCURRENCY = "8"
LATENCY_POLL_SECONDS = 0.01
LATENCY_WARMUP_RUNS = 2


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


@dataclass
class Latency:
    """Milliseconds per task, as the client saw them and as the task row recorded them."""

    seen_images: list[float] = field(default_factory=list)
    seen_model: list[float] = field(default_factory=list)
    row_images: list[float] = field(default_factory=list)
    row_model: list[float] = field(default_factory=list)
    task_ids: list[str] = field(default_factory=list)
    polls: int = 0
    cpu_ms: dict[str, float] = field(default_factory=dict)  # per task, by process


async def task_latency(env: BenchEnv, tmp: Path, *, runs: int) -> Latency:
    """One task at a time through `lumi-api` + both workers (instant image provider)."""
    system = Services(
        tmp / "latency-logs",
        env.process_env(
            REDIS_KEY_PREFIX=f"{env.key_prefix}-latency",
            PORT=str(free_port()),
            COOKIE_SECRET=secrets.token_urlsafe(40),
            RELAY_ENABLED="true",
            IMAGE_PROVIDER="instant",
            IMAGE_QUEUE_CONCURRENCY=WORKER_CONCURRENCY,
        ),
    )
    try:
        await system.start_api()
        await system.start_worker("lumi-image-worker")
        await system.start_worker("lumi-model-worker")
        token = await system.token(f"bench-{secrets.token_hex(4)}@example.com")
        async with aiohttp.ClientSession() as session:
            client = LumiClient(session, system.base_url, token)
            for _ in range(LATENCY_WARMUP_RUNS):
                await one_task(client, Latency())
            result = Latency()
            before = {service.name: cpu_seconds(service) for service in system.started}
            for _ in range(runs):
                await one_task(client, result)
            for service in system.started:
                spent = cpu_seconds(service) - before[service.name]
                result.cpu_ms[service.name] = spent * 1000 / runs
        return result
    finally:
        system.close(show_logs=False)


async def one_task(client: LumiClient, result: Latency) -> None:
    started = time.perf_counter()
    created = await client.create_task("a small lighthouse on a rock")
    watch = client.watch(created)
    ready = await watch.until(status_is("IMAGE_COMPLETED"), interval=LATENCY_POLL_SECONDS)
    result.seen_images.append((time.perf_counter() - started) * 1000)
    result.polls += watch.polls
    result.row_images.append(_ms_between(created["createdAt"], ready["updatedAt"]))

    started = time.perf_counter()
    chosen = await client.select_image(created["id"], 0)
    watch = TaskWatch(client, created["id"], since=chosen["task"]["updatedAt"])
    done: Task = await watch.until(status_is("COMPLETED"), interval=LATENCY_POLL_SECONDS)
    result.seen_model.append((time.perf_counter() - started) * 1000)
    result.polls += watch.polls
    result.row_model.append(_ms_between(chosen["task"]["updatedAt"], done["completedAt"]))
    result.task_ids.append(created["id"])


def cpu_seconds(service: Service) -> float:
    """User + system CPU time of a running process so far (Linux /proc)."""
    assert service.process is not None
    stat = Path(f"/proc/{service.process.pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()  # after the command name: state is field 3
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ms_between(start: str, end: str) -> float:
    return (parse_iso(end) - parse_iso(start)).total_seconds() * 1000


async def image_stage_breakdown(env: BenchEnv, task_ids: list[str]) -> dict[str, list[float]]:
    """Per task, from the rows: where create → IMAGE_COMPLETED spends its time."""
    engine = create_engine(DatabaseSettings(database_url=env.database_url))
    stages: dict[str, list[float]] = {
        "created → first job claimed": [],
        "first claimed → last completed": [],
        "created → relay marked published": [],
    }
    try:
        async with create_sessionmaker(engine)() as session:
            for task_id in task_ids:
                created = await session.scalar(
                    select(GenerationRequest.created_at).where(GenerationRequest.id == task_id)
                )
                claimed, completed = (
                    await session.execute(
                        select(
                            func.min(ImageJob.started_at), func.max(ImageJob.completed_at)
                        ).where(ImageJob.request_id == task_id)
                    )
                ).one()
                published = await session.scalar(
                    select(func.max(OutboxEvent.published_at)).where(
                        OutboxEvent.key.in_(
                            select(ImageJob.id).where(ImageJob.request_id == task_id)
                        )
                    )
                )
                if created is None or claimed is None or completed is None or published is None:
                    continue  # not finished: nothing to measure
                # the relay stamps published_at after its XADD, so a worker may claim first
                spans = [(created, claimed), (claimed, completed), (created, published)]
                for name, (a, b) in zip(stages, spans, strict=True):
                    stages[name].append((b - a).total_seconds() * 1000)
    finally:
        await engine.dispose()
    return stages


def _figures(label: str, values: list[float]) -> str:
    return (
        f"  {label:34} p50 {median(values):6.1f} ms   p90 {percentile(values, 0.9):6.1f} ms   "
        f"min {min(values):6.1f}   max {max(values):6.1f}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100, help="tasks per run (4 jobs each)")
    parser.add_argument("--runs", type=int, default=20, help="tasks timed one by one")
    parser.add_argument("--skip-throughput", action="store_true", help="latency only")
    args = parser.parse_args()
    # the in-process relay that fills the streams would log every batch
    configure_logging(LogSettings(log_level="WARNING"), service="bench")
    with tempfile.TemporaryDirectory() as tmp:
        async with bench_env(Path(tmp)) as env:
            print(
                f"backend: {env.backend} + Redis; cpus: {os.cpu_count()}; "
                f"worker concurrency {WORKER_CONCURRENCY}"
            )
            if not args.skip_throughput:
                await throughput(env, tasks=args.tasks)
            print(
                f"one task at a time ({args.runs} runs after {LATENCY_WARMUP_RUNS} warm-up; "
                "API + relay + both workers, instant image provider):"
            )
            latency = await task_latency(env, Path(tmp), runs=args.runs)
            print(" as the client saw it (status route polled every 10 ms):")
            print(_figures("create → IMAGE_COMPLETED", latency.seen_images))
            print(_figures("select → COMPLETED", latency.seen_model))
            print(" as the task row recorded it:")
            print(_figures("createdAt → IMAGE_COMPLETED", latency.row_images))
            print(_figures("selection → completedAt", latency.row_model))
            print(" image stage, from the job and outbox rows:")
            for name, values in (await image_stage_breakdown(env, latency.task_ids)).items():
                print(_figures(name, values))
            polls = latency.polls / args.runs
            print(f" CPU per task, by process (the API also answered {polls:.0f} status polls):")
            for name, spent in latency.cpu_ms.items():
                print(f"  {name:34} {spent:6.1f} ms")


async def throughput(env: BenchEnv, *, tasks: int) -> None:
    print("image stage (claim → generate → store → complete → request update):")
    for provider in ("instant", "offline"):
        count = tasks if provider == "instant" else max(5, tasks // 4)
        for processes in (1, 2):
            rate = await image_stage(env, tasks=count, processes=processes, provider=provider)
            label = f"{provider} provider, {processes} process(es)"
            print(f"  {label:32} {rate:8.1f} image jobs/s ({count * 4} jobs)")


if __name__ == "__main__":
    started = time.perf_counter()
    asyncio.run(main())
    print(f"done in {time.perf_counter() - started:.1f}s")
