"""Test data written straight to the database, shaped as the API writes it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import (
    GeneratedImage,
    GenerationRequest,
    ImageJob,
    Model,
    ModelJob,
    User,
)
from lumi_common.ids import new_id
from lumi_common.messages import ImageJobRequested, ModelJobRequested
from lumi_common.outbox.writer import add_event
from lumi_common.states import ImageStatus, JobStatus, RequestPhase, RequestStatus
from lumi_common.storage.keys import image_key
from lumi_common.storage.protocol import Storage
from lumi_common.streams.names import IMAGE_JOBS, MODEL_JOBS
from lumi_common.time import utcnow


@dataclass(frozen=True)
class CreatedTask:
    user_id: str
    request_id: str
    image_ids: list[str]
    job_ids: list[str]
    trace_id: str


async def create_user(session: AsyncSession) -> User:
    user_id = new_id()
    user = User(id=user_id, email=f"{user_id.lower()}@example.com", user_name=user_id.lower())
    session.add(user)
    await session.flush()
    return user


async def create_task(
    sessionmaker: async_sessionmaker[AsyncSession], *, images: int = 4, user_id: str | None = None
) -> CreatedTask:
    """A request with its images, image jobs and outbox rows, in one transaction."""
    async with sessionmaker.begin() as session:
        if user_id is None:
            user_id = (await create_user(session)).id
        trace_id = new_id()
        request = GenerationRequest(
            id=new_id(), user_id=user_id, original_prompt="a small cat", trace_id=trace_id
        )
        session.add(request)
        await session.flush()
        image_ids, job_ids = [], []
        for index in range(images):
            image = GeneratedImage(
                id=new_id(), request_id=request.id, image_index=index, image_prompt=f"cat {index}"
            )
            session.add(image)
            await session.flush()
            job = ImageJob(id=new_id(), image_id=image.id, request_id=request.id)
            session.add(job)
            await session.flush()
            message = ImageJobRequested(
                job_id=job.id,
                request_id=request.id,
                trace_id=trace_id,
                image_index=index,
                prompt=image.image_prompt,
            )
            add_event(session, stream=IMAGE_JOBS, key=job.id, message=message)
            image_ids.append(image.id)
            job_ids.append(job.id)
    return CreatedTask(user_id, request.id, image_ids, job_ids, trace_id)


@dataclass(frozen=True)
class SelectedTask:
    request_id: str
    model_id: str
    job_id: str


async def create_selected_task(
    sessionmaker: async_sessionmaker[AsyncSession], storage: Storage, *, picture: bytes
) -> SelectedTask:
    """A request whose images are done and whose image 0 was chosen: a model job is queued."""
    task = await create_task(sessionmaker, images=4)
    async with sessionmaker.begin() as session:
        request = await session.get(GenerationRequest, task.request_id)
        assert request is not None
        for index, image_id in enumerate(task.image_ids):
            key = image_key(task.request_id, index)
            await storage.put(key, picture, "image/png")
            image = await session.get(GeneratedImage, image_id)
            assert image is not None
            image.status, image.storage_key, image.completed_at = (
                ImageStatus.COMPLETED,
                key,
                utcnow(),
            )
        for job_id in task.job_ids:
            image_job = await session.get(ImageJob, job_id)
            assert image_job is not None
            image_job.status = JobStatus.COMPLETED
        request.status, request.phase = RequestStatus.MODEL_PENDING, RequestPhase.MODEL_GENERATION
        request.selected_image_index = 0
        model = Model(
            id=new_id(),
            user_id=task.user_id,
            request_id=task.request_id,
            source_image_id=task.image_ids[0],
            name="a small cat",
            preview_key=image_key(task.request_id, 0),
        )
        session.add(model)
        await session.flush()
        job = ModelJob(id=new_id(), model_id=model.id, request_id=task.request_id)
        session.add(job)
        await session.flush()
        message = ModelJobRequested(
            job_id=job.id, request_id=task.request_id, trace_id=task.trace_id
        )
        add_event(session, stream=MODEL_JOBS, key=job.id, message=message)
    return SelectedTask(task.request_id, model.id, job.id)
