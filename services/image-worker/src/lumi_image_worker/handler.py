"""One image job: generate the image for its prompt variant and store it. The runtime records
the outcome: `Done(storage key)` completes job, image and request (batched with other jobs
finishing at the same time); `Poll` comes back to an asynchronous provider later."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db import tables
from lumi_common.db.tables import ImageJob
from lumi_common.errors import PermanentError
from lumi_common.jobs.kinds import record_progress
from lumi_common.jobs.lifecycle import Claim
from lumi_common.jobs.results import Done, Poll
from lumi_common.messages import ImageJobRequested
from lumi_common.pipeline.images import ImageJobs
from lumi_common.providers.calls import call_scope
from lumi_common.storage.keys import image_key
from lumi_common.storage.protocol import Storage
from lumi_image_worker.providers.hosted_images import AsyncImageGenerator
from lumi_image_worker.providers.images import GeneratedImage, ImageGenerator
from lumi_image_worker.steps import DEFAULT_LIMITS, Limits, next_step
from lumi_image_worker.variants import PromptVariants, variants_ready


@dataclass(frozen=True, slots=True)
class Deps:
    sessionmaker: async_sessionmaker[AsyncSession]
    storage: Storage
    images: ImageGenerator | AsyncImageGenerator
    kind: ImageJobs
    limits: Limits = DEFAULT_LIMITS
    # PROMPT_PROVIDER=openai: the chat model the first job of a request asks for the variants
    variants: PromptVariants | None = None


def seed_for(request_id: str, index: int) -> int:
    """Stable per image, so a retry regenerates the same picture."""
    return int.from_bytes(hashlib.sha256(f"{request_id}:{index}".encode()).digest()[:8], "big")


async def handle_image_job(
    deps: Deps, message: ImageJobRequested, claim: Claim[ImageJob]
) -> Done[str] | Poll:
    """`Done(storage key)` once stored (`complete_images` records it), or `Poll`."""
    job = claim.job
    started = time.perf_counter()
    with call_scope("image", request_id=job.request_id, job_id=job.id):
        step = await _step(deps, job, message, claim)
    if isinstance(step, Poll):
        return step
    index, generated = step
    key = image_key(job.request_id, index)
    await deps.storage.put(key, generated.data, generated.content_type)
    duration_ms = round((time.perf_counter() - started) * 1000)
    return Done(key, values={"provider_name": generated.provider, "duration_ms": duration_ms})


async def _step(
    deps: Deps, job: ImageJob, message: ImageJobRequested, claim: Claim[ImageJob]
) -> Poll | tuple[int, GeneratedImage]:
    index, prompt = message.image_index, message.prompt
    if deps.variants is not None:
        stale = timedelta(seconds=deps.limits.variants_stale_seconds)
        ready = await variants_ready(
            deps.sessionmaker, deps.variants, request_id=job.request_id, stale_after=stale
        )
        if not ready:  # another job of the request is asking the chat model
            return Poll(after=deps.limits.poll_interval)
        index, prompt = None, None  # the message carries the offline variant: read it again
    if index is None or prompt is None:  # a message from before they were carried along
        index, prompt = await _image_of(deps, job)
    step = await next_step(
        deps.images,
        job,
        prompt=prompt,
        seed=seed_for(job.request_id, index),
        record=partial(record_progress, deps.sessionmaker, deps.kind, claim),
        limits=deps.limits,
    )
    return step if isinstance(step, Poll) else (index, step)


async def _image_of(deps: Deps, job: ImageJob) -> tuple[int, str]:
    async with deps.sessionmaker() as session:
        image = await session.get(tables.GeneratedImage, job.image_id)
    if image is None:
        raise PermanentError("the image of this job no longer exists")
    return image.image_index, image.image_prompt
