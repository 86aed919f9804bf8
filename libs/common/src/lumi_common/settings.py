"""Reusable settings pieces. Each service composes its own `BaseSettings` class from them.

Every field is read from the environment variable of the same name in upper case
(`database_url` ← `DATABASE_URL`). `load_settings` validates once at start-up and turns a bad
value into one clear line and a non-zero exit.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, NoReturn, Self, TypeVar

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from lumi_common.i18n import FALLBACK_LOCALE, Locale, negotiate, set_default_locale
from lumi_common.redis_url import parse_cluster_url
from lumi_common.secret_strength import GENERATE_HINT, weakness
from lumi_common.storage_url import (
    DEFAULT_STORAGE_DIR,
    LocalLocation,
    StorageLocation,
    parse_storage_url,
)

EXIT_CONFIG_ERROR = 2
DEFAULT_DATA_DIR = Path(".lumi")
# where a process that is not the API finds it when PUBLIC_BASE_URL is unset (its default port)
DEFAULT_API_URL = "http://127.0.0.1:3000"

_DRIVERS = {
    "mysql": "mysql+aiomysql",
    "mariadb": "mysql+aiomysql",
    "mysql+aiomysql": "mysql+aiomysql",
    "mariadb+aiomysql": "mysql+aiomysql",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


class AppEnv(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class LumiSettings(BaseSettings):
    """Root of every settings class: environment only, validated eagerly, immutable."""

    model_config = SettingsConfigDict(
        case_sensitive=False, extra="ignore", frozen=True, validate_default=True
    )

    app_env: AppEnv = AppEnv.DEVELOPMENT
    # the language of client-facing sentences when a request asks for none we have (the apps
    # send no Accept-Language and expect Chinese), and of webhook payloads
    default_locale: Locale = FALLBACK_LOCALE

    @property
    def is_production(self) -> bool:
        return self.app_env is AppEnv.PRODUCTION

    @field_validator("default_locale", mode="before")
    @classmethod
    def _locale_spelling(cls, value: object) -> object:
        """`zh`, `zh-cn` or `zh_CN` name the one Chinese we have; `en-US` is English."""
        if isinstance(value, str):
            spelled = value.strip().replace("_", "-")
            if spelled.split("-")[0].lower() in ("zh", "en"):
                return negotiate(spelled, FALLBACK_LOCALE)
        return value


class LogSettings(LumiSettings):
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # auto: JSON lines everywhere but development, where a readable console is nicer
    log_format: Literal["auto", "json", "console"] = "auto"

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _normalise_case(cls, value: object, info: object) -> object:
        if not isinstance(value, str):
            return value
        return value.upper() if getattr(info, "field_name", "") == "log_level" else value.lower()

    @property
    def renders_json(self) -> bool:
        if self.log_format == "auto":
            return self.app_env is not AppEnv.DEVELOPMENT
        return self.log_format == "json"


class DatabaseSettings(LumiSettings):
    database_url: str = f"sqlite+aiosqlite:///{DEFAULT_DATA_DIR}/lumi.db"
    db_pool_size: int = Field(default=10, ge=1, le=500)
    db_max_overflow: int = Field(default=10, ge=0, le=500)
    db_pool_timeout: float = Field(default=10.0, gt=0, le=300)
    # MariaDB/MySQL: the longest a service waits for any answer of the server (a statement, a
    # COMMIT, connecting); past it the connection is dropped as lost (a hung server)
    db_statement_timeout_seconds: float = Field(default=5.0, gt=0, le=3600)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        scheme, sep, rest = value.partition("://")
        driver = _DRIVERS.get(scheme.lower())
        if not sep or driver is None:
            raise ValueError("must be a mysql://, mariadb:// or sqlite:/// URL")
        return f"{driver}://{rest}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")


class RedisSettings(LumiSettings):
    # one server (`redis://`, `rediss://`, `unix://`) or a Redis Cluster: `redis+cluster://` (or
    # `rediss+cluster://`) with one or more seed nodes `host:port,host:port`, or a plain URL
    # naming one seed node with `REDIS_CLUSTER=true` (declared first: the URL's check reads it)
    redis_cluster: bool = False
    redis_url: str = "redis://127.0.0.1:6379/0"
    # prefix of every Redis key this deployment owns; tests give each run its own
    redis_key_prefix: str = Field(default="lumi", pattern=r"^[A-Za-z0-9_.-]{1,40}$")

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("redis_cluster") or value.startswith(CLUSTER_SCHEMES):
            parse_cluster_url(value)  # seed nodes, ports and database checked once
        elif not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(
                "must be a redis://, rediss://, unix://, redis+cluster:// or rediss+cluster:// URL"
            )
        return value

    @property
    def is_redis_cluster(self) -> bool:
        return self.redis_cluster or self.redis_url.startswith(CLUSTER_SCHEMES)


class StorageSettings(LumiSettings):
    """Where files live (`lumi_common.storage.open_storage` builds the backend from these)."""

    # file:///path (a local folder) or s3://bucket/prefix; unset: the folder below
    storage_url: str | None = None
    # deprecated alias of STORAGE_URL=file://<dir>, still honoured (a warning is logged)
    storage_dir: Path | None = None
    # S3-compatible services other than AWS name their endpoint (http://minio:9000, moto, …)
    s3_endpoint_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    # the endpoint as browsers and providers reach it, when they cannot use S3_ENDPOINT_URL
    # (a private network's name): presigned URLs are made for it
    s3_public_endpoint_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    # bucket in the path (http://host/bucket/key): what most self-hosted S3 servers need
    s3_force_path_style: bool = False
    # the API's public address: file URLs it returns, and what local signed URLs point at
    public_base_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    # the path under which returned file URLs point at the API (both paths are always served):
    # /api/proxy/files/ is what the web app's image optimizer allows
    files_path_prefix: Literal["/files/", "/api/proxy/files/"] = "/files/"
    # signs the API's short-lived file URLs (private models, unchosen images); required in
    # production, made once under ./.lumi/ otherwise
    file_url_secret: SecretStr | None = Field(default=None, min_length=32)

    @field_validator("storage_url")
    @classmethod
    def _storage_scheme(cls, value: str | None) -> str | None:
        if value is not None:
            parse_storage_url(value)
        return value

    @model_validator(mode="after")
    def _one_storage(self) -> Self:
        if self.storage_url is not None and self.storage_dir is not None:
            raise ValueError("set STORAGE_URL or the deprecated STORAGE_DIR, not both")
        return self

    @model_validator(mode="after")
    def _strong_file_url_secret(self) -> Self:
        # the API requires it in production (`lumi_api.settings`); whoever signs with it, a
        # plainly weak one lets anyone forge a private file's URL
        if self.is_production and self.file_url_secret is not None:
            refuse_weak_secret("FILE_URL_SECRET", self.file_url_secret)
        return self

    @property
    def storage_location(self) -> StorageLocation:
        if self.storage_url is not None:
            return parse_storage_url(self.storage_url)
        return LocalLocation(self.storage_dir or DEFAULT_STORAGE_DIR)

    @property
    def api_files_url(self) -> str:
        """Where the API serves files, ending with `/`: `https://api.example.com/files/`."""
        base = (self.public_base_url or DEFAULT_API_URL).rstrip("/")
        return base + self.files_path_prefix


class SigningSettings(LumiSettings):
    """For services that sign anything (session cookies). There is no default on purpose."""

    cookie_secret: SecretStr = Field(min_length=32)

    @model_validator(mode="after")
    def _strong_in_production(self) -> Self:
        if self.is_production:
            refuse_weak_secret("COOKIE_SECRET", self.cookie_secret)
        return self


def refuse_weak_secret(name: str, secret: SecretStr) -> None:
    """For production: a secret that is plainly weak (`"s" * 32`) is a configuration error."""
    reason = weakness(secret.get_secret_value())
    if reason is not None:
        raise ValueError(f"{name} {reason}: generate one with {GENERATE_HINT}")


class JobSettings(LumiSettings):
    job_max_attempts: int = Field(default=3, ge=1, le=50)
    # a killed worker's jobs resume about one lease (+ up to 1 s) later: within 30 s
    job_lease_seconds: float = Field(default=25.0, ge=1, le=3600)
    job_retry_base_seconds: float = Field(default=2.0, gt=0, le=3600)
    job_retry_max_seconds: float = Field(default=300.0, gt=0, le=86400)
    # a message delivered more often than this without an outcome is poison (or a crash loop)
    job_max_deliveries: int = Field(default=10, ge=2, le=1000)
    reconcile_after_seconds: float = Field(default=600.0, ge=1)


class MetricsSettings(LumiSettings):
    # Prometheus metrics at /metrics (the API) and on HEALTH_PORT (workers); off only to
    # measure what they cost
    metrics_enabled: bool = True
    # scrapes within this long of a read of Redis and the database (stream and outbox gauges)
    # answer from it: several Prometheus replicas scraping together cost one read
    metrics_cache_seconds: float = Field(default=2.0, ge=0, le=60)


class WorkerSettings(
    LogSettings, DatabaseSettings, RedisSettings, StorageSettings, JobSettings, MetricsSettings
):
    """What every worker process needs; each worker adds its stream's concurrency and limits."""

    health_port: int = Field(default=0, ge=0, le=65535)
    shutdown_grace_seconds: float = Field(default=30.0, ge=0, le=600)


class RelaySettings(LumiSettings):
    relay_enabled: bool = True
    relay_batch_size: int = Field(default=200, ge=1, le=5000)
    # how often the relay looks for due rows when no local commit woke it (delayed events)
    relay_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    # under load, the shortest time between the starts of two publish cycles (0 = no wait)
    relay_coalesce_seconds: float = Field(default=0.005, ge=0, le=1)
    outbox_retention_hours: float = Field(default=24.0, gt=0)
    # expired or revoked login codes and tokens are deleted by the same sweep this long after
    auth_rows_retention_hours: float = Field(default=24.0, gt=0, le=24 * 365)


def split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CsvList = Annotated[list[str], NoDecode]

S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S]) -> S:
    """Build settings from the environment, or exit with one line per invalid variable."""
    try:
        settings = cls()
    except ValidationError as error:
        _exit_with(error)
    if isinstance(settings, LumiSettings):
        set_default_locale(settings.default_locale)
    return settings


def describe_errors(error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"]).upper() or "SETTINGS"
        reason = "is required" if item["type"] == "missing" else item["msg"]
        lines.append(f"configuration error: {name}: {reason}")
    return lines


def _exit_with(error: ValidationError) -> NoReturn:
    for line in describe_errors(error):
        print(line, file=sys.stderr)  # noqa: T201 - logging is not configured yet
    raise SystemExit(EXIT_CONFIG_ERROR)
