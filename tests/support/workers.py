"""The workers' real handlers, driven in-process over real Redis and the real database: for tests
whose resources are only real once a worker made them (stored pictures, a relief model with its
files and mesh statistics). Only providers are chosen by the test."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.pipeline.images import ImageJobs, complete_images
from lumi_common.pipeline.models import ModelJobs, complete_models
from lumi_common.redis_client import RedisClient
from lumi_common.storage.protocol import Storage
from lumi_common.streams.consumer import Consumer
from lumi_image_worker.handler import Deps as ImageDeps
from lumi_image_worker.handler import handle_image_job
from lumi_image_worker.providers.images import ImageGenerator
from lumi_model_worker.handler import Deps as ModelDeps
from lumi_model_worker.handler import handle_model_job
from lumi_model_worker.providers.meshes import MeshGenerator, PollResult
from lumi_model_worker.providers.model_files import MeshArtifacts
from lumi_model_worker.service import gallery_changed
from lumi_model_worker.steps import Limits
from tests.support.pipeline import LEASE, consumer, drive


class Workers:
    """Relay the outbox and run each worker's consumer in burst mode until nothing is due.
    The relay publishes every due row of the database: use with the `empty_outbox` fixture."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        redis: RedisClient,
        prefix: str,
        storage: Storage,
    ) -> None:
        self.sessionmaker, self.redis, self.prefix, self.storage = (
            sessionmaker,
            redis,
            prefix,
            storage,
        )

    async def images(self, provider: ImageGenerator) -> None:
        kind = ImageJobs(lease=LEASE)
        deps = ImageDeps(self.sessionmaker, self.storage, provider, kind)
        await self._drive(
            consumer(
                redis=self.redis,
                sessionmaker=self.sessionmaker,
                kind=kind,
                prefix=self.prefix,
                handler=partial(handle_image_job, deps),
                on_done=complete_images,
            )
        )

    async def models(self, meshes: MeshGenerator) -> None:
        kind = ModelJobs(lease=LEASE)
        deps = ModelDeps(
            sessionmaker=self.sessionmaker,
            storage=self.storage,
            meshes=meshes,
            kind=kind,
            provider_name="test",
            limits=Limits(poll_interval=timedelta(milliseconds=10), max_polls=20, max_resubmits=1),
        )
        await self._drive(
            consumer(
                redis=self.redis,
                sessionmaker=self.sessionmaker,
                kind=kind,
                prefix=self.prefix,
                handler=partial(handle_model_job, deps),
                on_done=complete_models,
                after_done=partial(gallery_changed, self.redis, self.prefix),
            )
        )

    async def _drive(self, run: Consumer[Any, Any, Any]) -> None:
        await drive(self.sessionmaker, self.redis, self.prefix, run)


class BrokenMeshes:
    """A 3D service that accepts the picture, then reports that it failed."""

    async def submit(self, image: bytes, *, job_key: str, image_url: str | None = None) -> str:
        return "broken-job"

    async def poll(self, provider_job_id: str) -> PollResult:
        return PollResult(state="failed", progress=0, error="could not build a mesh")

    async def fetch(self, provider_job_id: str) -> MeshArtifacts:
        raise AssertionError("a failed job is never fetched")
