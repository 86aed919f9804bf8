"""Settings both workers share for hosted providers: network limits of every provider call and
download, extra hosts results may come from, and the Tencent Cloud credentials (Hunyuan images
and Hunyuan 3D use the same account)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator

from lumi_common.providers.downloads import DownloadPolicy
from lumi_common.providers.http import Timeouts
from lumi_common.providers.tencent import Credentials
from lumi_common.settings import CsvList, LumiSettings, split_csv

MIB = 1024 * 1024


class ProviderSettings(LumiSettings):
    provider_connect_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # the longest silence while an answer arrives
    provider_read_timeout_seconds: float = Field(default=60.0, gt=0, le=900)
    provider_request_timeout_seconds: float = Field(default=120.0, gt=0, le=900)
    provider_download_timeout_seconds: float = Field(default=300.0, gt=0, le=3600)
    provider_download_max_mb: int = Field(default=200, ge=1, le=4096)
    # hosts (and their subdomains) results may also come from, besides each provider's own
    provider_result_hosts: CsvList = Field(default_factory=list)
    # exact hosts that may be reached over plain http: local emulators in tests, never production
    provider_http_hosts: CsvList = Field(default_factory=list)
    # let downloads reach private, loopback and link-local addresses: tests only
    provider_allow_private_addresses: bool = False
    tencent_secret_id: str | None = None
    tencent_secret_key: SecretStr | None = None
    tencent_region: str = Field(default="ap-guangzhou", pattern=r"^[a-z]{2}-[a-z0-9-]+$")

    @field_validator("provider_result_hosts", "provider_http_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        return split_csv(value)

    @model_validator(mode="after")
    def _safe_in_production(self) -> Self:
        if self.is_production and (
            self.provider_allow_private_addresses or self.provider_http_hosts
        ):
            raise ValueError(
                "PROVIDER_ALLOW_PRIVATE_ADDRESSES and PROVIDER_HTTP_HOSTS are for tests, "
                "not production"
            )
        return self

    def api_timeouts(self) -> Timeouts:
        return Timeouts(
            connect=self.provider_connect_timeout_seconds,
            read=self.provider_read_timeout_seconds,
            total=self.provider_request_timeout_seconds,
        )

    def download_policy(self, provider_hosts: frozenset[str]) -> DownloadPolicy:
        timeouts = Timeouts(
            connect=self.provider_connect_timeout_seconds,
            read=self.provider_read_timeout_seconds,
            total=self.provider_download_timeout_seconds,
        )
        return DownloadPolicy(
            allowed_hosts=provider_hosts | frozenset(self.provider_result_hosts),
            max_bytes=self.provider_download_max_mb * MIB,
            timeouts=timeouts,
            http_hosts=frozenset(self.provider_http_hosts),
            allow_private=self.provider_allow_private_addresses,
        )

    def missing_tencent_keys(self) -> list[str]:
        names = [
            ("TENCENT_SECRET_ID", self.tencent_secret_id),
            ("TENCENT_SECRET_KEY", self.tencent_secret_key),
        ]
        return [name for name, value in names if not value]

    def tencent_credentials(self) -> Credentials:
        if not self.tencent_secret_id or self.tencent_secret_key is None:
            raise ValueError("TENCENT_SECRET_ID and TENCENT_SECRET_KEY are required")
        return Credentials(secret_id=self.tencent_secret_id, secret_key=self.tencent_secret_key)
