"""The generation pipeline end to end: `lumi-api` (with its relay), `lumi-image-worker` and
`lumi-model-worker` as real processes on the real database and Redis, driven over HTTP exactly
as the apps drive it."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
import pytest
import pytest_asyncio
import trimesh
from PIL import Image
from pytest_aiohttp import AiohttpServer
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import GeneratedImage, ImageJob, OutboxEvent
from lumi_common.states import JobStatus
from lumi_common.streams.names import IMAGE_JOBS, stream_key
from lumi_model_worker.providers.model_files import VIEWER_SIZE
from tests.support.api import unique_email
from tests.support.emulators import OpenAIImagesEmulator
from tests.support.lumi_client import Download, LumiClient, Task, TaskWatch, status_is
from tests.support.services import Service, Services

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.usefixtures("empty_outbox")]
Sessions = async_sessionmaker[AsyncSession]
IMAGE_WORKER, MODEL_WORKER = "lumi-image-worker", "lumi-model-worker"
IMAGE_SIDE = 1024


@pytest_asyncio.fixture
async def client(services: Services) -> AsyncIterator[LumiClient]:
    """The API running, and a user signed in with a token from `lumi token create`."""
    await services.start_api()
    token = await services.token(unique_email("e2e"))
    async with aiohttp.ClientSession() as session:
        yield LumiClient(session, services.base_url, token)


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


async def check_picture(client: LumiClient, url: str | None, base_url: str) -> None:
    assert url is not None
    assert url.startswith(base_url + "/"), url  # absolute, fetchable as is
    got = await client.download(url)
    assert got.status == 200
    assert got.headers["Access-Control-Allow-Origin"] == "*"
    assert got.content_type == "image/png"
    picture = Image.open(io.BytesIO(got.body))
    assert (picture.format, picture.size) == ("PNG", (IMAGE_SIDE, IMAGE_SIDE))


async def check_model_files(client: LumiClient, model: Task, folder: Path, base_url: str) -> None:
    """The five files download as the apps fetch them, the OBJ set works side by side, the
    viewer files are Y up and unit-sized, and the STL has the print size of the row."""
    expected_types = {
        "modelUrl": "text/plain",
        "mtlUrl": "text/plain",
        "textureUrl": "image/png",
        "glbUrl": "model/gltf-binary",
        "stlUrl": "model/stl",
    }
    files: dict[str, Download] = {}
    for field, content_type in expected_types.items():
        url = model[field]
        assert url
        assert url.startswith(base_url + "/"), (field, url)
        got = await client.download(url)
        assert got.status == 200, field
        assert got.headers["Access-Control-Allow-Origin"] == "*", field
        assert got.content_type.split(";")[0] == content_type, (field, got.content_type)
        files[field] = got
    assert model["fileSize"] == len(files["modelUrl"].body)

    texture_name = served_name(model["textureUrl"])
    mtl = files["mtlUrl"].body.decode()
    # served with the texture's absolute URL (contract rule 10), which is the same file as
    # its name next to the MTL; a local copy names it by that file name again
    assert f"map_Kd {model['textureUrl']}" in mtl
    assert urljoin(model["mtlUrl"], texture_name) == model["textureUrl"]
    for field in ("modelUrl", "textureUrl"):
        save(folder / served_name(model[field]), files[field].body)
    local_mtl = mtl.replace(model["textureUrl"], texture_name)
    save(folder / served_name(model["mtlUrl"]), local_mtl.encode())
    assert f"mtllib {served_name(model['mtlUrl'])}" in files["modelUrl"].body.decode()

    mesh = trimesh.load(folder / served_name(model["modelUrl"]), force="mesh")
    assert isinstance(mesh, trimesh.Trimesh)
    assert mesh.is_watertight
    assert isinstance(mesh.visual, trimesh.visual.TextureVisuals)
    assert mesh.visual.material.image is not None  # the texture was found through the MTL
    assert len(mesh.faces) == model["faceCount"]
    glb = trimesh.load(io.BytesIO(files["glbUrl"].body), file_type="glb", force="mesh")
    assert isinstance(glb, trimesh.Trimesh)
    assert len(glb.faces) == model["faceCount"]
    for viewer in (mesh, glb):  # glTF-conventional: what the fixed-camera viewer can show
        low, high = viewer.bounds
        assert max(high - low) == pytest.approx(VIEWER_SIZE, rel=1e-3)
        assert (low + high) / 2 == pytest.approx([0, 0, 0], abs=1e-3)
    printed = trimesh.load(io.BytesIO(files["stlUrl"].body), file_type="stl", force="mesh")
    assert isinstance(printed, trimesh.Trimesh)
    low, high = printed.bounds
    size = model["printSizeMm"]
    assert list(high - low) == pytest.approx([size["x"], size["y"], size["z"]], rel=1e-4)
    assert low[2] == pytest.approx(0.0, abs=1e-6)  # on the bed


def save(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def served_name(url: str) -> str:
    return PurePosixPath(urlsplit(url).path).name


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
    """Outbox rows ever written for these jobs, and entries in the image stream."""
    async with sessionmaker() as session:
        rows = await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.key.in_(job_ids))
        )
    return int(rows or 0), int(await redis.xlen(stream_key(key_prefix, IMAGE_JOBS)))
