"""The slice worker process: its dependencies, then the shared worker runtime until SIGTERM."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import SliceJob
from lumi_common.jobs.results import Handler
from lumi_common.messages import SliceJobRequested
from lumi_common.pipeline.slices import SliceFiles, SliceJobs, complete_slices
from lumi_common.storage.opening import open_storage_or_exit
from lumi_common.streams.worker import consumer_config, serve_jobs
from lumi_slice_worker.handler import Deps, handle_slice_job
from lumi_slice_worker.process import Limits
from lumi_slice_worker.profiles import Profiles, shipped_folder
from lumi_slice_worker.settings import SliceWorkerSettings
from lumi_slice_worker.slicer import SlicerConfig


def slicer_config(settings: SliceWorkerSettings) -> SlicerConfig:
    return SlicerConfig(
        binary=settings.slicer_binary,
        limits=Limits(
            timeout_seconds=settings.slice_timeout_seconds,
            memory_bytes=settings.slice_memory_limit_bytes,
        ),
        work_dir=settings.slice_work_dir,
    )


async def run(settings: SliceWorkerSettings, *, burst: bool = False) -> None:
    kind = SliceJobs(lease=timedelta(seconds=settings.job_lease_seconds))
    storage = await open_storage_or_exit(settings)  # STORAGE_URL: the bucket on S3
    profiles = Profiles(shipped_folder())  # every shipped profile read now: a bad one stops us

    def handler(
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> Handler[SliceJob, SliceJobRequested, SliceFiles]:
        deps = Deps(
            sessionmaker=sessionmaker,
            storage=storage,
            profiles=profiles,
            slicer=slicer_config(settings),
            default_size_mm=settings.slice_default_size_mm,
        )
        return partial(handle_slice_job, deps)

    config = consumer_config(
        settings,
        stream=kind.stream,
        concurrency=settings.slice_queue_concurrency,
        jobs_per_minute=settings.slice_jobs_per_minute,
    )
    try:
        await serve_jobs(
            settings,
            kind=kind,
            config=config,
            handler=handler,
            on_done=complete_slices,  # what Done(files) means: the model shows its slice
            burst=burst,
        )
    finally:
        await storage.aclose()
