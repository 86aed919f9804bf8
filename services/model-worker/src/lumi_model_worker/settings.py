"""Settings of the model worker, composed from the shared pieces."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lumi_common.settings import WorkerSettings


class ModelWorkerSettings(WorkerSettings):
    model_queue_concurrency: int = Field(default=1, ge=1, le=256)
    # a global limit shared by every replica (0 = none)
    model_jobs_per_minute: int = Field(default=0, ge=0)
    model_provider: Literal["offline"] = "offline"
    # a provider still working is asked again after this long, as a delayed message
    model_poll_interval_seconds: float = Field(default=5.0, gt=0, le=600)
    model_max_polls: int = Field(default=120, ge=1, le=10_000)
