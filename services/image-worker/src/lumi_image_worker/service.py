"""The image worker process: its dependencies, then the shared worker runtime until SIGTERM."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import ImageJob
from lumi_common.jobs.results import Handler
from lumi_common.messages import ImageJobRequested
from lumi_common.pipeline.images import ImageJobs, complete_images
from lumi_common.providers.calls import CallLog, LoggedCalls
from lumi_common.providers.stored_calls import StoredCalls
from lumi_common.storage.opening import open_storage_or_exit
from lumi_common.streams.worker import consumer_config, serve_jobs
from lumi_image_worker.handler import Deps, handle_image_job
from lumi_image_worker.providers.factory import image_generator, prompt_variants
from lumi_image_worker.settings import ImageWorkerSettings
from lumi_image_worker.steps import Limits


async def run(settings: ImageWorkerSettings, *, burst: bool = False) -> None:
    kind = ImageJobs(lease=timedelta(seconds=settings.job_lease_seconds))
    storage = await open_storage_or_exit(settings)
    limits = Limits(
        poll_interval=timedelta(seconds=settings.image_poll_interval_seconds),
        max_polls=settings.image_max_polls,
        variants_stale_seconds=3 * settings.prompt_timeout_seconds,
    )

    def handler(
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> Handler[ImageJob, ImageJobRequested, str]:
        calls = CallLog((StoredCalls(sessionmaker), LoggedCalls()))
        deps = Deps(
            sessionmaker,
            storage,
            image_generator(settings, calls=calls),
            kind,
            limits=limits,
            variants=prompt_variants(settings, calls=calls),
        )
        return partial(handle_image_job, deps)

    config = consumer_config(
        settings,
        stream=kind.stream,
        concurrency=settings.image_queue_concurrency,
        jobs_per_minute=settings.image_jobs_per_minute,
        provider=settings.image_provider,
    )
    try:
        await serve_jobs(
            settings,
            kind=kind,
            config=config,
            handler=handler,
            on_done=complete_images,  # what Done(storage key) means: the image and its request
            burst=burst,
        )
    finally:
        await storage.aclose()
