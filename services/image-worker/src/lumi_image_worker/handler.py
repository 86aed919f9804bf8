"""One image job: generate the image for its prompt variant, store it, record the outcome."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common.db.tables import GeneratedImage, ImageJob
from lumi_common.errors import PermanentError
from lumi_common.jobs.completions import Completions
from lumi_common.jobs.lifecycle import Claim
from lumi_common.messages import ImageJobRequested, JobMessage
from lumi_common.storage.keys import image_key
from lumi_common.storage.protocol import Storage
from lumi_image_worker.providers.images import ImageGenerator


@dataclass(frozen=True, slots=True)
class Deps:
    sessionmaker: async_sessionmaker[AsyncSession]
    storage: Storage
    images: ImageGenerator
    # the job, its image and its request, written with other jobs finishing at the same time
    completions: Completions[str]


def seed_for(request_id: str, index: int) -> int:
    """Stable per image, so a retry regenerates the same picture."""
    return int.from_bytes(hashlib.sha256(f"{request_id}:{index}".encode()).digest()[:8], "big")


async def handle_image_job(deps: Deps, message: JobMessage, claim: Claim) -> None:
    job = claim.job
    assert isinstance(job, ImageJob)
    assert isinstance(message, ImageJobRequested)
    index, prompt = message.image_index, message.prompt
    if index is None or prompt is None:  # a message from before they were carried along
        index, prompt = await _image_of(deps, job)
    started = time.perf_counter()
    generated = await deps.images.generate(prompt, seed=seed_for(job.request_id, index))
    key = image_key(job.request_id, index)
    await deps.storage.put(key, generated.data, generated.content_type)
    await deps.completions.complete(
        claim,
        key,
        provider_name=generated.provider,
        duration_ms=round((time.perf_counter() - started) * 1000),
    )


async def _image_of(deps: Deps, job: ImageJob) -> tuple[int, str]:
    async with deps.sessionmaker() as session:
        image = await session.get(GeneratedImage, job.image_id)
    if image is None:
        raise PermanentError("the image of this job no longer exists")
    return image.image_index, image.image_prompt
