"""The toy worker of docs/architecture.md ("Adding a worker"): thumbnails of stored pictures.

It is what a worker service holds, in one file: its job table and message, its kind, its
handler, its settings and the `run` its `__main__` would call. tests/integration/test_toy_worker.py
builds it and runs it in burst mode, and checks that the docs quote this code.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Literal

from PIL import Image
from pydantic import Field
from sqlalchemy import String
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lumi_common.db.tables import JobColumns
from lumi_common.errors import PermanentError
from lumi_common.jobs.kinds import JobKind
from lumi_common.jobs.lifecycle import Claim
from lumi_common.jobs.results import Done, Handler
from lumi_common.messages import JobMessage
from lumi_common.settings import WorkerSettings
from lumi_common.storage.keys import check_key
from lumi_common.storage.opening import open_storage_or_exit
from lumi_common.storage.protocol import ObjectNotFound, Storage
from lumi_common.streams.worker import consumer_config, serve_jobs

THUMBNAIL_JOBS = "thumbnail-jobs"  # a real kind adds its stream to lumi_common.streams.names


class ToyBase(DeclarativeBase):  # a real kind's table lives in lumi_common.db.tables
    pass


# --8<-- [start:kind]
class ThumbnailJob(JobColumns, ToyBase):
    __tablename__ = "test_thumbnail_jobs"

    request_id: Mapped[str] = mapped_column(String(26), nullable=False)
    picture_key: Mapped[str] = mapped_column(String(500), nullable=False)
    thumbnail_key: Mapped[str | None] = mapped_column(String(500))


class ThumbnailRequested(JobMessage):
    type: Literal["thumbnail_job.requested"] = "thumbnail_job.requested"


class ThumbnailJobs(JobKind[ThumbnailJob, ThumbnailRequested]):
    stream = THUMBNAIL_JOBS
    table = ThumbnailJob
    message_type = ThumbnailRequested

    async def message_for(
        self, session: AsyncSession, job: ThumbnailJob, *, attempt: int
    ) -> ThumbnailRequested:
        return ThumbnailRequested(job_id=job.id, request_id=job.request_id, attempt=attempt)


# --8<-- [end:kind]


# --8<-- [start:handler]
@dataclass(frozen=True, slots=True)
class Deps:
    storage: Storage
    size: int


async def make_thumbnail(
    deps: Deps, message: ThumbnailRequested, claim: Claim[ThumbnailJob]
) -> Done[None]:
    job = claim.job
    try:
        picture = await deps.storage.get(job.picture_key)
    except ObjectNotFound as exc:  # retrying cannot bring it back
        raise PermanentError(f"no picture at {job.picture_key}") from exc
    thumbnail = await asyncio.to_thread(_shrink, picture, deps.size)
    key = check_key(f"thumbnails/{job.id}.png")
    await deps.storage.put(key, thumbnail, "image/png")
    return Done(values={"thumbnail_key": key})  # the runtime completes the job with these


def _shrink(picture: bytes, size: int) -> bytes:
    with Image.open(io.BytesIO(picture)) as image:
        image.thumbnail((size, size))
        out = io.BytesIO()
        image.save(out, format="PNG")
    return out.getvalue()


# --8<-- [end:handler]


# --8<-- [start:service]
class ThumbnailWorkerSettings(WorkerSettings):
    thumbnail_queue_concurrency: int = Field(default=2, ge=1, le=64)
    thumbnail_size: int = Field(default=128, ge=16, le=1024)


async def run(settings: ThumbnailWorkerSettings, *, burst: bool = False) -> None:
    kind = ThumbnailJobs(lease=timedelta(seconds=settings.job_lease_seconds))
    storage = await open_storage_or_exit(settings)  # STORAGE_URL: a folder or a bucket
    deps = Deps(storage=storage, size=settings.thumbnail_size)

    def handler(
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> Handler[ThumbnailJob, ThumbnailRequested, None]:
        return partial(make_thumbnail, deps)

    config = consumer_config(
        settings,
        stream=kind.stream,
        concurrency=settings.thumbnail_queue_concurrency,
        jobs_per_minute=0,
    )
    try:
        await serve_jobs(settings, kind=kind, config=config, handler=handler, burst=burst)
    finally:
        await storage.aclose()


# --8<-- [end:service]
