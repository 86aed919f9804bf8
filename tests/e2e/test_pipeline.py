"""The generation pipeline end to end: `lumi-api` (with its relay), `lumi-image-worker` and
`lumi-model-worker` as real processes on the real database and Redis, driven over HTTP exactly
as the apps drive it."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pytest_aiohttp import AiohttpServer
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import GeneratedImage, ImageJob, OutboxEvent
from lumi_common.states import JobStatus
from lumi_common.streams.names import IMAGE_JOBS, stream_key
from tests.support.emulators import OpenAIImagesEmulator
from tests.support.lumi_client import LumiClient, TaskWatch, status_is
from tests.support.model_checks import IMAGE_SIDE, check_model_files, check_picture
from tests.support.services import Service, Services

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.usefixtures("empty_outbox")]
Sessions = async_sessionmaker[AsyncSession]
IMAGE_WORKER, MODEL_WORKER = "lumi-image-worker", "lumi-model-worker"


# -- 1. the happy path --------------------------------------------------------------------------


async def test_a_prompt_becomes_four_images_then_a_printable_model(
    services: Services, client: LumiClient, tmp_path: Path
) -> None:
    await services.start_worker(IMAGE_WORKER, IMAGE_QUEUE_CONCURRENCY="4")
    await services.start_worker(MODEL_WORKER)
    created = await client.create_task("一只戴帽子的小猫")
    assert (created["status"], created["model"]) == ("IMAGE_PENDING", None)
    assert [image["imageStatus"] for image in created["images"]] == ["PENDING"] * 4

    watch = client.watch(created)
    ready = await watch.until(status_is("IMAGE_COMPLETED"))
    assert ready["phase"] == "AWAITING_SELECTION"
    assert [image["imageStatus"] for image in ready["images"]] == ["COMPLETED"] * 4
    for image in ready["images"]:
        await check_picture(client, image["imageUrl"], services.base_url)

    chosen = await client.select_image(created["id"], 1)
    assert (chosen["task"]["status"], chosen["task"]["selectedImageIndex"]) == ("MODEL_PENDING", 1)
    assert chosen["model"]["sourceImageId"] == ready["images"][1]["id"]
    model_watch = TaskWatch(client, created["id"], since=chosen["task"]["updatedAt"])
    done = await model_watch.until(lambda t: (t["status"], t["phase"]) == ("COMPLETED",) * 2)

    progress = [task["model"]["generationJob"]["progress"] for task in model_watch.seen]
    assert progress == sorted(progress), progress
    assert progress[-1] == 100
    model = done["model"]
    assert model["generationJob"]["status"] == "COMPLETED"
    assert done["completedAt"]
    assert model["completedAt"]
    assert model["format"] == "OBJ"
    assert model["vertexCount"] > 0
    assert model["faceCount"] > 0
    await check_model_files(client, model, tmp_path / "download", services.base_url)


# -- 2. a worker killed mid-batch ------------------------------------------------------------


async def test_an_image_worker_killed_mid_batch_loses_nothing_and_repeats_nothing(
    services: Services, client: LumiClient, sessionmaker: Sessions, tmp_path: Path
) -> None:
    concurrency, tasks = 4, 20
    created = await asyncio.gather(
        *(client.create_task(f"a sturdy figurine, number {n}") for n in range(tasks))
    )
    task_ids = [task["id"] for task in created]
    first = await services.start_worker(IMAGE_WORKER, IMAGE_QUEUE_CONCURRENCY=str(concurrency))
    # kill it while every slot is busy and the batch is well under way
    await wait_for_jobs(
        sessionmaker, task_ids, lambda done, running: done >= 8 and running == concurrency
    )
    first.kill()
    killed_at = time.monotonic()
    in_flight = await job_ids(sessionmaker, task_ids, JobStatus.RUNNING)
    done_at_kill = len(await job_ids(sessionmaker, task_ids, JobStatus.COMPLETED))
    assert 0 < done_at_kill < tasks * 4

    second = await services.start_worker(IMAGE_WORKER, IMAGE_QUEUE_CONCURRENCY=str(concurrency))
    await wait_for_jobs(sessionmaker, task_ids, lambda done, _: done == tasks * 4)
    recovery = time.monotonic() - killed_at
    print(
        f"\nkill -9 after {done_at_kill}/{tasks * 4} images with {len(in_flight)} in flight; "
        f"all done {recovery:.2f}s after the kill"
    )

    jobs = await image_jobs(sessionmaker, task_ids)
    assert len(jobs) == tasks * 4
    assert {job.status for job in jobs} == {JobStatus.COMPLETED}
    # only the jobs in flight at the kill ran again (a new attempt); every other job ran once
    assert 1 <= len(in_flight) <= concurrency
    assert {job.id for job in jobs if job.attempt == 2} == in_flight
    assert {job.attempt for job in jobs if job.id not in in_flight} == {1}
    assert_each_job_finished_once(first, second, in_flight, [job.id for job in jobs])
    await assert_images_stored(sessionmaker, task_ids, tmp_path / "storage")
    for task_id in task_ids:
        assert (await client.task(task_id))["status"] == "IMAGE_COMPLETED"


async def wait_for_jobs(
    sessionmaker: Sessions,
    task_ids: list[str],
    condition: Callable[[int, int], bool],
    *,
    within: float = 60.0,
) -> None:
    """Until `condition(completed, running)` holds for these tasks' image jobs."""
    deadline = time.monotonic() + within
    while True:
        async with sessionmaker() as session:
            result = await session.execute(
                select(ImageJob.status, func.count())
                .where(ImageJob.request_id.in_(task_ids))
                .group_by(ImageJob.status)
            )
            counts: dict[JobStatus, int] = dict(result.all())
        done, running = counts.get(JobStatus.COMPLETED, 0), counts.get(JobStatus.RUNNING, 0)
        if condition(done, running):
            return
        assert time.monotonic() < deadline, f"image jobs stuck at {counts}"
        await asyncio.sleep(0.02)


async def image_jobs(sessionmaker: Sessions, task_ids: list[str]) -> list[ImageJob]:
    async with sessionmaker() as session:
        rows = await session.scalars(select(ImageJob).where(ImageJob.request_id.in_(task_ids)))
        return list(rows)


async def job_ids(sessionmaker: Sessions, task_ids: list[str], status: JobStatus) -> set[str]:
    return {job.id for job in await image_jobs(sessionmaker, task_ids) if job.status is status}


def assert_each_job_finished_once(
    first: Service, second: Service, in_flight: set[str], all_jobs: list[str]
) -> None:
    """From both workers' logs: no job completed twice; only the interrupted ones started twice."""
    events = first.events() + second.events()
    started = Counter(e.get("job_id") for e in events if e["event"] == "job.started")
    completed = Counter(e.get("job_id") for e in events if e["event"] == "job.completed")
    assert max(completed.values()) == 1
    assert set(completed) <= set(all_jobs)
    for job_id in all_jobs:
        expected = {1, 2} if job_id in in_flight else {1}  # the kill may beat the log line
        assert started[job_id] in expected, (job_id, started[job_id])
    retaken = [e for e in second.events() if e["event"] == "job.completed" and e["attempt"] == 2]
    assert {e["job_id"] for e in retaken} == in_flight


async def assert_images_stored(sessionmaker: Sessions, task_ids: list[str], root: Path) -> None:
    async with sessionmaker() as session:
        images = list(
            await session.scalars(
                select(GeneratedImage).where(GeneratedImage.request_id.in_(task_ids))
            )
        )
    assert len(images) == len(task_ids) * 4
    for image in images:
        assert image.storage_key, image.id
        with Image.open(root / image.storage_key) as picture:
            assert picture.size == (IMAGE_SIDE, IMAGE_SIDE)


# -- 3. and 4. a hosted provider that fails ---------------------------------------------------


async def openai_worker(
    services: Services, aiohttp_server: AiohttpServer, emulator: OpenAIImagesEmulator
) -> Service:
    """An image worker whose provider is the emulator, reached over HTTP like a vendor's API."""
    server = await aiohttp_server(emulator.app(), host="127.0.0.1")
    return await services.start_worker(
        IMAGE_WORKER,
        IMAGE_PROVIDER="openai",
        IMAGE_API_BASE_URL=str(server.make_url("/v1")),
        IMAGE_API_KEY="test-key",
        IMAGE_QUEUE_CONCURRENCY="4",
        JOB_MAX_ATTEMPTS="3",
    )


async def test_a_flaky_provider_is_retried_until_every_image_is_made(
    services: Services, client: LumiClient, sessionmaker: Sessions, aiohttp_server: AiohttpServer
) -> None:
    emulator = OpenAIImagesEmulator(fail_first=2)
    await openai_worker(services, aiohttp_server, emulator)
    created = await client.create_task("a lighthouse on a rock")
    done = await client.watch(created).until(status_is("IMAGE_COMPLETED"))
    assert [image["imageStatus"] for image in done["images"]] == ["COMPLETED"] * 4
    jobs = await image_jobs(sessionmaker, [created["id"]])
    assert [(job.status, job.attempt) for job in jobs] == [(JobStatus.COMPLETED, 3)] * 4
    assert sorted(emulator.calls.values()) == [3] * 4


async def test_a_failing_provider_dead_letters_every_image_and_a_replay_finishes_them(
    services: Services,
    client: LumiClient,
    sessionmaker: Sessions,
    aiohttp_server: AiohttpServer,
    redis: Redis,
    key_prefix: str,
) -> None:
    emulator = OpenAIImagesEmulator(fail_always=503)
    await openai_worker(services, aiohttp_server, emulator)
    created = await client.create_task("a lighthouse on a rock")
    watch = client.watch(created)
    failed = await watch.until(status_is("IMAGE_FAILED"), failed=frozenset())
    # the failure is visible to a client polling ?since= (TaskWatch checked the bump)
    assert failed["errorMessage"]
    for image in failed["images"]:
        assert (image["imageStatus"], image["imageUrl"]) == ("FAILED", None)
        assert image["errorMessage"]
        assert image["failedAt"]
    jobs = await image_jobs(sessionmaker, [created["id"]])
    assert [(job.status, job.attempt) for job in jobs] == [(JobStatus.FAILED, 3)] * 4
    assert sorted(emulator.calls.values()) == [3] * 4

    letters = await dead_letters(services, count=4)
    assert {letter["job_id"] for letter in letters} == {job.id for job in jobs}
    assert {(letter["reason"], letter["attempts"]) for letter in letters} == {
        ("attempts_exhausted", 3)
    }

    emulator.fail_always = None  # the provider is fixed; the operator replays
    replay = await services.cli("dlq", "replay", "--stream", "image", "--all", "--json")
    assert replay.returncode == 0, replay.stderr
    assert [r["outcome"] for r in json.loads(replay.stdout)] == ["requeued"] * 4
    done = await watch.until(status_is("IMAGE_COMPLETED"))
    assert [image["imageStatus"] for image in done["images"]] == ["COMPLETED"] * 4
    assert all(image["imageUrl"] and not image["errorMessage"] for image in done["images"])
    assert done["errorMessage"] is None
    assert await dead_letters(services, count=0) == []

    # replaying again queues nothing: no entry left, and an old entry id is reported missing
    queued = await queued_events(sessionmaker, redis, key_prefix, [job.id for job in jobs])
    again = await services.cli("dlq", "replay", "--stream", "image", "--all", "--json")
    assert (again.returncode, json.loads(again.stdout)) == (0, [])
    stale = await services.cli("dlq", "replay", "--stream", "image", "--id", letters[0]["id"])
    assert stale.returncode == 1
    assert "missing" in stale.stdout
    await asyncio.sleep(0.5)  # a few relay polls: anything queued would be published by now
    assert await queued_events(sessionmaker, redis, key_prefix, [job.id for job in jobs]) == queued


async def dead_letters(services: Services, *, count: int) -> list[dict[str, Any]]:
    """`lumi dlq list --json`, once it shows `count` entries (the relay publishes them)."""
    deadline = time.monotonic() + 10
    while True:
        listing = await services.cli("dlq", "list", "--stream", "image", "--json")
        assert listing.returncode == 0, listing.stderr
        entries: list[dict[str, Any]] = json.loads(listing.stdout)
        if len(entries) == count or time.monotonic() > deadline:
            assert len(entries) == count, entries
            return entries
        await asyncio.sleep(0.2)


async def queued_events(
    sessionmaker: Sessions, redis: Redis, key_prefix: str, job_ids: list[str]
) -> tuple[int, int]:
    """Outbox rows ever written for these jobs, and entries ever added to the image stream
    (not its length: the workers' housekeeping trims acknowledged entries at any time)."""
    async with sessionmaker() as session:
        rows = await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.key.in_(job_ids))
        )
    stream: dict[str, Any] = await redis.xinfo_stream(stream_key(key_prefix, IMAGE_JOBS))
    return int(rows or 0), int(stream["entries-added"])
