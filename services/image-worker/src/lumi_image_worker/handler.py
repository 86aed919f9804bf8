"""One image job: generate the image for its prompt variant, store it, record the outcome."""

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
from lumi_common.jobs.completions import Completions
from lumi_common.jobs.lifecycle import Claim, JobLifecycle
from lumi_common.messages import ImageJobRequested, JobMessage, with_attempt
from lumi_common.outbox.writer import add_event
from lumi_common.providers.calls import call_scope
from lumi_common.providers.waits import Wait
from lumi_common.storage.keys import image_key
from lumi_common.storage.protocol import Storage
from lumi_common.streams.names import IMAGE_JOBS
from lumi_common.time import utcnow
from lumi_image_worker.providers.hosted_images import AsyncImageGenerator
from lumi_image_worker.providers.images import GeneratedImage, ImageGenerator
from lumi_image_worker.steps import DEFAULT_LIMITS, Limits, next_step
from lumi_image_worker.variants import PromptVariants, variants_ready


@dataclass(frozen=True, slots=True)
class Deps:
    sessionmaker: async_sessionmaker[AsyncSession]
    storage: Storage
    images: ImageGenerator | AsyncImageGenerator
    # the job, its image and its request, written with other jobs finishing at the same time
    completions: Completions[str]
    lifecycle: JobLifecycle
    limits: Limits = DEFAULT_LIMITS
    # PROMPT_PROVIDER=openai: the chat model the first job of a request asks for the variants
    variants: PromptVariants | None = None


def seed_for(request_id: str, index: int) -> int:
    """Stable per image, so a retry regenerates the same picture."""
    return int.from_bytes(hashlib.sha256(f"{request_id}:{index}".encode()).digest()[:8], "big")


async def handle_image_job(deps: Deps, message: JobMessage, claim: Claim) -> None:
    job = claim.job
    assert isinstance(job, ImageJob)
    assert isinstance(message, ImageJobRequested)
    started = time.perf_counter()
    with call_scope("image", request_id=job.request_id, job_id=job.id):
        step = await _step(deps, job, message, claim)
    if isinstance(step, Wait):
        await _wait(deps, claim, message, step)
        return
    await _store(deps, claim, job, step, started)


async def _step(
    deps: Deps, job: ImageJob, message: ImageJobRequested, claim: Claim
) -> Wait | tuple[int, GeneratedImage]:
    index, prompt = message.image_index, message.prompt
    if deps.variants is not None:
        stale = timedelta(seconds=deps.limits.variants_stale_seconds)
        ready = await variants_ready(
            deps.sessionmaker, deps.variants, request_id=job.request_id, stale_after=stale
        )
        if not ready:  # another job of the request is asking the chat model
            return Wait(after=deps.limits.poll_interval)
        index, prompt = None, None  # the message carries the offline variant: read it again
    if index is None or prompt is None:  # a message from before they were carried along
        index, prompt = await _image_of(deps, job)
    step = await next_step(
        deps.images,
        job,
        prompt=prompt,
        seed=seed_for(job.request_id, index),
        record=partial(_record, deps, claim),
        limits=deps.limits,
    )
    return step if isinstance(step, Wait) else (index, step)


async def _store(
    deps: Deps, claim: Claim, job: ImageJob, made: tuple[int, GeneratedImage], started: float
) -> None:
    index, generated = made
    key = image_key(job.request_id, index)
    await deps.storage.put(key, generated.data, generated.content_type)
    await deps.completions.complete(
        claim,
        key,
        provider_name=generated.provider,
        duration_ms=round((time.perf_counter() - started) * 1000),
    )


async def _record(deps: Deps, claim: Claim, **values: object) -> None:
    async with deps.sessionmaker.begin() as session:
        await deps.lifecycle.update_running(session, claim, **values)


async def _wait(deps: Deps, claim: Claim, message: ImageJobRequested, step: Wait) -> None:
    at = utcnow() + step.after
    again = with_attempt(message, claim.attempt)
    async with deps.sessionmaker.begin() as session:
        await deps.lifecycle.park(session, claim, until=at, **step.values)
        add_event(session, stream=IMAGE_JOBS, key=claim.job.id, message=again, available_at=at)


async def _image_of(deps: Deps, job: ImageJob) -> tuple[int, str]:
    async with deps.sessionmaker() as session:
        image = await session.get(tables.GeneratedImage, job.image_id)
    if image is None:
        raise PermanentError("the image of this job no longer exists")
    return image.image_index, image.image_prompt
