"""The image worker process: its dependencies, then the shared worker runtime until SIGTERM."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.jobs.completions import Completions
from lumi_common.pipeline.images import ImageJobs, complete_images
from lumi_common.storage.local import LocalStorage
from lumi_common.streams.consumer import Handler
from lumi_common.streams.worker import consumer_config, serve_jobs
from lumi_image_worker.handler import Deps, handle_image_job
from lumi_image_worker.providers.images import (
    ImageGenerator,
    InstantImageGenerator,
    OfflineImageGenerator,
)
from lumi_image_worker.providers.openai_images import OpenAIImageGenerator
from lumi_image_worker.settings import ImageWorkerSettings


def image_generator(settings: ImageWorkerSettings) -> ImageGenerator:
    if settings.image_provider == "instant":
        return InstantImageGenerator()
    if settings.image_provider == "openai":
        key = settings.image_api_key
        return OpenAIImageGenerator(
            base_url=settings.image_api_base_url,
            model=settings.image_model,
            api_key=key.get_secret_value() if key else None,
            timeout=settings.image_api_timeout_seconds,
        )
    return OfflineImageGenerator()


async def run(settings: ImageWorkerSettings, *, burst: bool = False) -> None:
    kind = ImageJobs(lease=timedelta(seconds=settings.job_lease_seconds))
    storage = LocalStorage(settings.storage_dir)
    images = image_generator(settings)

    def handler(sessionmaker: async_sessionmaker[AsyncSession]) -> Handler:
        completions = Completions(sessionmaker, kind.lifecycle, complete_images)
        return partial(handle_image_job, Deps(sessionmaker, storage, images, completions))

    config = consumer_config(
        settings,
        stream=kind.stream,
        concurrency=settings.image_queue_concurrency,
        jobs_per_minute=settings.image_jobs_per_minute,
    )
    await serve_jobs(settings, kind=kind, config=config, handler=handler, burst=burst)
