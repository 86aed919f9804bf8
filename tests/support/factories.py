"""Test data written straight to the database, shaped as the API writes it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import GeneratedImage, GenerationRequest, ImageJob, User
from lumi_common.ids import new_id
from lumi_common.messages import ImageJobRequested
from lumi_common.outbox.writer import add_event
from lumi_common.streams.names import IMAGE_JOBS


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
            message = ImageJobRequested(job_id=job.id, request_id=request.id, trace_id=trace_id)
            add_event(session, stream=IMAGE_JOBS, key=job.id, message=message)
            image_ids.append(image.id)
            job_ids.append(job.id)
    return CreatedTask(user_id, request.id, image_ids, job_ids, trace_id)
