"""The model worker process: its dependencies, then the shared worker runtime until SIGTERM."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.gallery_cache import bump_gallery
from lumi_common.pipeline.models import ModelJobs
from lumi_common.redis_client import create_redis
from lumi_common.storage.local import LocalStorage
from lumi_common.streams.consumer import Handler
from lumi_common.streams.worker import consumer_config, serve_jobs
from lumi_model_worker.handler import Deps, handle_model_job
from lumi_model_worker.providers.meshes import OfflineReliefGenerator
from lumi_model_worker.settings import ModelWorkerSettings

# the offline provider keeps submitted pictures here between submit and fetch
RELIEF_WORK_DIR = "tmp/relief"


async def run(settings: ModelWorkerSettings, *, burst: bool = False) -> None:
    kind = ModelJobs(lease=timedelta(seconds=settings.job_lease_seconds))
    storage = LocalStorage(settings.storage_dir)
    meshes = OfflineReliefGenerator(settings.storage_dir / RELIEF_WORK_DIR)
    # a command client of its own: the consumer's client blocks on stream reads
    redis = create_redis(settings)

    def handler(sessionmaker: async_sessionmaker[AsyncSession]) -> Handler:
        deps = Deps(
            sessionmaker=sessionmaker,
            storage=storage,
            meshes=meshes,
            kind=kind,
            provider_name=settings.model_provider,
            poll_interval=timedelta(seconds=settings.model_poll_interval_seconds),
            max_polls=settings.model_max_polls,
            gallery_changed=partial(bump_gallery, redis, settings.redis_key_prefix),
        )
        return partial(handle_model_job, deps)

    config = consumer_config(
        settings,
        stream=kind.stream,
        concurrency=settings.model_queue_concurrency,
        jobs_per_minute=settings.model_jobs_per_minute,
    )
    try:
        await serve_jobs(settings, kind=kind, config=config, handler=handler, burst=burst)
    finally:
        await redis.aclose()
