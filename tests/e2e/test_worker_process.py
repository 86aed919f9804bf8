"""Real worker processes (`tests.support.worker_process`, the real consumer runtime) killed with
SIGKILL or stopped with SIGTERM while jobs are in flight."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import ImageJob
from lumi_common.pipeline.images import ImageJobs
from lumi_common.states import JobStatus
from lumi_common.streams.names import group_name, stream_key
from tests.support.factories import create_task
from tests.support.handlers import effect_counts, image_handler, record_effects
from tests.support.pipeline import all_completed, consumer, job_states, relay_all, wait_until
from tests.support.processes import clean_env
from tests.support.worker_process import max_running_key

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.usefixtures("effects_table")]

Sessions = async_sessionmaker[AsyncSession]
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Target:
    database_url: str
    redis_url: str
    prefix: str


@contextmanager
def worker_process(
    log: Path, target: Target, **options: float
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `tests.support.worker_process`; its output goes to `log`. Killed on exit."""
    argv = [sys.executable, "-m", "tests.support.worker_process", "--prefix", target.prefix]
    argv += ["--database-url", target.database_url, "--redis-url", target.redis_url]
    for name, value in options.items():
        argv += [f"--{name.replace('_', '-')}", str(value)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            argv, cwd=ROOT, env=clean_env(), stdout=output, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


async def running_jobs(sessionmaker: Sessions, job_ids: list[str]) -> set[str]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(ImageJob.id).where(
                ImageJob.id.in_(job_ids), ImageJob.status == JobStatus.RUNNING
            )
        )
        return set(rows.all())


def log_events(log: Path) -> list[dict[str, object]]:
    lines = log.read_text(errors="replace").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


async def test_kill_9_with_jobs_in_flight_every_job_completes_once(
    sessionmaker: Sessions,
    redis: Redis,
    database_url: str,
    redis_url: str,
    key_prefix: str,
    tmp_path: Path,
) -> None:
    lease, delay, concurrency = 4.0, 1.5, 4
    tasks = [await create_task(sessionmaker) for _ in range(3)]
    job_ids = [job_id for task in tasks for job_id in task.job_ids]
    await relay_all(sessionmaker, redis, key_prefix)
    options = {"lease": lease, "delay": delay, "concurrency": concurrency}
    target = Target(database_url, redis_url, key_prefix)
    loop = asyncio.get_running_loop()

    with worker_process(tmp_path / "first.log", target, **options) as first:
        running: set[str] = set()

        async def holds_a_full_load() -> bool:
            running.update(await running_jobs(sessionmaker, job_ids))
            return len(running) == concurrency

        await wait_until(holds_a_full_load, within=30)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = loop.time()
    killed = sorted(running)

    with worker_process(tmp_path / "second.log", target, **options) as second:

        async def killed_jobs_resumed() -> bool:
            states = await job_states(sessionmaker, killed)
            return all(attempt == 2 for _, attempt in states.values())

        await wait_until(killed_jobs_resumed, within=lease + 10)
        resumed_after = loop.time() - killed_at
        await wait_until(lambda: all_completed(sessionmaker, killed), within=delay + 5)
        recovered_after = loop.time() - killed_at
        await wait_until(lambda: all_completed(sessionmaker, job_ids), within=30)
        second.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(second.wait, timeout=15) == 0

    print(
        f"\nkill -9 recovery: {len(killed)} in-flight jobs resumed {resumed_after:.2f} s and "
        f"completed {recovered_after:.2f} s after the kill (lease {lease} s, handler {delay} s)"
    )
    assert recovered_after < lease + delay + 5  # a lease, the handler, the start-up of a process
    states = await job_states(sessionmaker, job_ids)
    assert {job_id: states[job_id] for job_id in killed} == dict.fromkeys(
        killed, (JobStatus.COMPLETED, 2)
    )
    others = [job_id for job_id in job_ids if job_id not in running]
    assert {states[job_id] for job_id in others} == {(JobStatus.COMPLETED, 1)}
    assert await effect_counts(sessionmaker, job_ids) == Counter(dict.fromkeys(job_ids, 1))
    summary = await redis.xpending(stream_key(key_prefix, "image-jobs"), group_name("image-jobs"))
    assert summary["pending"] == 0


async def test_sigterm_drains_in_flight_jobs_and_exits_0(
    sessionmaker: Sessions,
    redis: Redis,
    database_url: str,
    redis_url: str,
    key_prefix: str,
    tmp_path: Path,
) -> None:
    concurrency, delay, grace = 3, 2.0, 10.0
    task = await create_task(sessionmaker, images=7)
    await relay_all(sessionmaker, redis, key_prefix)
    log = tmp_path / "worker.log"
    target = Target(database_url, redis_url, key_prefix)
    with worker_process(
        log, target, concurrency=concurrency, delay=delay, grace=grace, lease=5
    ) as worker:
        in_flight: set[str] = set()

        async def busy() -> bool:
            in_flight.update(await running_jobs(sessionmaker, task.job_ids))
            return len(in_flight) == concurrency

        await wait_until(busy, within=30)
        worker.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(worker.wait, timeout=grace + 5)

    assert code == 0
    states = await job_states(sessionmaker, task.job_ids)
    assert {states[job_id] for job_id in in_flight} == {(JobStatus.COMPLETED, 1)}
    rest = [job_id for job_id in task.job_ids if job_id not in in_flight]
    assert {states[job_id] for job_id in rest} == {(JobStatus.QUEUED, 0)}
    key, group = stream_key(key_prefix, "image-jobs"), group_name("image-jobs")
    assert (await redis.xpending(key, group))["pending"] == 0  # every finished job acknowledged
    assert int(await redis.get(max_running_key(key_prefix)) or 0) == concurrency

    events = log_events(log)
    started = [e for e in events if e["event"] == "consumer.started"]
    assert [e["concurrency"] for e in started] == [concurrency]
    assert any(e["event"] == "consumer.draining" for e in events)
    assert not any(e["event"] == "consumer.drain.cancelled" for e in events)

    # what was not started is left for the others
    kind = ImageJobs(lease=timedelta(seconds=5))
    other = consumer(
        redis=redis,
        sessionmaker=sessionmaker,
        kind=kind,
        handler=image_handler(sessionmaker, kind),
        on_done=record_effects,
        prefix=key_prefix,
    )
    await other.run(burst=True)
    assert await all_completed(sessionmaker, task.job_ids)
    assert await effect_counts(sessionmaker, task.job_ids) == Counter(
        dict.fromkeys(task.job_ids, 1)
    )
