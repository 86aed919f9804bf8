"""Settings of the API service, composed from the shared pieces."""

from __future__ import annotations

import re
from typing import Self

from pydantic import Field, field_validator, model_validator

from lumi_api.auth.settings import LoginCodeSettings
from lumi_api.events.settings import EventStreamSettings
from lumi_api.gallery.settings import GallerySettings
from lumi_api.mail.settings import EmailSettings
from lumi_api.tasks.settings import QuotaSettings
from lumi_common.settings import (
    AppEnv,
    CsvList,
    DatabaseSettings,
    JobSettings,
    LogSettings,
    LumiSettings,
    MetricsSettings,
    RedisSettings,
    RelaySettings,
    SigningSettings,
    StorageSettings,
    split_csv,
)
from lumi_common.slice_profiles import DEFAULT_SLICE_PROFILE, SliceProfile
from lumi_common.webhooks.settings import WebhookSettings

# origins a developer's browser uses on this machine (any port)
LOCAL_ORIGIN = re.compile(r"^https?://(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$")
_ORIGIN = re.compile(r"^(\*|https?://[^/\s]+)$")


class TokenSettings(LumiSettings):
    """Bearer tokens: shared by the API and the `lumi token` command."""

    token_ttl_days: int = Field(default=30, ge=1, le=3650)
    # how long a resolved token is trusted without asking the database again; a token revoked
    # through another replica or the CLI can work that much longer there (0 = always ask)
    token_cache_seconds: float = Field(default=10.0, ge=0, le=300)


class ApiSettings(
    LogSettings,
    DatabaseSettings,
    RedisSettings,
    RelaySettings,
    StorageSettings,
    JobSettings,
    SigningSettings,
    TokenSettings,
    LoginCodeSettings,
    EmailSettings,
    GallerySettings,
    MetricsSettings,
    EventStreamSettings,
    WebhookSettings,
    QuotaSettings,
):
    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=1, le=65535)
    # API processes serving the port (SO_REUSEPORT), each with its own relay: one per core
    api_processes: int = Field(default=1, ge=1, le=64)
    # public files at a CDN or bucket website instead of the API's own /files/ (docs/operations.md)
    public_files_base_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    # how long the signed URLs of private files that the API returns stay valid
    signed_url_seconds: int = Field(default=900, ge=30, le=7 * 86400)
    cors_origins: CsvList = Field(default_factory=list)
    cors_allow_credentials: bool = False
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0, le=300)
    # requests per caller (signed-in user, else client address) per minute; 0 = no limit
    rate_limit_per_minute: int = Field(default=600, ge=0, le=1_000_000)
    # proxies in front of the API that append to X-Forwarded-For; 0 = use the socket's peer
    trusted_proxy_hops: int = Field(default=0, ge=0, le=10)
    # how often the API retries deleting files it could not delete at once; 0 = never here
    file_sweep_seconds: float = Field(default=60.0, ge=0, le=86400)
    # the slicing profile of a slice request that names none (one the slice worker ships)
    slice_profile: SliceProfile = DEFAULT_SLICE_PROFILE
    # GET /metrics on this port alone (every API process binds it), not on PORT; 0 = on PORT
    metrics_port: int = Field(default=0, ge=0, le=65535)
    # deadlines of the request path (docs/operations.md, "Timeouts and the circuit breaker"):
    # the longest a request waits on one Redis call (a hung Redis accepts and never answers),
    # and how long Redis is left alone after a failure before one call probes it again
    redis_timeout_seconds: float = Field(default=0.25, gt=0, le=30)
    redis_breaker_seconds: float = Field(default=2.0, gt=0, le=300)
    # the try-it page at `/` (lumi_api.web): on by default only when APP_ENV=development
    ui_enabled: bool | None = None

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return split_csv(value)

    @field_validator("cors_origins")
    @classmethod
    def _valid_origins(cls, value: list[str]) -> list[str]:
        bad = [origin for origin in value if not _ORIGIN.match(origin)]
        if bad:
            raise ValueError(f"not an origin (scheme://host[:port] or *): {', '.join(bad)}")
        return [origin.rstrip("/") for origin in value]

    @model_validator(mode="after")
    def _safe_in_production(self) -> Self:
        if "*" in self.cors_origins and self.cors_allow_credentials:
            raise ValueError("CORS_ORIGINS=* cannot be combined with CORS_ALLOW_CREDENTIALS=true")
        if self.metrics_port and self.metrics_port == self.port:
            raise ValueError("METRICS_PORT must differ from PORT (0 serves /metrics on PORT)")
        if self.is_production:
            _production_origins(self.cors_origins)
            _production_base_url(self.public_base_url)
            if self.file_url_secret is None:
                raise ValueError(
                    "FILE_URL_SECRET (at least 32 characters) is required in production"
                )
            if self.is_sqlite:
                # one host's file: API replicas and workers cannot share it, and it stalls under
                # load (the API is where production starts; workers follow its database)
                raise ValueError("SQLite is for development: set DATABASE_URL to MySQL/MariaDB")
        return self

    @property
    def base_url(self) -> str:
        return (self.public_base_url or f"http://127.0.0.1:{self.port}").rstrip("/")

    @property
    def serves_try_it(self) -> bool:
        if self.ui_enabled is not None:
            return self.ui_enabled
        return self.app_env is AppEnv.DEVELOPMENT

    def allows_origin(self, origin: str) -> bool:
        if "*" in self.cors_origins or origin in self.cors_origins:
            return True
        return not self.is_production and bool(LOCAL_ORIGIN.match(origin))


def _production_origins(origins: list[str]) -> None:
    if not origins:
        raise ValueError("CORS_ORIGINS must list the allowed origins in production")
    if "*" in origins:
        # any site could then read what a signed-in browser is answered
        raise ValueError("CORS_ORIGINS=* is refused in production: list the apps' origins")


def _production_base_url(url: str | None) -> None:
    if not url:
        raise ValueError("PUBLIC_BASE_URL is required in production")
    if not url.startswith("https://"):
        # the session cookie is `Secure`, and file URLs would be fetched in the clear
        raise ValueError("PUBLIC_BASE_URL must be an https:// URL in production")
