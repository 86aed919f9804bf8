"""What an image job does next with its provider: a synchronous one answers at once; an
asynchronous one (DashScope, Hunyuan) is submitted once (recorded at once), then polled as
delayed events; a rate limit waits its `Retry-After`; an expired picture is asked for again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog

from lumi_common.db.tables import ImageJob
from lumi_common.jobs.results import Poll
from lumi_common.providers.errors import RateLimited, ResultExpired
from lumi_common.providers.waits import one_more_poll
from lumi_image_worker.providers.hosted_images import AsyncImageGenerator
from lumi_image_worker.providers.images import GeneratedImage, ImageGenerator

log = structlog.get_logger()
Record = Callable[..., Awaitable[None]]  # writes job columns now


@dataclass(frozen=True, slots=True)
class Limits:
    poll_interval: timedelta = timedelta(seconds=3)
    max_polls: int = 100
    # a claim on a request's prompt variants older than this was abandoned (its worker died)
    variants_stale_seconds: float = 60.0


DEFAULT_LIMITS = Limits()


async def next_step(
    images: ImageGenerator | AsyncImageGenerator,
    job: ImageJob,
    *,
    prompt: str,
    seed: int,
    record: Record,
    limits: Limits,
) -> Poll | GeneratedImage:
    try:
        if isinstance(images, AsyncImageGenerator):
            return await _asynchronous(images, job, prompt, seed, record, limits)
        return await images.generate(prompt, seed=seed)
    except RateLimited as limited:
        log.info("image_job.rate_limited", job_id=job.id, retry_after=limited.retry_after)
        return Poll(after=timedelta(seconds=limited.retry_after), values=_polled(job, limits))
    except ResultExpired as expired:
        log.warning("image_job.resubmitted", job_id=job.id, reason=str(expired))
        return Poll(after=timedelta(0), values={"provider_job_id": None, **_polled(job, limits)})


async def _asynchronous(
    images: AsyncImageGenerator,
    job: ImageJob,
    prompt: str,
    seed: int,
    record: Record,
    limits: Limits,
) -> Poll | GeneratedImage:
    task_id = job.provider_job_id
    if task_id is None:
        task_id = await images.submit(prompt, seed=seed)
        await record(provider_job_id=task_id, provider_name=images.name)
    poll = await images.poll(task_id)
    if poll.state == "done" and poll.image is not None:
        return poll.image
    return Poll(after=limits.poll_interval, values=_polled(job, limits))


def _polled(job: ImageJob, limits: Limits) -> dict[str, Any]:
    """Every wait counts as a poll: a provider that never finishes still ends the job."""
    return one_more_poll(job.poll_count, limits.max_polls, what="image generation")
