"""Settings of the model worker, composed from the shared pieces."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator

from lumi_common.providers.settings import ProviderSettings
from lumi_common.settings import WorkerSettings

URL = r"^https?://"


class ModelWorkerSettings(WorkerSettings, ProviderSettings):
    model_queue_concurrency: int = Field(default=1, ge=1, le=256)
    # a global limit shared by every replica (0 = none)
    model_jobs_per_minute: int = Field(default=0, ge=0)
    # offline: a relief of the picture made here; the others: hosted 3D services
    model_provider: Literal["offline", "tripo", "meshy", "hunyuan3d"] = "offline"
    # a provider still working is asked again after this long, as a delayed message
    model_poll_interval_seconds: float = Field(default=5.0, gt=0, le=600)
    model_max_polls: int = Field(default=120, ge=1, le=10_000)
    # a provider's result that expired before we fetched it is submitted again this often
    model_resubmits: int = Field(default=1, ge=0, le=5)
    # larger provider meshes are decimated; asked of providers that take a face count
    model_max_faces: int = Field(default=200_000, ge=1_000, le=5_000_000)
    # the largest dimension of a hosted model's print STL (the relief keeps its own size)
    model_print_size_mm: float = Field(default=100.0, gt=0, le=1000)
    # hosted providers fetch the chosen picture by a signed URL valid this long (0 = the picture
    # goes inline in the request, as it does whenever the URL would not be reachable from outside)
    model_image_url_minutes: int = Field(default=30, ge=0, le=7 * 24 * 60)
    tripo_api_key: SecretStr | None = None
    tripo_base_url: str = Field(default="https://openapi.tripo3d.ai/v3", pattern=URL)
    tripo_model: str = "v3.0-20250812"
    meshy_api_key: SecretStr | None = None
    meshy_base_url: str = Field(default="https://api.meshy.ai", pattern=URL)
    meshy_model: str = "latest"
    hunyuan3d_base_url: str = Field(default="https://ai3d.tencentcloudapi.com", pattern=URL)
    hunyuan3d_model: str | None = None

    @model_validator(mode="after")
    def _provider_keys(self) -> Self:
        missing = {
            "tripo": ["TRIPO_API_KEY"] if self.tripo_api_key is None else [],
            "meshy": ["MESHY_API_KEY"] if self.meshy_api_key is None else [],
            "hunyuan3d": self.missing_tencent_keys(),
        }.get(self.model_provider, [])
        if missing:
            raise ValueError(f"MODEL_PROVIDER={self.model_provider} needs {', '.join(missing)}")
        return self
