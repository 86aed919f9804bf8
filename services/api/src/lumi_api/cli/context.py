"""What the commands share once they run: settings, connections that fail with one clear line,
stream names, output. Imported by command handlers, never by `lumi --help`; SQLAlchemy is
imported only by `database()`, for the commands that write."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings
from redis.exceptions import RedisError

from lumi_api.cli.errors import CliError, ExitCode, redis_unreachable, unknown_stream
from lumi_common import jsonx
from lumi_common.db import probe
from lumi_common.redis_client import RedisClient, create_redis
from lumi_common.settings import (
    DatabaseSettings,
    JobSettings,
    LogSettings,
    MetricsSettings,
    RedisSettings,
    RelaySettings,
    describe_errors,
)
from lumi_common.streams.names import JOB_STREAMS
from lumi_common.urls import redact_url

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from lumi_common.jobs.kinds import JobKind

# what operators type for each job stream (`image` for `image-jobs`); full names work too
STREAMS = {stream.removesuffix("-jobs"): stream for stream in JOB_STREAMS}
S = TypeVar("S", bound=BaseSettings)


class OpsSettings(LogSettings, DatabaseSettings, RedisSettings, JobSettings, RelaySettings):
    pass


class RelayProcessSettings(OpsSettings, MetricsSettings):
    """`lumi relay` as its own long-running process: a probe and /metrics like a worker's."""

    health_port: int = Field(default=0, ge=0, le=65535)


def load(cls: type[S]) -> S:
    """Settings from the environment, or one line naming every invalid variable."""
    try:
        return cls()
    except ValidationError as error:
        problems = "; ".join(line.split(": ", 1)[1] for line in describe_errors(error))
        raise CliError(
            ExitCode.CONFIG,
            f"invalid configuration: {problems}",
            "fix the environment (docs/configuration.md)",
        ) from error


def resolve_stream(name: str) -> str:
    if name in STREAMS:
        return STREAMS[name]
    if name in JOB_STREAMS:
        return name
    raise unknown_stream(name, list(STREAMS))


@asynccontextmanager
async def redis(settings: RedisSettings) -> AsyncIterator[RedisClient]:
    """A client that answered a PING, or `CliError` naming the URL (without its password)."""
    client = create_redis(settings)
    try:
        try:
            await client.ping()
        except (RedisError, OSError) as error:
            raise redis_unreachable(redact_url(settings.redis_url), str(error)) from error
        yield client
    finally:
        await client.aclose()


@asynccontextmanager
async def checked_probe(settings: DatabaseSettings) -> AsyncIterator[probe.Probe]:
    """A driver connection to a database at this code's schema revision (`lumi_common.db.probe`
    raises what the operator has to fix otherwise)."""
    async with probe.connect(settings) as connection:
        await connection.require_schema()
        yield connection


@asynccontextmanager
async def database(settings: DatabaseSettings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on a reachable database at this code's schema revision (checked first, without
    SQLAlchemy, so a wrong URL or a missing migration is one clear line)."""
    async with checked_probe(settings):
        pass
    from lumi_common.db.engine import create_engine, create_sessionmaker

    engine = create_engine(settings, pooled=False)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


def job_kind(settings: JobSettings, stream: str) -> JobKind[Any, Any]:
    """What replaying a letter of `stream` means for the database."""
    from lumi_common.pipeline.kinds import REPLAYABLE_STREAMS, replayable_kind

    kind = replayable_kind(stream, lease=timedelta(seconds=settings.job_lease_seconds))
    if kind is None:
        raise CliError(
            ExitCode.UNKNOWN_STREAM,
            f"this lumi cannot replay {stream} letters",
            f"replay {' or '.join(k.removesuffix('-jobs') for k in REPLAYABLE_STREAMS)} letters",
        )
    return kind


def emit(rows: Sequence[dict[str, Any]], *, as_json: bool, columns: Sequence[str]) -> None:
    """Rows as a table for people, or as JSON for scripts."""
    if as_json:
        print_json(list(rows))
        return
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(c), *(len(line[i]) for line in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)) for line in cells]
    sys.stdout.write("\n".join(line.rstrip() for line in lines) + "\n")


def print_json(value: Any) -> None:
    sys.stdout.write(jsonx.dumps_str(value) + "\n")


def say(line: str) -> None:
    """A line for people on stdout (summaries)."""
    sys.stdout.write(line + "\n")


def _cell(value: Any) -> str:
    text = "-" if value is None else str(value)
    return text if len(text) <= 80 else text[:77] + "..."
