"""What operator commands share: settings from the environment, connections, output."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lumi_common import jsonx
from lumi_common.db.engine import create_engine, create_sessionmaker
from lumi_common.jobs.kinds import JobKind
from lumi_common.pipeline.images import ImageJobs
from lumi_common.pipeline.models import ModelJobs
from lumi_common.redis_client import create_redis
from lumi_common.settings import (
    DatabaseSettings,
    JobSettings,
    LogSettings,
    RedisSettings,
    RelaySettings,
    load_settings,
)
from lumi_common.streams.names import IMAGE_JOBS, MODEL_JOBS

STREAM_CHOICES = {"image": IMAGE_JOBS, "model": MODEL_JOBS}


class OpsSettings(LogSettings, DatabaseSettings, RedisSettings, JobSettings, RelaySettings):
    pass


@dataclass(frozen=True)
class Ops:
    settings: OpsSettings
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis

    def kind(self, stream: str) -> JobKind:
        lease = timedelta(seconds=self.settings.job_lease_seconds)
        return ImageJobs(lease=lease) if stream == IMAGE_JOBS else ModelJobs(lease=lease)


@asynccontextmanager
async def connect() -> AsyncIterator[Ops]:
    settings = load_settings(OpsSettings)
    engine = create_engine(settings, pooled=False)
    redis = create_redis(settings)
    try:
        yield Ops(settings, create_sessionmaker(engine), redis)
    finally:
        await redis.aclose()
        await engine.dispose()


def emit(rows: Sequence[dict[str, Any]], *, as_json: bool, columns: Sequence[str]) -> None:
    """Rows as a table for people, or as JSON for scripts."""
    if as_json:
        sys.stdout.write(jsonx.dumps_str(list(rows)) + "\n")
        return
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(c), *(len(line[i]) for line in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)) for line in cells]
    sys.stdout.write("\n".join(line.rstrip() for line in lines) + "\n")


def _cell(value: Any) -> str:
    text = "-" if value is None else str(value)
    return text if len(text) <= 80 else text[:77] + "..."
