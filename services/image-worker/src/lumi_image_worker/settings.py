"""Settings of the image worker, composed from the shared pieces."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from lumi_common.settings import WorkerSettings


class ImageWorkerSettings(WorkerSettings):
    image_queue_concurrency: int = Field(default=2, ge=1, le=256)
    # a global limit shared by every replica (0 = none)
    image_jobs_per_minute: int = Field(default=0, ge=0)
    # offline: procedural PNGs made here; instant: a fixed tiny PNG (benchmarks, smoke tests);
    # openai: any OpenAI-compatible images API (OpenAI, SiliconFlow, ...)
    image_provider: Literal["offline", "instant", "openai"] = "offline"
    image_api_base_url: str = Field(default="https://api.openai.com/v1", pattern=r"^https?://")
    image_api_key: SecretStr | None = None
    image_model: str = "gpt-image-1"
    image_api_timeout_seconds: float = Field(default=120.0, gt=0, le=900)
