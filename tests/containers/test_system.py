"""The whole system in containers, from the images `make images` built: the API, the standalone
relay, two image workers and a model worker, on this machine's MariaDB (a fresh database the
API image migrates), Redis (a key prefix of the test's own) and a real S3 server (moto's, a bucket
of the test's own), with the host's network: the containers share no directory. Driven over HTTP
as the apps drive it."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.engine import create_engine, create_sessionmaker
from lumi_common.db.tables import ImageJob
from lumi_common.settings import DatabaseSettings
from lumi_common.states import JobStatus
from tests.support import backends as b
from tests.support.api import unique_email
from tests.support.containers import Container, Containers, package, podman
from tests.support.lumi_client import LumiClient, TaskWatch, status_is
from tests.support.model_checks import check_model_files, check_picture
from tests.support.processes import free_port
from tests.support.s3 import S3Server
from tests.support.services import lumi_env

Sessions = async_sessionmaker[AsyncSession]
API, IMAGE_WORKER, MODEL_WORKER, SLICE_WORKER = (
    package(name)
    for name in ("lumi-api", "lumi-image-worker", "lumi-model-worker", "lumi-slice-worker")
)
CONCURRENCY = 2
DRAIN_GRACE_SECONDS = 30
pytestmark = pytest.mark.timeout(600)


@pytest_asyncio.fixture(scope="module")
async def database() -> AsyncIterator[str]:
    """A fresh, empty MariaDB database of this module's own."""
    server = b.mysql_server_url()
    if not await b.mysql_reachable(server):
        if b.required():
            pytest.fail(f"CI=true but MariaDB is not reachable at {server}")
        pytest.skip(f"MariaDB is not reachable at {server}")
    url = await b.create_mysql_database(server)
    yield url
    await b.drop_mysql_database(url)


@pytest_asyncio.fixture(scope="module")
async def sessions(database: str) -> AsyncIterator[Sessions]:
    engine = create_engine(DatabaseSettings(database_url=database))
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture(scope="module")
def migrated(database: str) -> str:
    """`lumi db upgrade` from the API image, as the compose and Kubernetes migration does."""
    result = podman(
        "run", "--rm", "--network", "host", "--env", f"DATABASE_URL={database}",
        API.image, "lumi", "db", "upgrade",
    )  # fmt: skip
    assert "database at revision" in result.stdout, result.stdout + result.stderr
    return database


@pytest_asyncio.fixture
async def lumi(
    migrated: str, key_prefix: str, redis: Redis, s3_server: S3Server
) -> AsyncIterator[Containers]:
    """This test's containers: one environment, files in a bucket of their own; all removed
    after. (`redis` is requested so that the test's keys are deleted once they are gone.)"""
    bucket = await s3_server.create_bucket()
    port = free_port()
    env = lumi_env(
        database_url=migrated,
        redis_url=b.DEFAULT_REDIS,
        key_prefix=key_prefix,
        storage_dir=Path("/unused"),
        port=port,
    )
    env.update(
        s3_server.env(bucket), RELAY_ENABLED="false", PUBLIC_BASE_URL=f"http://127.0.0.1:{port}"
    )
    containers = Containers(secrets.token_hex(3), env)
    yield containers
    containers.close()


async def wait_healthy(container: Container, *, within: float = 60) -> None:
    """Until the image's own HEALTHCHECK passes (it probes the service inside)."""
    deadline = time.monotonic() + within
    while container.healthcheck().returncode != 0:
        assert container.running, f"{container.name} exited:\n{container.tail()}"
        assert time.monotonic() < deadline, f"{container.name} not healthy:\n{container.tail()}"
        await asyncio.sleep(0.5)


async def start_api(lumi: Containers) -> LumiClient:
    """The API and the standalone relay; a token from `lumi token create` in the API image."""
    api = lumi.start("api", API.image)
    relay = lumi.start("relay", API.image, "lumi", "relay")
    await wait_healthy(api)
    assert relay.running, relay.tail()
    created = lumi.run_once(API.image, "lumi", "token", "create", "--email", unique_email("ctr"))
    token = created.stdout.strip()
    assert token.startswith("Bearer "), created.stdout + created.stderr
    return LumiClient(aiohttp.ClientSession(), f"http://127.0.0.1:{lumi.env['PORT']}", token)


async def start_worker(lumi: Containers, role: str, image: str, **env: str) -> Container:
    worker = lumi.start(role, image, HEALTH_PORT=str(free_port()), **env)
    await wait_healthy(worker)
    return worker


# -- 1. prompt -> 4 images -> select -> model, every file fetched, then G-code -------------------


async def test_a_prompt_becomes_four_images_then_a_model_then_gcode_in_containers(
    lumi: Containers, tmp_path: Path
) -> None:
    client = await start_api(lumi)
    async with client.session:
        workers = [await start_worker(lumi, f"image-{n}", IMAGE_WORKER.image) for n in (1, 2)] + [
            await start_worker(lumi, "model", MODEL_WORKER.image)
        ]
        created = await client.create_task("a lighthouse on a rock, in containers")
        ready = await client.watch(created).until(status_is("IMAGE_COMPLETED"), within=120)
        for image in ready["images"]:
            await check_picture(client, image["imageUrl"], client.base_url)
        chosen = await client.select_image(created["id"], 2)
        watch = TaskWatch(client, created["id"], since=chosen["task"]["updatedAt"])
        done = await watch.until(lambda t: t["status"] == "COMPLETED", within=120)
        await check_model_files(client, done["model"], tmp_path / "download", client.base_url)
        # the slice worker's image: PrusaSlicer as installed there (with its pruned files gone)
        workers.append(await start_worker(lumi, "slice", SLICE_WORKER.image))
        started = await client.print_task(created["id"])
        sliced = await client.until_sliced(started["sliceTaskId"], within=180)
        assert sliced["sliceStatus"] == "COMPLETED", sliced
        assert sliced["gcodeMetadata"]["layerCount"] > 0
        gcode = await client.download(sliced["gcodeUrl"])
        assert gcode.status == 200
        assert b"\nG1 X" in gcode.body
    # every container stops cleanly on SIGTERM (podman stop sends the image's STOPSIGNAL)
    for container in lumi.started:
        assert container.stop(timeout=DRAIN_GRACE_SECONDS + 10) == 0, container.tail()
    assert {w.name for w in workers} <= {c.name for c in lumi.started}


# -- 2. an image worker killed mid-batch ---------------------------------------------------------


async def test_a_killed_image_worker_container_loses_no_image_and_repeats_none(
    lumi: Containers, sessions: Sessions
) -> None:
    client = await start_api(lumi)
    async with client.session:
        first, second = [
            await start_worker(
                lumi, f"image-{n}", IMAGE_WORKER.image, IMAGE_QUEUE_CONCURRENCY=str(CONCURRENCY)
            )
            for n in (1, 2)
        ]
        created = await asyncio.gather(
            *(client.create_task(f"a sturdy figurine, number {n}") for n in range(10))
        )
        task_ids = [task["id"] for task in created]
        total = len(task_ids) * 4

        # SIGKILL the first container while it holds jobs and the batch is under way
        await until_jobs(sessions, task_ids, lambda c: c.done >= 4 and c.held_by(first) > 0)
        first.kill()
        killed_at = time.monotonic()
        in_flight = await held_jobs(sessions, task_ids, first)
        assert in_flight, "the killed worker held no job"
        done_at_kill = JobCounts(await image_jobs(sessions, task_ids)).done
        await until_jobs(sessions, task_ids, lambda c: c.done == total, within=180)
        print(
            f"\nSIGKILL after {done_at_kill}/{total} images with {len(in_flight)} in flight; "
            f"all done {time.monotonic() - killed_at:.1f}s after the kill"
        )

        jobs = await image_jobs(sessions, task_ids)
        assert len(jobs) == total
        assert {job.status for job in jobs} == {JobStatus.COMPLETED}
        # only the jobs the killed container held ran again; every other ran once
        assert {job.id for job in jobs if job.attempt > 1} == in_flight
        completed = Counter(
            event["job_id"]
            for worker in (first, second)
            for event in worker.events()
            if event["event"] == "job.completed"
        )
        assert set(completed.values()) == {1}, completed  # no job completed twice
        # SIGKILL may fall between a completion's commit and its log line: a job the database
        # has COMPLETED with no `job.completed` line is one the killed container started, and
        # ran once
        unlogged = {job.id for job in jobs} - set(completed)
        started_by_first = {e["job_id"] for e in first.events() if e["event"] == "job.started"}
        assert unlogged <= started_by_first - in_flight, unlogged
        assert all(job.attempt == 1 for job in jobs if job.id in unlogged)
        retaken = {
            e["job_id"]
            for e in second.events()
            if e["event"] == "job.completed" and e["attempt"] > 1
        }
        assert retaken == in_flight
        for task_id in task_ids:
            task = await client.task(task_id)
            assert task["status"] == "IMAGE_COMPLETED"
            for image in task["images"]:
                await check_picture(client, image["imageUrl"], client.base_url)


# -- 3. podman stop drains -----------------------------------------------------------------------


async def test_podman_stop_lets_a_worker_finish_its_jobs_and_exit_0(
    lumi: Containers, sessions: Sessions
) -> None:
    client = await start_api(lumi)
    async with client.session:
        created = await asyncio.gather(
            *(client.create_task(f"a small vase, number {n}") for n in range(3))
        )
        task_ids = [task["id"] for task in created]
        worker = await start_worker(
            lumi,
            "image-1",
            IMAGE_WORKER.image,
            IMAGE_QUEUE_CONCURRENCY=str(CONCURRENCY),
            SHUTDOWN_GRACE_SECONDS=str(DRAIN_GRACE_SECONDS),
        )
        await until_jobs(sessions, task_ids, lambda c: c.held_by(worker) == CONCURRENCY)
        running = await held_jobs(sessions, task_ids, worker)
        started = time.monotonic()
        assert worker.stop(timeout=DRAIN_GRACE_SECONDS + 10) == 0, worker.tail()
        took = time.monotonic() - started
        assert took < DRAIN_GRACE_SECONDS, "not drained within the grace period"
        print(f"\npodman stop with {len(running)} jobs running: exit 0 after {took:.1f}s")

        events = worker.events()
        names = [event["event"] for event in events]
        assert "consumer.drain.cancelled" not in names
        assert names.index("consumer.draining") < names.index("consumer.stopped")
        drained = {e["job_id"] for e in events if e["event"] == "job.completed"}
        assert running <= drained  # what it held when stopped, it finished

        # the rest of the batch is left for the next worker, untouched
        await start_worker(lumi, "image-2", IMAGE_WORKER.image)
        await until_jobs(sessions, task_ids, lambda c: c.done == len(task_ids) * 4, within=120)
        jobs = await image_jobs(sessions, task_ids)
        assert {(job.status, job.attempt) for job in jobs} == {(JobStatus.COMPLETED, 1)}


# -- reading the jobs ----------------------------------------------------------------------------


class JobCounts:
    def __init__(self, jobs: list[ImageJob]) -> None:
        self.jobs = jobs
        self.done = sum(job.status is JobStatus.COMPLETED for job in jobs)

    def held_by(self, container: Container) -> int:
        return len(held(self.jobs, container))


def held(jobs: list[ImageJob], container: Container) -> set[str]:
    """RUNNING jobs whose lease a consumer in `container` holds (consumer names start with the
    host name, which is the container's name)."""
    return {
        job.id
        for job in jobs
        if job.status is JobStatus.RUNNING
        and (job.lease_owner or "").startswith(container.name + "-")
    }


async def image_jobs(sessions: Sessions, task_ids: list[str]) -> list[ImageJob]:
    async with sessions() as session:
        rows = await session.scalars(select(ImageJob).where(ImageJob.request_id.in_(task_ids)))
        return list(rows)


async def held_jobs(sessions: Sessions, task_ids: list[str], container: Container) -> set[str]:
    return held(await image_jobs(sessions, task_ids), container)


async def until_jobs(
    sessions: Sessions,
    task_ids: list[str],
    condition: Callable[[JobCounts], bool],
    *,
    within: float = 90,
) -> None:
    deadline = time.monotonic() + within
    while True:
        counts = JobCounts(await image_jobs(sessions, task_ids))
        if condition(counts):
            return
        statuses = Counter(job.status for job in counts.jobs)
        assert time.monotonic() < deadline, f"image jobs stuck at {statuses}"
        await asyncio.sleep(0.05)
