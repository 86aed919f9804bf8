"""Cancel, retry and delete a task, against the real workers' handlers on real Redis and a real
database. Only providers are faked (a refusing image service, a failing 3D service)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_api import texts
from lumi_api.auth.service import IssuedToken
from lumi_api.keys import SETTINGS
from lumi_common.db.tables import (
    FileDeletion,
    GeneratedImage,
    GenerationRequest,
    ImageJob,
    Model,
    ModelInteraction,
    ModelJob,
    OutboxEvent,
)
from lumi_common.errors import PermanentError
from lumi_common.i18n import jobs
from lumi_common.ids import new_id
from lumi_common.messages import DeadLetter, decode
from lumi_common.pipeline.images import ImageJobs, complete_images
from lumi_common.states import InteractionType, JobStatus
from lumi_common.storage.deletions import FileSweeper
from lumi_common.storage.local import LocalStorage
from lumi_common.storage_url import LocalLocation
from lumi_common.streams.names import IMAGE_JOBS, MODEL_JOBS, dlq_name, stream_key
from lumi_common.time import parse_iso, utcnow
from lumi_image_worker.handler import Deps as ImageDeps
from lumi_image_worker.handler import handle_image_job
from lumi_image_worker.providers.images import GeneratedImage as Picture
from lumi_image_worker.providers.images import OfflineImageGenerator
from lumi_model_worker.providers.meshes import OfflineReliefGenerator
from tests.support.api import Client
from tests.support.language import said
from tests.support.pipeline import LEASE, consumer, relay_all, stream_entries
from tests.support.workers import BrokenMeshes, Workers

pytestmark = pytest.mark.usefixtures("empty_outbox")
Sessions = async_sessionmaker[AsyncSession]


class Images:
    """An image service: offline pictures, except for the calls told to fail or to do
    something first (a user cancelling while the picture is being made)."""

    def __init__(self, *, refuse: Callable[[int], bool] = lambda _: False) -> None:
        self.calls = 0
        self.refuse = refuse
        self.before: Callable[[], Awaitable[None]] | None = None
        self._offline = OfflineImageGenerator()

    async def generate(self, prompt: str, *, seed: int) -> Picture:
        self.calls += 1
        if self.before is not None:
            await self.before()
        if self.refuse(self.calls):
            raise PermanentError("the image service refused the prompt")
        return await self._offline.generate(prompt, seed=seed)


class Pipeline:
    """The task API and the workers' real handlers, driven in-process."""

    def __init__(
        self, client: Client, sessionmaker: Sessions, redis: Redis, key_prefix: str
    ) -> None:
        self.client, self.sessionmaker, self.redis, self.prefix = (
            client,
            sessionmaker,
            redis,
            key_prefix,
        )
        location = client.app[SETTINGS].storage_location
        assert isinstance(location, LocalLocation)
        self.storage_root = location.root
        self.storage = LocalStorage(self.storage_root)
        self.workers = Workers(sessionmaker, redis, key_prefix, self.storage)

    async def images(self, provider: Images) -> None:
        await self.workers.images(provider)

    async def model(self, meshes: Any, tmp_path: Path) -> None:
        await self.workers.models(meshes)

    async def call(
        self, method: str, path: str, token: IssuedToken, body: Any = None
    ) -> tuple[int, Any]:
        response = await self.client.request(
            method, path, json=body, headers={"Authorization": token.header}
        )
        return response.status, await response.json()

    async def create(self, token: IssuedToken, prompt: str = "a stone owl") -> Any:
        status, body = await self.call("POST", "/api/tasks", token, {"prompt": prompt})
        assert status == 201
        return body["data"]

    async def task(self, token: IssuedToken, task_id: str) -> Any:
        status, body = await self.call("GET", f"/api/tasks/{task_id}", token)
        assert status == 200
        return body["data"]

    async def job_statuses(self, table: Any, task_id: str) -> list[JobStatus]:
        async with self.sessionmaker() as session:
            query = select(table.status).where(table.request_id == task_id).order_by(table.id)
            return list((await session.scalars(query)).all())

    async def dead_letters(self, stream: str) -> set[str | None]:
        key = stream_key(self.prefix, dlq_name(stream))
        letters = [decode(fields[b"data"]) for _, fields in await stream_entries(self.redis, key)]
        return {letter.job_id for letter in letters if isinstance(letter, DeadLetter)}

    async def modelled(self, token: IssuedToken, tmp_path: Path, meshes: Any) -> Any:
        """A task whose images are done and whose image 0 went to the 3D service."""
        task = await self.create(token)
        await self.images(Images())
        status, _ = await self.call(
            "PATCH", f"/api/tasks/{task['id']}", token, {"selectedImageIndex": 0}
        )
        assert status == 200
        await self.model(meshes, tmp_path)
        return await self.task(token, task["id"])


@pytest.fixture
def pipeline(client: Client, sessionmaker: Sessions, redis: Redis, key_prefix: str) -> Pipeline:
    return Pipeline(client, sessionmaker, redis, key_prefix)


# -- cancel ------------------------------------------------------------------------------------


async def test_cancel_stops_the_jobs_and_shows_the_task_cancelled(
    pipeline: Pipeline, alice: IssuedToken
) -> None:
    task = await pipeline.create(alice)
    status, body = await pipeline.call("POST", f"/api/v1/tasks/{task['id']}/cancel", alice)
    assert status == 200
    assert body["data"]["status"] == "CANCELLED"
    assert body["data"]["errorMessage"] == said(jobs.CANCELLED)
    assert parse_iso(body["data"]["updatedAt"]) > parse_iso(task["updatedAt"])
    assert await pipeline.job_statuses(ImageJob, task["id"]) == [JobStatus.CANCELLED] * 4
    provider = Images()
    await pipeline.images(provider)  # the queued messages find nothing to claim
    assert provider.calls == 0
    assert (await pipeline.task(alice, task["id"]))["status"] == "CANCELLED"


async def test_cancelling_while_a_worker_is_mid_job_drops_its_outcome(
    pipeline: Pipeline, alice: IssuedToken
) -> None:
    task = await pipeline.create(alice)
    provider = Images()

    async def cancel_first() -> None:
        if provider.calls == 1:
            status, _ = await pipeline.call("POST", f"/api/tasks/{task['id']}/cancel", alice)
            assert status == 200

    provider.before = cancel_first
    await pipeline.images(provider)
    shown = await pipeline.task(alice, task["id"])
    assert shown["status"] == "CANCELLED"
    assert all(image["imageStatus"] != "COMPLETED" for image in shown["images"])
    assert set(await pipeline.job_statuses(ImageJob, task["id"])) == {JobStatus.CANCELLED}


async def test_a_finished_task_cannot_be_cancelled(pipeline: Pipeline, alice: IssuedToken) -> None:
    task = await pipeline.create(alice)
    await pipeline.images(Images(refuse=lambda _: True))
    assert (await pipeline.task(alice, task["id"]))["status"] == "IMAGE_FAILED"
    status, body = await pipeline.call("POST", f"/api/tasks/{task['id']}/cancel", alice)
    assert status == 409
    assert body["data"]["code"] == "INVALID_STATE"
    other = await pipeline.create(alice)
    assert (await pipeline.call("POST", f"/api/tasks/{other['id']}/cancel", alice))[0] == 200
    assert (await pipeline.call("POST", f"/api/tasks/{other['id']}/cancel", alice))[0] == 409


async def test_only_the_owner_can_cancel(
    pipeline: Pipeline, alice: IssuedToken, bob: IssuedToken
) -> None:
    task = await pipeline.create(alice)
    status, body = await pipeline.call("POST", f"/api/tasks/{task['id']}/cancel", bob)
    assert (status, body["data"]["code"]) == (404, "NOT_FOUND")
    assert (await pipeline.task(alice, task["id"]))["status"] == "IMAGE_PENDING"


# -- retry -------------------------------------------------------------------------------------


async def test_retrying_failed_images_queues_them_again_and_empties_the_dlq(
    pipeline: Pipeline, alice: IssuedToken
) -> None:
    task = await pipeline.create(alice)
    await pipeline.images(Images(refuse=lambda _: True))
    failed = await pipeline.task(alice, task["id"])
    assert failed["status"] == "IMAGE_FAILED"
    async with pipeline.sessionmaker() as session:
        query = select(ImageJob.id).where(ImageJob.request_id == task["id"])
        job_ids = set((await session.scalars(query)).all())
    assert await pipeline.dead_letters(IMAGE_JOBS) >= job_ids

    status, body = await pipeline.call(
        "POST", f"/api/tasks/{task['id']}/retry", alice, {"type": "images"}
    )
    assert status == 200
    assert body["data"]["status"] == "IMAGE_PENDING"
    assert parse_iso(body["data"]["updatedAt"]) > parse_iso(failed["updatedAt"])
    assert {image["imageStatus"] for image in body["data"]["images"]} == {"PENDING"}
    assert {image["errorMessage"] for image in body["data"]["images"]} == {None}
    assert await pipeline.job_statuses(ImageJob, task["id"]) == [JobStatus.QUEUED] * 4
    assert not await pipeline.dead_letters(IMAGE_JOBS) & job_ids

    await pipeline.images(Images())
    done = await pipeline.task(alice, task["id"])
    assert done["status"] == "IMAGE_COMPLETED"
    assert {image["imageStatus"] for image in done["images"]} == {"COMPLETED"}


async def test_retrying_images_requeues_only_the_failed_ones(
    pipeline: Pipeline, alice: IssuedToken
) -> None:
    task = await pipeline.create(alice)
    await pipeline.images(Images(refuse=lambda call: call == 1))
    shown = await pipeline.task(alice, task["id"])
    assert shown["status"] == "IMAGE_COMPLETED"
    assert sorted(image["imageStatus"] for image in shown["images"]) == ["COMPLETED"] * 3 + [
        "FAILED"
    ]
    status, body = await pipeline.call(
        "POST", f"/api/tasks/{task['id']}/retry", alice, {"type": "images"}
    )
    assert status == 200
    assert (body["data"]["status"], body["data"]["phase"]) == (
        "IMAGE_GENERATING",
        "IMAGE_GENERATION",
    )
    statuses = await pipeline.job_statuses(ImageJob, task["id"])
    assert sorted(statuses) == sorted([JobStatus.COMPLETED] * 3 + [JobStatus.QUEUED])
    provider = Images()
    await pipeline.images(provider)
    assert provider.calls == 1
    assert (await pipeline.task(alice, task["id"]))["status"] == "IMAGE_COMPLETED"


async def test_a_dead_letter_not_yet_published_is_dropped_with_the_retry(
    pipeline: Pipeline, alice: IssuedToken
) -> None:
    task = await pipeline.create(alice)
    await relay_all(pipeline.sessionmaker, pipeline.redis, pipeline.prefix)
    kind = ImageJobs(lease=LEASE)
    deps = ImageDeps(pipeline.sessionmaker, pipeline.storage, Images(refuse=lambda _: True), kind)
    run = consumer(
        redis=pipeline.redis,
        sessionmaker=pipeline.sessionmaker,
        kind=kind,
        prefix=pipeline.prefix,
        handler=partial(handle_image_job, deps),
        on_done=complete_images,
    )
    await run.run(burst=True)  # the jobs fail; their dead letters wait in the outbox
    async with pipeline.sessionmaker() as session:
        waiting = await session.scalar(
            select(func.count()).where(
                OutboxEvent.stream == dlq_name(IMAGE_JOBS), OutboxEvent.published_at.is_(None)
            )
        )
    assert waiting == 4
    status, _ = await pipeline.call(
        "POST", f"/api/tasks/{task['id']}/retry", alice, {"type": "images"}
    )
    assert status == 200
    await relay_all(pipeline.sessionmaker, pipeline.redis, pipeline.prefix)
    assert await pipeline.dead_letters(IMAGE_JOBS) == set()


async def test_retrying_a_failed_model_queues_it_again_and_a_completed_one_is_refused(
    pipeline: Pipeline, alice: IssuedToken, tmp_path: Path
) -> None:
    failed = await pipeline.modelled(alice, tmp_path, BrokenMeshes())
    assert failed["status"] == "MODEL_FAILED"
    assert failed["model"]["failedAt"] is not None
    assert failed["model"]["generationJob"]["status"] == "FAILED"
    assert await pipeline.dead_letters(MODEL_JOBS) == {failed["model"]["generationJob"]["id"]}

    status, body = await pipeline.call(
        "POST", f"/api/tasks/{failed['id']}/retry", alice, {"type": "model"}
    )
    assert status == 200
    data = body["data"]
    assert (data["status"], data["phase"]) == ("MODEL_PENDING", "MODEL_GENERATION")
    assert (data["model"]["failedAt"], data["model"]["errorMessage"]) == (None, None)
    assert data["model"]["generationJob"]["status"] == "QUEUED"
    assert data["model"]["generationJob"]["progress"] == 0
    assert parse_iso(data["updatedAt"]) > parse_iso(failed["updatedAt"])
    assert await pipeline.dead_letters(MODEL_JOBS) == set()

    await pipeline.model(OfflineReliefGenerator(LocalStorage(tmp_path / "relief")), tmp_path)
    done = await pipeline.task(alice, failed["id"])
    assert done["status"] == "COMPLETED"
    assert done["model"]["modelUrl"] is not None

    status, body = await pipeline.call(
        "POST", f"/api/tasks/{failed['id']}/retry", alice, {"type": "model"}
    )
    assert status == 409
    assert body["data"]["code"] == "INVALID_STATE"
    assert body["data"]["message"] == said(texts.MODEL_COMPLETE)


@pytest.mark.parametrize(
    ("what", "message"),
    [("images", said(texts.NOTHING_TO_RETRY)), ("model", said(texts.MODEL_NOT_FAILED))],
)
async def test_retrying_what_has_not_failed_is_a_409(
    pipeline: Pipeline, alice: IssuedToken, what: str, message: str
) -> None:
    task = await pipeline.create(alice)
    status, body = await pipeline.call(
        "POST", f"/api/tasks/{task['id']}/retry", alice, {"type": what}
    )
    assert status == 409
    assert body["data"]["code"] == "INVALID_STATE"
    assert body["data"]["message"] == message


async def test_images_cannot_be_retried_once_one_is_chosen(
    pipeline: Pipeline, alice: IssuedToken, tmp_path: Path
) -> None:
    task = await pipeline.modelled(alice, tmp_path, BrokenMeshes())
    status, body = await pipeline.call(
        "POST", f"/api/tasks/{task['id']}/retry", alice, {"type": "images"}
    )
    assert (status, body["data"]["code"]) == (409, "INVALID_STATE")


@pytest.mark.parametrize("body", [{}, {"type": "everything"}, {"type": None}, []])
async def test_a_retry_names_images_or_model(
    pipeline: Pipeline, alice: IssuedToken, body: Any
) -> None:
    task = await pipeline.create(alice)
    status, answer = await pipeline.call("POST", f"/api/tasks/{task['id']}/retry", alice, body)
    assert status == 400
    assert answer["data"]["code"] in ("VALIDATION_ERROR", "INVALID_JSON")


async def test_only_the_owner_can_retry(
    pipeline: Pipeline, alice: IssuedToken, bob: IssuedToken
) -> None:
    task = await pipeline.create(alice)
    await pipeline.images(Images(refuse=lambda _: True))
    status, _ = await pipeline.call(
        "POST", f"/api/tasks/{task['id']}/retry", bob, {"type": "images"}
    )
    assert status == 404
    assert (await pipeline.task(alice, task["id"]))["status"] == "IMAGE_FAILED"


# -- delete ------------------------------------------------------------------------------------


async def test_delete_removes_the_task_with_its_rows_and_files(
    pipeline: Pipeline, alice: IssuedToken, bob: IssuedToken, tmp_path: Path
) -> None:
    task = await pipeline.modelled(
        alice, tmp_path, OfflineReliefGenerator(LocalStorage(tmp_path / "relief"))
    )
    assert task["status"] == "COMPLETED"
    model_id = task["model"]["id"]
    async with pipeline.sessionmaker.begin() as session:  # bob liked it in the gallery
        session.add(
            ModelInteraction(
                id=new_id(), user_id=bob.user_id, model_id=model_id, type=InteractionType.LIKE
            )
        )
    root = pipeline.storage_root
    assert (root / "images" / task["id"]).is_dir()
    assert (root / "models" / model_id).is_dir()

    status, body = await pipeline.call("DELETE", f"/api/tasks/{task['id']}", alice)
    assert (status, body) == (
        200,
        {"status": "success", "data": {"message": said(texts.TASK_DELETED)}},
    )
    assert (await pipeline.call("GET", f"/api/tasks/{task['id']}", alice))[0] == 404
    async with pipeline.sessionmaker() as session:
        for table, column in (
            (GenerationRequest, GenerationRequest.id),
            (GeneratedImage, GeneratedImage.request_id),
            (ImageJob, ImageJob.request_id),
            (Model, Model.request_id),
            (ModelJob, ModelJob.request_id),
        ):
            assert await session.scalar(select(func.count()).where(column == task["id"])) == 0, (
                table
            )
        assert (
            await session.scalar(select(func.count()).where(ModelInteraction.model_id == model_id))
            == 0
        )
        prefixes = set(
            (
                await session.scalars(
                    select(FileDeletion.prefix).where(FileDeletion.available_at > utcnow())
                )
            ).all()
        )
    assert not (root / "images" / task["id"]).exists()
    assert not (root / "models" / model_id).exists()
    # kept a while, for a file a worker might still write
    assert {f"images/{task['id']}/", f"models/{model_id}/"} <= prefixes


async def test_deleting_a_task_in_flight_stops_its_jobs(
    pipeline: Pipeline, alice: IssuedToken
) -> None:
    task = await pipeline.create(alice)
    assert (await pipeline.call("DELETE", f"/api/tasks/{task['id']}", alice))[0] == 200
    provider = Images()
    await pipeline.images(provider)  # the messages find no job to claim
    assert provider.calls == 0
    assert not (pipeline.storage_root / "images" / task["id"]).exists()


async def test_deleting_a_failed_task_clears_its_dead_letters(
    pipeline: Pipeline, alice: IssuedToken
) -> None:
    task = await pipeline.create(alice)
    await pipeline.images(Images(refuse=lambda _: True))
    async with pipeline.sessionmaker() as session:
        query = select(ImageJob.id).where(ImageJob.request_id == task["id"])
        job_ids = set((await session.scalars(query)).all())
    assert await pipeline.dead_letters(IMAGE_JOBS) >= job_ids
    assert (await pipeline.call("DELETE", f"/api/tasks/{task['id']}", alice))[0] == 200
    assert not await pipeline.dead_letters(IMAGE_JOBS) & job_ids


async def test_only_the_owner_can_delete(
    pipeline: Pipeline, alice: IssuedToken, bob: IssuedToken
) -> None:
    task = await pipeline.create(alice)
    status, body = await pipeline.call("DELETE", f"/api/tasks/{task['id']}", bob)
    assert (status, body["data"]["code"]) == (404, "NOT_FOUND")
    assert (await pipeline.task(alice, task["id"]))["id"] == task["id"]
    assert (await pipeline.call("DELETE", f"/api/tasks/{task['id']}", alice))[0] == 200
    assert (await pipeline.call("DELETE", f"/api/tasks/{task['id']}", alice))[0] == 404


async def test_files_the_storage_refuses_to_delete_are_swept_later(
    pipeline: Pipeline, alice: IssuedToken
) -> None:
    task = await pipeline.create(alice)
    await pipeline.images(Images())
    root = pipeline.storage_root
    folder = root / "images" / task["id"]
    # the folder became a link: local storage refuses to remove a tree through a link (OSError)
    moved = root / "images" / "moved"
    folder.rename(moved)
    folder.symlink_to(moved, target_is_directory=True)

    status, body = await pipeline.call("DELETE", f"/api/tasks/{task['id']}", alice)
    assert (status, body["data"]) == (200, {"message": said(texts.TASK_DELETED)})
    assert folder.is_symlink()  # still there: the sweep will try again
    prefix = f"images/{task['id']}/"

    sweeper = FileSweeper(pipeline.sessionmaker, pipeline.storage)
    await make_due(pipeline.sessionmaker, prefix)
    await sweeper.sweep_once()
    record = await deletion(pipeline.sessionmaker, prefix)
    assert record is not None
    assert record.attempts == 1
    assert "symbolic link" in (record.last_error or "")
    assert record.available_at > utcnow()  # backed off

    folder.unlink()  # the storage recovers, and a late worker wrote a file meanwhile
    folder.mkdir()
    (folder / "0.png").write_bytes(b"late")
    await make_due(pipeline.sessionmaker, prefix)
    await sweeper.sweep_once()
    assert not folder.exists()
    assert await deletion(pipeline.sessionmaker, prefix) is None


async def make_due(sessionmaker: Sessions, prefix: str) -> None:
    async with sessionmaker.begin() as session:
        await session.execute(
            update(FileDeletion)
            .where(FileDeletion.prefix == prefix)
            .values(available_at=utcnow() - timedelta(seconds=1))
        )


async def deletion(sessionmaker: Sessions, prefix: str) -> FileDeletion | None:
    async with sessionmaker() as session:
        query = select(FileDeletion).where(FileDeletion.prefix == prefix)
        return (await session.scalars(query)).one_or_none()
