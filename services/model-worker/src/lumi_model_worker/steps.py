"""What a model job does next with its 3D provider, whatever shape the runtime's outcomes take:
submit (once, recorded at once so a crash never pays twice), poll, fetch — or wait.

- The provider still works: wait `poll_interval` (a delayed event, no slot held), at most
  `max_polls` times.
- The provider rate-limits: wait its `Retry-After`, no attempt used.
- The provider's result expired before we fetched it: submit again, `max_resubmits` times.
- Moderation, a failed task, a wrong key: raised as they are (permanent).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog

from lumi_common.db.tables import ModelJob
from lumi_common.errors import PermanentError
from lumi_common.jobs.results import Poll
from lumi_common.providers.errors import RateLimited, ResultExpired
from lumi_common.providers.waits import one_more_poll
from lumi_model_worker.providers.meshes import MeshGenerator, PollResult
from lumi_model_worker.providers.model_files import MeshArtifacts

log = structlog.get_logger()
SUBMITTED, POLLING_MAX, FETCHED, DONE = 10, 80, 90, 100

Record = Callable[..., Awaitable[None]]  # writes job columns now (and bumps the request)


@dataclass(frozen=True, slots=True)
class Fetched:
    artifacts: MeshArtifacts


@dataclass(frozen=True, slots=True)
class Picture:
    """The chosen picture, and a signed URL of it a hosted provider may fetch (None: inline)."""

    data: bytes
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    poll_interval: timedelta
    max_polls: int
    max_resubmits: int


async def next_step(
    meshes: MeshGenerator,
    job: ModelJob,
    *,
    picture: Callable[[], Awaitable[Picture]],
    record: Record,
    limits: Limits,
    provider_name: str,
) -> Poll | Fetched:
    try:
        task_id = job.provider_job_id
        if job.stage not in ("poll", "fetch") or task_id is None:
            chosen = await picture()
            task_id = await meshes.submit(chosen.data, job_key=job.id, image_url=chosen.url)
            await record(
                stage="poll",
                progress=SUBMITTED,
                provider_job_id=task_id,
                provider_name=provider_name,
            )
        result = await meshes.poll(task_id)
        if result.state == "failed":
            raise PermanentError(f"3D generation failed: {result.error or 'unknown error'}")
        if result.state == "running":
            return _poll_later(job, result, limits)
        artifacts = await meshes.fetch(task_id)
    except RateLimited as limited:
        log.info("model_job.rate_limited", job_id=job.id, retry_after=limited.retry_after)
        # counted as a poll: a provider that never lets us in still ends the job
        return Poll(after=timedelta(seconds=limited.retry_after), values=_polled(job, limits))
    except ResultExpired as expired:
        return _resubmit(job, limits, expired)
    return Fetched(artifacts)


def _poll_later(job: ModelJob, result: PollResult, limits: Limits) -> Poll:
    progress = SUBMITTED + (POLLING_MAX - SUBMITTED) * max(0, min(result.progress, 100)) // 100
    values = {"stage": "poll", "progress": progress, **_polled(job, limits)}
    return Poll(after=limits.poll_interval, values=values)


def _polled(job: ModelJob, limits: Limits) -> dict[str, Any]:
    return one_more_poll(job.poll_count, limits.max_polls, what="3D generation")


def _resubmit(job: ModelJob, limits: Limits, expired: ResultExpired) -> Poll:
    if job.resubmits >= limits.max_resubmits:
        raise PermanentError(
            f"the provider's result expired {job.resubmits + 1} times before it was fetched"
        ) from expired
    log.warning("model_job.resubmitted", job_id=job.id, reason=str(expired))
    values = {
        "stage": None,
        "provider_job_id": None,
        "poll_count": 0,
        "progress": 0,
        "resubmits": job.resubmits + 1,
    }
    return Poll(after=timedelta(0), values=values)
