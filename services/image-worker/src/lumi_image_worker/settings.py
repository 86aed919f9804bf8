"""Settings of the image worker, composed from the shared pieces."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator

from lumi_common.providers.settings import ProviderSettings
from lumi_common.settings import WorkerSettings

URL = r"^https?://"


class ImageWorkerSettings(WorkerSettings, ProviderSettings):
    image_queue_concurrency: int = Field(default=2, ge=1, le=256)
    # a global limit shared by every replica (0 = none)
    image_jobs_per_minute: int = Field(default=0, ge=0)
    # offline: procedural PNGs made here; instant: a fixed tiny PNG (benchmarks, smoke tests);
    # openai: any OpenAI-compatible images API (OpenAI, SiliconFlow, ...), synchronous;
    # dashscope, hunyuan: asynchronous services, polled as delayed events
    image_provider: Literal["offline", "instant", "openai", "dashscope", "hunyuan"] = "offline"
    image_api_base_url: str = Field(default="https://api.openai.com/v1", pattern=URL)
    image_api_key: SecretStr | None = None
    image_model: str = "gpt-image-1"
    image_api_timeout_seconds: float = Field(default=120.0, gt=0, le=900)
    image_poll_interval_seconds: float = Field(default=3.0, gt=0, le=600)
    image_max_polls: int = Field(default=100, ge=1, le=10_000)
    dashscope_api_key: SecretStr | None = None
    dashscope_base_url: str = Field(default="https://dashscope.aliyuncs.com", pattern=URL)
    dashscope_model: str = "wanx2.1-t2i-turbo"
    hunyuan_image_base_url: str = Field(default="https://hunyuan.tencentcloudapi.com", pattern=URL)
    # offline: the variants the API wrote at creation; openai: a chat model rewrites them
    prompt_provider: Literal["offline", "openai"] = "offline"
    prompt_api_base_url: str = Field(default="https://api.openai.com/v1", pattern=URL)
    prompt_api_key: SecretStr | None = None
    prompt_model: str = "gpt-4o-mini"
    prompt_timeout_seconds: float = Field(default=20.0, gt=0, le=120)

    @model_validator(mode="after")
    def _provider_keys(self) -> Self:
        missing = {
            "dashscope": ["DASHSCOPE_API_KEY"] if self.dashscope_api_key is None else [],
            "hunyuan": self.missing_tencent_keys(),
        }.get(self.image_provider, [])
        if missing:
            raise ValueError(f"IMAGE_PROVIDER={self.image_provider} needs {', '.join(missing)}")
        return self
