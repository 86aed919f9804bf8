"""The model worker process: its dependencies, then the shared worker runtime until SIGTERM."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import ModelJob
from lumi_common.gallery_cache import bump_gallery
from lumi_common.jobs.results import Handler
from lumi_common.messages import ModelJobRequested
from lumi_common.pipeline.models import ModelFiles, ModelJobs, complete_models
from lumi_common.providers.calls import CallLog, LoggedCalls
from lumi_common.providers.stored_calls import StoredCalls
from lumi_common.redis_client import RedisClient, open_redis
from lumi_common.storage import S3Storage, Storage
from lumi_common.storage.opening import open_storage_or_exit
from lumi_common.streams.worker import consumer_config, serve_jobs
from lumi_model_worker.handler import Deps, handle_model_job
from lumi_model_worker.providers.factory import mesh_generator
from lumi_model_worker.settings import ModelWorkerSettings
from lumi_model_worker.steps import Limits


async def run(settings: ModelWorkerSettings, *, burst: bool = False) -> None:
    kind = ModelJobs(lease=timedelta(seconds=settings.job_lease_seconds))
    storage = await open_storage_or_exit(settings)
    # a command client of its own: the consumer's client blocks on stream reads
    redis = await open_redis(settings)

    def handler(
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> Handler[ModelJob, ModelJobRequested, ModelFiles]:
        calls = CallLog((StoredCalls(sessionmaker), LoggedCalls()))
        deps = Deps(
            sessionmaker=sessionmaker,
            storage=storage,
            meshes=mesh_generator(settings, calls=calls, storage=storage),
            kind=kind,
            provider_name=settings.model_provider,
            limits=Limits(
                poll_interval=timedelta(seconds=settings.model_poll_interval_seconds),
                max_polls=settings.model_max_polls,
                max_resubmits=settings.model_resubmits,
            ),
            picture_url_seconds=picture_url_seconds(settings, storage),
        )
        return partial(handle_model_job, deps)

    config = consumer_config(
        settings,
        stream=kind.stream,
        concurrency=settings.model_queue_concurrency,
        jobs_per_minute=settings.model_jobs_per_minute,
        provider=settings.model_provider,
    )
    try:
        await serve_jobs(
            settings,
            kind=kind,
            config=config,
            handler=handler,
            on_done=complete_models,  # what Done(files) means: the model and its request
            after_done=partial(gallery_changed, redis, settings.redis_key_prefix),
            burst=burst,
        )
    finally:
        await redis.aclose()
        await storage.aclose()


async def gallery_changed(
    redis: RedisClient, key_prefix: str, done: Sequence[tuple[ModelJob, ModelFiles]]
) -> None:
    """Models completed (and, if public, entered the gallery): the API's cached gallery pages
    must notice, and the worker cannot import the API."""
    await bump_gallery(redis, key_prefix)


def picture_url_seconds(settings: ModelWorkerSettings, storage: Storage) -> float | None:
    """Hosted providers fetch the chosen picture by URL when one reaches them: a presigned S3
    URL, or the API's signed URL once PUBLIC_BASE_URL says where the API is public."""
    minutes = settings.model_image_url_minutes
    if settings.model_provider == "offline" or minutes == 0:
        return None
    if isinstance(storage, S3Storage):
        return minutes * 60.0
    signs = settings.file_url_secret is not None or not settings.is_production
    return minutes * 60.0 if settings.public_base_url and signs else None
