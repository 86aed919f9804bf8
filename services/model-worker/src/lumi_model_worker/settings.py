"""Settings of the model worker, composed from the shared pieces."""

from __future__ import annotations

from pydantic import Field

from lumi_common.settings import (
    DatabaseSettings,
    JobSettings,
    LogSettings,
    RedisSettings,
    StorageSettings,
)


class ModelWorkerSettings(
    LogSettings, DatabaseSettings, RedisSettings, StorageSettings, JobSettings
):
    model_queue_concurrency: int = Field(default=1, ge=1, le=256)
    # a global limit shared by every replica (0 = none)
    model_jobs_per_minute: int = Field(default=0, ge=0)
    shutdown_grace_seconds: float = Field(default=30.0, ge=0, le=600)
